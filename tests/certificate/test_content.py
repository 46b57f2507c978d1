"""The certificate's content and HTML from named vectors: words, escaping, determinism, bounds.

No browser and no warehouse: a model 3 vector as the weekly job publishes it (home 8 of the
demo, a cold damp house in Madrid), rendered by the real Jinja2 templates.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any

import pytest

from livability.certificate import content, render, rooms
from livability.certificate.content import CertificateError, band_of, interval_words

WEEK = date(2026, 11, 23)
VECTOR: dict[str, Any] = {
    "week_start": WEEK,
    "home_id": 8,
    "model_version": "3.0.0",
    "computed_at": datetime(2026, 12, 5, 20, 50, 40, tzinfo=UTC),
    "score": 38.4,
    "grade": "F",
    "coverage": 1.0,
    "readings": 1008,
    "heating_season": True,
    "outdoor_temperature_mean": 8.36,
    "temperature_mean": 14.93,
    "humidity_mean": 67.12,
    "hours_below_18c": 168.0,
    "hours_above_70rh": 46.0,
    "cold_hazard": 38.4,
    "heat_hazard": 100.0,
    "damp_hazard": 97.0,
    "comfort": 0.0,
    "score_low": 30.7,
    "score_high": 46.5,
    "provisional": False,
    "flags": None,
    "sensors": 1,
    "cold_degree_hours": 516.4,
    "heat_exceedance_hours": 0.0,
    "night_hours_above_26c": 0.0,
    "surface_rh_mean": 74.77,
    "mould_hours": 30.0,
    "condensation_hours": 0.0,
    "time_zone": "Europe/Madrid",
    "week_hours": 168.0,
    "reading_interval_s": 600.0,
    "hours_above_32c": 0.0,
}
# Two rooms of one home, as scoring.ranges returns them (MACs chosen to be findable).
MAC_BEDROOM, MAC_BATH = 0xA4C138AABBCC, 0xA4C138DDEEFF
RANGES = [
    {"home_id": 8, "mac": mac, "d": d, "room": room, "t_min": 12.0 + d / 10, "t_max": 16.5,
     "rh_min": 55.0, "rh_max": 80.0, "t_out_min": 4.0, "t_out_max": 11.0 + d, "hours": 24,
     "cold_hours": 24 if room == "bedroom" else 10, "heat_hours": 0,
     "damp_hours": 5 if room == "bathroom" else 0}
    for mac, room in ((MAC_BATH, "bathroom"), (MAC_BEDROOM, "bedroom"))
    for d in range(7)
]  # fmt: skip
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def history(scores: list[float | None]) -> list[dict[str, Any]]:
    """Earlier weeks of the home, oldest first, ending the week before WEEK."""
    n = len(scores)
    return [
        {"week_start": WEEK - timedelta(weeks=n - i), "home_id": 8, "score": s,
         "grade": band_of(s), "provisional": False, "flags": None}
        for i, s in enumerate(scores)
    ]  # fmt: skip


def words(markup: str) -> str:
    """The page's text as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", markup)))


def page(vector: dict[str, Any] = VECTOR, **kwargs: Any) -> str:
    measured, outdoor = rooms.rooms_of(RANGES)
    return render.home_page(content.certificate(vector, measured, outdoor, **kwargs))


def test_bands_and_interval_in_words() -> None:
    assert [band_of(s) for s in (92, 91.9, 81, 69, 55, 39, 21, 20.9, None)] == [
        "A", "B", "B", "C", "D", "E", "F", "G", None,
    ]  # fmt: skip
    assert interval_words(30.7, 46.5) == "between E and F"
    assert interval_words(82.0, 90.0) == "within B"
    assert interval_words(None, 50.0) == "no interval"


def test_the_page_says_grade_interval_hazards_and_worst_rooms() -> None:
    markup = page()
    text = words(markup)
    assert "Grade F , score 38.4 : with the measurements' uncertainty, between E and F" in text
    assert "the bedroom was below 18 °C for 168 of the week's 168 hours" in text
    assert "(worst room: bedroom)" in text
    assert "the coldest corner of the bathroom was damp enough for mould for 30 hours" in text
    assert "no bedroom was above 26 °C at night and no room above 32 °C" in text
    assert "Europe/Madrid" in text
    assert "Provisional" not in text
    assert 'href="docs/scoring.md"' in markup


def test_rooms_are_named_by_type_and_numbered_when_a_type_repeats() -> None:
    two = [dict(r, room="bedroom") for r in RANGES]
    measured, outdoor = rooms.rooms_of(two)
    assert [r.label for r in measured] == ["bedroom 1", "bedroom 2"]
    assert outdoor[3] == (4.0, 14.0)
    untyped, _ = rooms.rooms_of([dict(r, room=None) for r in RANGES[:7]])
    assert [r.label for r in untyped] == ["room"]


def test_a_provisional_week_says_why() -> None:
    vector = {**VECTOR, "grade": None, "provisional": True, "coverage": 0.55,
              "flags": "low_coverage,mould_criterion"}  # fmt: skip
    text = words(page(vector))
    assert "Not graded this week" in text
    assert "less than 70 % of the week was measured" in text
    assert "the coldest surface was at 80 % humidity or more for half the week" in text
    assert "55 % of the week measured" in text


def test_certificate_grade_needs_8_graded_weeks_of_12() -> None:
    seven = content.certificate(VECTOR, history=history([50.0] * 6 + [None]))
    assert seven.summary is None
    eight = content.certificate(VECTOR, history=history([None, 60.0, 50.0] + [45.0] * 5))
    assert eight.summary is not None
    assert (eight.summary.weeks, eight.summary.graded, eight.summary.grade) == (9, 8, "E")
    assert eight.summary.score == pytest.approx((60 + 50 + 45 * 5 + 38.4) / 8, abs=0.05)
    assert (eight.summary.low, eight.summary.high) == (38.4, 60.0)
    assert "at least 8 of them were graded" in eight.summary.rule
    # Only the last 12 weeks count.
    old = content.certificate(VECTOR, history=history([90.0] * 3 + [None] * 11))
    assert len(old.history) == 12
    assert old.summary is None


def test_hostile_strings_are_escaped_everywhere() -> None:
    vector = {**VECTOR, "flags": f"hot_days,{HOSTILE.replace(',', ' ')}", "time_zone": HOSTILE,
              "model_version": HOSTILE}  # fmt: skip
    markup = page(vector, label=HOSTILE)
    assert "<script" not in markup
    assert "<img" not in markup
    assert "onerror=alert(1)>" not in markup
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in markup
    index = render.index_page(
        [content.certificate(vector, label=HOSTILE)], {}, {8: content.flags_of(vector)}
    )
    assert "<script" not in index
    assert "<img" not in index
    assert "&lt;img src=x onerror=alert(1)&gt;" in index


def test_same_vectors_give_byte_identical_pages() -> None:
    first = page(history=history([61.5, 53.2]))
    second = page(history=history([61.5, 53.2]))
    assert first.encode() == second.encode()
    assert page(history=history([61.5, 53.3])) != first  # and the input does matter


def test_no_mac_hourly_series_or_coordinates_on_the_page() -> None:
    markup = page()
    for mac in (MAC_BEDROOM, MAC_BATH):
        colons = ":".join(re.findall("..", f"{mac:012x}"))
        for form in (str(mac), f"{mac:012x}", colons):
            assert form not in markup.lower()
    # One bar per room and day, and one per outdoor day: never more than daily values.
    assert markup.count("<rect") == 2 * 7 + 7 + 7  # rooms, outdoor, the trend's 7 bands
    assert "POINT(" not in markup


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grade": "Z"}, "grade: 'Z' is not one of A, B, C, D, E, F, G"),
        ({"score": 120.0}, "score: 120.0 is outside 0.0..100.0"),
        ({"coverage": float("nan")}, "coverage: nan is not a number"),
        ({"time_zone": "x" * 201}, f"time_zone: {'x' * 40!r}... is over 200"),
    ],
)  # fmt: skip
def test_bad_vectors_are_refused_naming_field_and_value(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(CertificateError, match=re.escape(message)):
        content.certificate({**VECTOR, **change})


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(CertificateError, match=r"rooms: 13 sensors, at most 12"):
        rooms.rooms_of([dict(RANGES[0], mac=m) for m in range(13)])
    with pytest.raises(CertificateError, match=r"d: 7 is not a local day"):
        rooms.rooms_of([dict(RANGES[0], d=7)])
    with pytest.raises(CertificateError, match=r"room: 'attic' is not one of bedroom"):
        rooms.rooms_of([dict(RANGES[0], room="attic")])


def test_portfolio_sorts_by_risk_counts_bands_and_finds_rising_flags() -> None:
    certs = [
        content.certificate({**VECTOR, "home_id": 1, "score": 95.0, "grade": "A",
                             "cold_hazard": 99.0, "damp_hazard": 99.0}),
        content.certificate(VECTOR, history=history([45.0])),  # home 8: cold 38.4
        content.certificate({**VECTOR, "home_id": 3, "score": 70.0, "grade": "C",
                             "cold_hazard": 100.0, "heat_hazard": 60.0,
                             "flags": "hot_nights"}),
    ]  # fmt: skip
    markup = render.index_page(certs, {3: ()}, {1: (), 8: (), 3: ("hot_nights",)})
    order = re.findall(r'<a href="(\d+)\.html">', markup)
    assert order == ["8", "3", "1"]
    assert '<tr class="cold">' in markup
    assert '<tr class="heat">' in markup
    assert "#f-cold:target tbody tr:not(.cold) { display: none; }" in markup
    text = words(markup)
    assert "hot_nights (heat): a bedroom above 26 °C" in text
    assert "0 → 1 homes" in text
    assert "down 6.6" in text  # home 8 fell from 45.0 to 38.4
    assert "<script" not in markup


def test_portfolio_lists_the_riskiest_homes_and_counts_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(render, "MAX_INDEX_HOMES", 2)
    certs = [
        content.certificate({**VECTOR, "home_id": home, "cold_hazard": cold})
        for home, cold in ((1, 90.0), (2, 30.0), (3, 60.0))
    ]
    markup = render.index_page(certs, {}, {})
    assert re.findall(r'<a href="(\d+)\.html">', markup) == ["2", "3"]
    text = words(markup)
    assert "3 home(s), riskiest first" in text
    assert "1 less risky home(s) not listed" in text


def test_portfolio_shows_the_fleet_state_escaped_and_only_when_checked() -> None:
    certs = [content.certificate({**VECTOR, "home_id": home}) for home in (1, 2)]
    assert "Fleet" not in render.index_page(certs, {}, {})
    fleet = content.FleetState(
        datetime(2026, 11, 30, 3, tzinfo=UTC),
        "2 home(s); silent gateways (> 3 h): 1",
        {2: "gateway silent since 2026-11-29 07:00 UTC; <b>a sensor</b> at 4 % battery"},
    )
    markup = render.index_page(certs, {}, {}, fleet)
    text = words(markup)
    assert "Checked 2026-11-30 03:00 UTC: 2 home(s); silent gateways (> 3 h): 1." in text
    cells = re.findall(r"<tr class=\"[^\"]*\">.*?</tr>", markup, flags=re.S)
    home = {re.search(r'href="(\d+)\.html"', c).group(1): c for c in cells}  # type: ignore[union-attr]
    assert "<td>reporting</td>" in home["1"]
    assert "gateway silent since 2026-11-29 07:00 UTC" in home["2"]
    assert "<b>" not in markup
    assert "&lt;b&gt;a sensor&lt;/b&gt;" in markup
