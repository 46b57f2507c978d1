"""Properties of model 3 (hypothesis, few examples: each is a real DuckDB scoring run).

The grade does not depend on how a gateway samples (phase, +-2 s jitter, any interval from
1 to 20 minutes, duplicated rows, row order) nor on where the home is (the same local
pattern in any time zone); it is monotone where the physics is (colder never better in
winter, hotter bedroom nights never better, wetter air never better); and a gap (whole hours
without readings) never raises a score or sets a hazard flag.
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scoring.hand_built import PLACES, local_readings, outdoor
from tests.scoring.test_scoring_hand_built import HAZARD_FLAGS
from tests.scoring.weeks import one, score

FAST = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
)
SCORES = ("score", "cold_hazard", "heat_hazard", "damp_hazard", "comfort")
BANDS = (92.0, 81.0, 69.0, 55.0, 39.0, 21.0)


def profile(low: float, high: float) -> st.SearchStrategy[list[float]]:
    """A value per local hour of the day."""
    return st.lists(st.floats(low, high), min_size=24, max_size=24)


def climate(t: list[float], rh: list[float], shift: float = 0.0) -> Any:
    return lambda at: (t[at.hour] + shift, rh[at.hour])


def vector(tmp: Path, readings: list[Any], zone: str = "Europe/London") -> dict[str, Any]:
    return one(score(tmp, readings, outdoor(lambda _: 6.0, zone=zone)))


def flags(v: dict[str, Any]) -> set[str]:
    return set((v["flags"] or "").split(",")) & set(HAZARD_FLAGS)


def same_grade(a: dict[str, Any], b: dict[str, Any]) -> None:
    """The same grade, and scores within 0.2: equal but where a band edge lies between."""
    assert abs(a["score"] - b["score"]) <= 0.2, (a["score"], b["score"])
    if not any(min(a["score"], b["score"]) < edge <= max(a["score"], b["score"]) for edge in BANDS):
        assert (a["grade"], a["provisional"]) == (b["grade"], b["provisional"])


@FAST
@given(
    profile(15.0, 30.0),
    profile(30.0, 90.0),
    st.floats(60.0, 1200.0),
    st.floats(0.0, 1.0),
    st.randoms(use_true_random=False),
)
def test_the_grade_does_not_depend_on_sampling(
    tmp_path: Path, t: list[float], rh: list[float], every: float, phase: float, rng: random.Random
) -> None:
    base = vector(tmp_path, local_readings(climate(t, rh), room="bedroom"))
    sampled = local_readings(
        climate(t, rh), room="bedroom", every_s=every, phase_s=phase * every, jitter_s=2.0,
        seed=rng.randrange(1000),
    )  # fmt: skip
    shuffled = sampled + rng.sample(sampled, len(sampled) // 10)  # duplicated rows
    rng.shuffle(shuffled)
    other = vector(tmp_path, shuffled)
    same_grade(base, other)
    assert (
        other["reading_interval_s"] == round(every, 2)
        or abs(other["reading_interval_s"] - every) <= 2.5
    )


@FAST
@given(profile(15.0, 30.0), profile(30.0, 90.0), st.sampled_from(list(PLACES)[1:]))
def test_the_grade_does_not_depend_on_the_time_zone(
    tmp_path: Path, t: list[float], rh: list[float], zone: str
) -> None:
    london = vector(tmp_path, local_readings(climate(t, rh), room="bedroom"))
    elsewhere = vector(
        tmp_path, local_readings(climate(t, rh), room="bedroom", zone=zone), zone=zone
    )
    assert elsewhere["time_zone"] == zone
    for name in (*SCORES, "grade", "provisional", "flags", "coverage"):
        assert elsewhere[name] == london[name], name


@FAST
@given(profile(12.0, 21.0), st.floats(0.2, 3.0))
def test_colder_is_never_better_in_winter(tmp_path: Path, t: list[float], drop: float) -> None:
    # Cooled at the same moisture content: the RH rises as the air cools.
    def moist(shift: float) -> Any:
        def at(moment: datetime) -> tuple[float, float]:
            temperature = t[moment.hour] + shift
            return temperature, min(100.0, 50.0 * _psat(t[moment.hour]) / _psat(temperature))

        return at

    warm = vector(tmp_path, local_readings(moist(0.0)))
    cold = vector(tmp_path, local_readings(moist(-drop)))
    for name in ("score", "cold_hazard", "damp_hazard"):
        assert cold[name] <= warm[name], name


@FAST
@given(profile(20.0, 30.0), st.floats(0.2, 3.0))
def test_hotter_bedroom_nights_are_never_better(
    tmp_path: Path, t: list[float], rise: float
) -> None:
    def nights(shift: float) -> Any:
        hot = lambda m: m.hour >= 22 or m.hour < 7  # noqa: E731
        return lambda m: (t[m.hour] + (shift if hot(m) else 0.0), 45.0)

    cool = vector(tmp_path, local_readings(nights(0.0), room="bedroom"))
    hot = vector(tmp_path, local_readings(nights(rise), room="bedroom"))
    assert hot["heat_hazard"] <= cool["heat_hazard"]
    assert hot["score"] <= cool["score"] or cool["comfort"] < hot["comfort"]


@FAST
@given(profile(16.0, 22.0), profile(40.0, 85.0), st.floats(1.0, 10.0))
def test_wetter_is_never_better(
    tmp_path: Path, t: list[float], rh: list[float], more: float
) -> None:
    dry = vector(tmp_path, local_readings(climate(t, rh)))
    wet = vector(tmp_path, local_readings(lambda m: (t[m.hour], min(100.0, rh[m.hour] + more))))
    assert wet["damp_hazard"] <= dry["damp_hazard"]
    assert wet["surface_rh_mean"] >= dry["surface_rh_mean"]


@FAST
@given(
    profile(12.0, 30.0),
    profile(30.0, 95.0),
    st.sets(st.integers(0, 167), min_size=1, max_size=60),
    st.sampled_from(["bedroom", "bathroom", None]),
)
def test_a_gap_never_raises_a_score_or_sets_a_hazard_flag(
    tmp_path: Path, t: list[float], rh: list[float], gone: set[int], room: str | None
) -> None:
    def missing(moment: datetime) -> bool:
        return (moment.day - 6) * 24 + moment.hour in gone

    full = vector(tmp_path, local_readings(climate(t, rh), room=room))
    gapped = vector(tmp_path, local_readings(climate(t, rh), room=room, drop=missing))
    for name in SCORES:
        assert gapped[name] <= full[name], name
    assert flags(gapped) <= flags(full)


def _psat(t: float) -> float:
    import math

    return 6.112 * math.exp(17.62 * t / (243.12 + t))
