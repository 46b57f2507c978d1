"""What a certificate says, from a home's score vectors: words and numbers, no markup.

Pure functions of the vectors (`schemas/livability_scores.json`, model 3 columns), the
home's daily ranges per room (`scoring/ranges.py`) and its earlier weeks: the same inputs
always give the same `Certificate`. Nothing here can reveal when people are at home: rooms
are named by type, the area is the time zone, and no hourly value or MAC is kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from scoring import thresholds as th

# Bounds of what one page takes (a larger input is refused, naming the field).
MAX_ROOMS = 12
MAX_HISTORY_WEEKS = 12  # the trend and the certificate grade look back this far
MIN_CERTIFIED_WEEKS = 8  # graded weeks of the last 12 needed for a certificate grade
MAX_TEXT = 200  # characters of any free text (a label, a flag, a time zone)
GRADES = (*tuple(name for name, _ in th.GRADE_BANDS), th.LOWEST_GRADE)
# EPC colours of the bands, and the text colour that reads on each (contrast >= 4.5).
COLOURS = {
    "A": ("#008054", "#ffffff"),
    "B": ("#19b459", "#000000"),
    "C": ("#8dce46", "#000000"),
    "D": ("#ffd500", "#000000"),
    "E": ("#fcaa65", "#000000"),
    "F": ("#ef8023", "#000000"),
    "G": ("#e9153b", "#000000"),
}
# A hazard is a finding (the portfolio's filter) when its score is below band B.
FINDING_BELOW = th.GRADE_BANDS[1][1]
HAZARDS = ("cold", "heat", "damp")
# Which flags belong to which hazard (the portfolio's "rising" summary groups by them).
FLAG_TEXT: Mapping[str, str] = {
    "low_coverage": "less than 70 % of the week was measured",
    "wide_interval": "the interval spans more than two grades",
    "no_weather": "no outdoor weather within 50 km",
    "no_location": "the home has no location, so no weather",
    "several_sensors": "the home has several sensors; each hazard is its worst room's",
    "mould_criterion": "the coldest surface was at 80 % humidity or more for half the week",
    "condensation": "the coldest surface reached the dew point (condensation)",
    "damp_from_moisture": "the damp comes mostly from moisture in the air (ventilation)",
    "damp_from_underheating": "the damp comes mostly from cold surfaces (under-heating)",
    "slow_moisture_recovery": "a bathroom or kitchen stayed humid long after its peaks",
    "tm52_exceedance": "too many hours above the adaptive comfort limit (CIBSE TM52)",
    "tm52_daily_exceedance": "a day too far above the adaptive limit (CIBSE TM52)",
    "tm52_upper_limit": "hours 4 K or more above the adaptive limit (CIBSE TM52)",
    "tm52_overheating": "two or more of TM52's overheating criteria failed",
    "hot_nights": "a bedroom above 26 °C for more than 1 % of the night hours (CIBSE TM59)",
    "hot_days": "a room above 32 °C (WHO's day limit)",
    "dry_air": "the air was below 25 % humidity for more than a tenth of the week",
}
PROVISIONAL_FLAGS = ("low_coverage", "no_weather", "no_location", "wide_interval")
FLAG_HAZARD: Mapping[str, str] = {
    "mould_criterion": "damp",
    "condensation": "damp",
    "damp_from_moisture": "damp",
    "damp_from_underheating": "damp",
    "slow_moisture_recovery": "damp",
    "tm52_exceedance": "heat",
    "tm52_daily_exceedance": "heat",
    "tm52_upper_limit": "heat",
    "tm52_overheating": "heat",
    "hot_nights": "heat",
    "hot_days": "heat",
}


class CertificateError(ValueError):
    """A vector or range the certificate cannot show; the message names field and value."""


@dataclass(frozen=True)
class Band:
    letter: str
    low: float  # lowest score of the band
    background: str
    text: str
    current: bool


@dataclass(frozen=True)
class Hazard:
    key: str  # cold, heat, damp, comfort
    name: str
    score: float | None
    band: str | None
    quantity: str  # the measured quantity behind it
    threshold: str  # the standard's threshold
    meaning: str  # one line in plain language
    room: str | None  # the worst room, by type


@dataclass(frozen=True)
class Week:
    week_start: date
    score: float | None
    grade: str | None
    provisional: bool


@dataclass(frozen=True)
class Summary:
    """The certificate grade over the last 12 weeks, when at least 8 were graded."""

    weeks: int
    graded: int
    score: float
    grade: str
    low: float
    high: float
    interval_words: str
    rule: str


@dataclass(frozen=True)
class FleetState:
    """The fleet check's state at publishing (`livability fleet`), for the portfolio page: when
    it was checked, its one-line summary, and a short problem per home (silent gateway, low
    battery); a home not in `problems` reported normally. Built by the entry points, which
    run the check; this package never queries it."""

    checked_at: datetime
    summary: str
    problems: Mapping[int, str]


@dataclass(frozen=True)
class Room:
    label: str  # "bedroom", "bedroom 2": the type, never the sensor
    days: tuple[tuple[float, float] | None, ...]  # per local day, (min, max) of hourly means
    cold_hours: float
    heat_hours: float
    damp_hours: float


@dataclass(frozen=True)
class Certificate:
    home_id: int
    label: str
    week_start: date
    week_end: date
    model_version: str
    grade: str | None
    score: float | None
    score_low: float | None
    score_high: float | None
    interval_words: str
    provisional: bool
    reasons: tuple[str, ...]
    ladder: tuple[Band, ...]
    hazards: tuple[Hazard, ...]
    findings: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    provenance: tuple[tuple[str, str], ...]
    rooms: tuple[Room, ...]
    outdoor: tuple[tuple[float, float] | None, ...]
    history: tuple[Week, ...]
    summary: Summary | None


def band_of(score: float | None) -> str | None:
    """The EPC band of a score (the model's bands, `scoring/thresholds.py`)."""
    if score is None:
        return None
    for name, lower in th.GRADE_BANDS:
        if score >= lower:
            return name
    return th.LOWEST_GRADE


def interval_words(low: float | None, high: float | None) -> str:
    """ "between C and D", "within B"; the better band first."""
    top, bottom = band_of(high), band_of(low)
    if top is None or bottom is None:
        return "no interval"
    return f"within {top}" if top == bottom else f"between {top} and {bottom}"


def text(field: str, value: object) -> str:
    """A free-text field, bounded; markup is escaped by the templates, not here."""
    if not isinstance(value, str):
        raise CertificateError(f"{field}: {value!r} is not text")
    if len(value) > MAX_TEXT:
        raise CertificateError(f"{field}: {value[:40]!r}... is over {MAX_TEXT} characters")
    return value


def number(field: str, value: object, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise CertificateError(f"{field}: {value!r} is not a number")
    if not low <= value <= high:
        raise CertificateError(f"{field}: {value!r} is outside {low}..{high}")
    return float(value)


def flags_of(vector: Mapping[str, Any]) -> tuple[str, ...]:
    raw = vector.get("flags")
    if raw is None:
        return ()
    return tuple(f for f in text("flags", raw).split(",") if f)


def flag_words(flag: str) -> str:
    return FLAG_TEXT.get(flag, flag)


def hours(value: float | None) -> str:
    """Hours as a person reads them: whole from 10, one decimal below, "0" for none."""
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def _said(value: object, some: str, none: str) -> str:
    """`some` when the measured hours are above zero, else `none`."""
    return some if isinstance(value, int | float) and value > 0 else none


def _hazard_lines(
    v: Mapping[str, Any], rooms: Sequence[Room], week_hours: str
) -> tuple[Hazard, ...]:
    def worst(attr: str) -> str | None:
        ranked = sorted(rooms, key=lambda r: -getattr(r, attr))
        return ranked[0].label if ranked and getattr(ranked[0], attr) > 0 else None

    def score(key: str) -> float | None:
        return number(key, v.get(key), 0.0, 100.0)

    cold_room, heat_room, damp_room = worst("cold_hours"), worst("heat_hours"), worst("damp_hours")
    cold_h, night_h = v.get("hours_below_18c"), v.get("night_hours_above_26c")
    hot_h, mould_h = v.get("hours_above_32c"), v.get("mould_hours")
    surface = v.get("surface_rh_mean")
    comfort = score("comfort")
    return (
        Hazard(
            "cold",
            "Cold",
            score("cold_hazard"),
            band_of(score("cold_hazard")),
            f"{hours(cold_h)} measured hours below 18 °C; "
            f"{hours(v.get('cold_degree_hours'))} degree-hours below it",
            "18 °C in every room (WHO Housing and Health Guidelines, 2018)",
            _said(
                cold_h,
                f"the {cold_room or 'coldest room'} was below 18 °C for {hours(cold_h)} "
                f"of the week's {week_hours} hours",
                "no room was below 18 °C in the measured hours",
            ),
            cold_room,
        ),
        Hazard(
            "heat",
            "Heat",
            score("heat_hazard"),
            band_of(score("heat_hazard")),
            f"{hours(night_h)} night hours above 26 °C; {hours(hot_h)} hours above 32 °C",
            "26 °C in bedrooms at night (CIBSE TM59); 32 °C by day (WHO Europe)",
            _said(
                (night_h or 0) + (hot_h or 0),
                f"the {heat_room or 'warmest room'} stayed above 26 °C for {hours(night_h)} "
                f"nights' hours and above 32 °C for {hours(hot_h)} hours",
                "no bedroom was above 26 °C at night and no room above 32 °C",
            ),
            heat_room,
        ),
        Hazard(
            "damp",
            "Damp and mould",
            score("damp_hazard"),
            band_of(score("damp_hazard")),
            f"{hours(mould_h)} hours with the coldest surface at 80 % humidity or more; "
            f"mean {'-' if surface is None else f'{surface:.0f}'} %",
            "80 % humidity at the coldest surface (BS EN ISO 13788)",
            _said(
                mould_h,
                f"the coldest corner of the {damp_room or 'dampest room'} was damp enough for "
                f"mould for {hours(mould_h)} hours",
                "no surface was damp enough for mould",
            ),
            damp_room,
        ),
        Hazard(
            "comfort",
            "Comfort",
            comfort,
            band_of(comfort),
            "time within the comfortable range, worst room",
            "EN 16798-1 category II, adaptive to the outdoor temperature",
            "the worst room was comfortable "
            f"{'-' if comfort is None else f'{comfort:.0f}'} % of the time",
            None,
        ),
    )


def summary(history: Sequence[Week]) -> Summary | None:
    """Mean of the graded weekly scores of the last 12 weeks, when at least 8 were graded."""
    graded = [w for w in history if w.grade is not None and w.score is not None]
    if len(graded) < MIN_CERTIFIED_WEEKS:
        return None
    mean = round(sum(w.score for w in graded if w.score is not None) / len(graded), 1)
    spread = [w.score for w in graded if w.score is not None]
    low, high = min(spread), max(spread)
    grade = band_of(mean)
    assert grade is not None
    rule = (
        f"The certificate grade is the band of the mean of the graded weekly scores of the "
        f"last {MAX_HISTORY_WEEKS} weeks, given when at least {MIN_CERTIFIED_WEEKS} of them "
        "were graded; its interval is the range of those weekly scores."
    )
    return Summary(
        len(history), len(graded), mean, grade, low, high, interval_words(low, high), rule
    )


def ladder(grade: str | None) -> tuple[Band, ...]:
    bounds = [*th.GRADE_BANDS, (th.LOWEST_GRADE, 0.0)]
    return tuple(Band(name, lower, *COLOURS[name], current=name == grade) for name, lower in bounds)


def history_of(rows: Sequence[Mapping[str, Any]], week_start: date) -> tuple[Week, ...]:
    """The home's weeks up to `week_start`, the last 12 at most, oldest first."""
    first = week_start - timedelta(weeks=MAX_HISTORY_WEEKS - 1)
    weeks = {
        r["week_start"]: Week(
            r["week_start"],
            number("score", r.get("score"), 0.0, 100.0),
            _grade(r.get("grade")),
            bool(r.get("provisional")),
        )
        for r in rows
        if first <= r["week_start"] <= week_start
    }
    return tuple(weeks[k] for k in sorted(weeks))


def _grade(value: object) -> str | None:
    if value is not None and value not in GRADES:
        raise CertificateError(f"grade: {value!r} is not one of {', '.join(GRADES)}")
    return None if value is None else str(value)


def _stamp(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "-" if value is None else text("computed_at", str(value))


def certificate(
    vector: Mapping[str, Any],
    rooms: Sequence[Room] = (),
    outdoor: Sequence[tuple[float, float] | None] = (),
    history: Sequence[Mapping[str, Any]] = (),
    label: str | None = None,
) -> Certificate:
    """A home's certificate for the vector's week."""
    if len(rooms) > MAX_ROOMS:
        raise CertificateError(f"rooms: {len(rooms)} rooms, at most {MAX_ROOMS}")
    week: date = vector["week_start"]
    home_id = int(vector["home_id"])
    flags = flags_of(vector)
    grade = _grade(vector.get("grade"))
    low = number("score_low", vector.get("score_low"), 0.0, 100.0)
    high = number("score_high", vector.get("score_high"), 0.0, 100.0)
    coverage = number("coverage", vector.get("coverage"), 0.0, 1.0) or 0.0
    week_hours = hours(number("week_hours", vector.get("week_hours"), 0.0, 170.0) or 168.0)
    interval_s = number("reading_interval_s", vector.get("reading_interval_s"), 0.0, 86400.0)
    zone = vector.get("time_zone")
    provisional = bool(vector.get("provisional"))
    reasons = tuple(flag_words(f) for f in flags if f in PROVISIONAL_FLAGS)
    weeks = history_of([*history, vector], week)
    return Certificate(
        home_id=home_id,
        label=text("label", label if label is not None else f"Home {home_id}"),
        week_start=week,
        week_end=week + timedelta(days=6),
        model_version=text("model_version", vector["model_version"]),
        grade=grade,
        score=number("score", vector.get("score"), 0.0, 100.0),
        score_low=low,
        score_high=high,
        interval_words=interval_words(low, high),
        provisional=provisional,
        reasons=reasons if provisional else (),
        ladder=ladder(grade),
        hazards=_hazard_lines(vector, rooms, week_hours),
        findings=tuple(flag_words(f) for f in flags if f not in PROVISIONAL_FLAGS),
        facts=(
            ("Week", f"{week.isoformat()} to {(week + timedelta(days=6)).isoformat()}"),
            ("Coverage", f"{coverage * 100:.0f} % of the week measured"),
            ("Reading interval", "-" if interval_s is None else f"{interval_s / 60:.0f} min"),
            ("Sensors (rooms)", str(vector.get("sensors") or len(rooms))),
            ("Area (time zone)", "unknown" if zone is None else text("time_zone", zone)),
            ("Model version", text("model_version", vector["model_version"])),
        ),
        provenance=(
            ("Data through", f"{(week + timedelta(days=6)).isoformat()} (local time)"),
            ("Computed at", _stamp(vector.get("computed_at"))),
            ("Readings used", f"{int(vector.get('readings') or 0):,}"),
            ("Room-days plotted", str(sum(1 for r in rooms for d in r.days if d is not None))),
        ),
        rooms=tuple(rooms),
        outdoor=tuple(outdoor),
        history=weeks,
        summary=summary(weeks),
    )
