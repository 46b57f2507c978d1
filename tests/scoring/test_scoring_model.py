"""The model on hand-built weeks: the failures model 1 had, and the model's properties.

Runs the real warehouse SQL on the real embedded DuckDB (a file per case, rows validated and
keyed as ingest stores them), then the per-home step in polars.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.model import MODEL_VERSION
from tests.scoring.weeks import Reading, one, score, steady, weather

WINTER = weather(7.5)  # the real week's outdoor mean
SUMMER = weather(18.0)
FAST = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def vector(tmp: Path, readings: list[Reading], outdoor: list = WINTER) -> dict:  # type: ignore[type-arg]
    return one(score(tmp, readings, outdoor))


def test_a_comfortable_home_grades_a_with_a_narrow_interval(tmp_path: Path) -> None:
    v = vector(tmp_path, steady(21.5, 45.0))
    assert v["model_version"] == MODEL_VERSION
    assert (v["cold_hazard"], v["heat_hazard"], v["damp_hazard"], v["comfort"]) == (
        100.0,
        100.0,
        100.0,
        100.0,
    )
    assert (v["score"], v["grade"], v["provisional"], v["flags"]) == (100.0, "A", False, None)
    assert v["coverage"] == 1.0
    assert v["readings"] == 168 * 6
    assert v["hours_below_18c"] == 0.0
    assert v["score_low"] >= 92.0
    assert v["score_high"] == 100.0


def test_overheating_counts_and_35_c_is_worse_than_30_c(tmp_path: Path) -> None:
    at_30 = vector(tmp_path, steady(30.0, 40.0), SUMMER)
    at_35 = vector(tmp_path, steady(35.0, 40.0), SUMMER)
    assert at_30["heat_hazard"] < 39  # worse than D
    assert at_35["heat_hazard"] < at_30["heat_hazard"]
    assert at_35["score"] < at_30["score"] < 39
    assert "hot_nights" in at_30["flags"]
    assert "tm52_exceedance" in at_30["flags"]


def test_a_warm_dry_winter_home_is_not_grade_a(tmp_path: Path) -> None:
    v = vector(tmp_path, steady(25.7, 28.0))  # model 1 graded this A
    assert v["grade"] not in ("A", "B")
    # Model 3: 25.7 C crosses no health limit (WHO Europe's 32 C by day, TM59's 26 C in
    # bedrooms at night) and TM52 does not apply to a heated home (issue 14, item 2): it is
    # a comfort matter, above EN 16798-1's winter band.
    assert v["heat_hazard"] == 100.0
    assert v["comfort"] < 69


def test_mould_is_judged_at_the_cold_surface(tmp_path: Path) -> None:
    # The real week's conditions: 17.5 C, 65 %RH inside, 7.5 C outside: no hour above 70 %RH
    # in the air, about 76 % at a thermal bridge with fRsi 0.75.
    v = vector(tmp_path, steady(17.5, 65.0))
    assert v["hours_above_70rh"] == 0.0
    assert 74.0 <= v["surface_rh_mean"] <= 78.0
    # Model 3 (issue 14, item 3): under ISO 13788's 80 % mean surface RH no mould is
    # expected; model 2 started at 70 % and graded this D.
    assert v["damp_hazard"] == 100.0
    assert "mould_criterion" not in (v["flags"] or "")
    assert v["frsi"] == 0.75
    damper = vector(tmp_path, steady(17.5, 75.0))  # about 87 % at the surface
    assert 84.0 <= damper["surface_rh_mean"] <= 90.0
    assert damper["damp_hazard"] < 81
    assert "mould_criterion" in damper["flags"]


def test_cold_is_not_lenient_and_hazards_are_not_averaged_away(tmp_path: Path) -> None:
    v = vector(tmp_path, steady(17.5, 45.0))  # model 1 gave 83 % cold credit
    # Model 3 (issue 14, item 5): 0.5 K under WHO's 18 C is one sensor accuracy, so the
    # cold hazard may not fall by tens of points for it; it is not A, and comfort is 0.
    assert 69 <= v["cold_hazard"] < 92
    assert v["comfort"] == 0.0
    assert v["grade"] not in ("A", "B", "C")
    assert v["score"] <= v["cold_hazard"]  # capped by the worst hazard
    colder = vector(tmp_path, steady(14.0, 45.0))  # under PHE's 16 C: respiratory risk
    assert colder["cold_hazard"] < 39


def test_no_season_cliff_between_14_9_and_15_1_c_outdoors(tmp_path: Path) -> None:
    below = vector(tmp_path, steady(20.5, 45.0), weather(14.9))
    above = vector(tmp_path, steady(20.5, 45.0), weather(15.1))
    assert abs(below["score"] - above["score"]) <= 0.5


def test_hours_never_exceed_the_week_at_any_reading_frequency(tmp_path: Path) -> None:
    v = vector(tmp_path, steady(15.0, 50.0, every_minutes=5))
    assert v["hours_below_18c"] == 168.0  # model 1 counted 336 h


def test_a_warm_sensor_near_a_radiator_does_not_lift_a_cold_home(tmp_path: Path) -> None:
    cold = steady(16.0, 55.0)
    alone = vector(tmp_path, cold)
    warm = steady(21.0, 45.0, every_minutes=5, mac=22)  # read twice as often
    both = vector(tmp_path, cold + warm)
    for name in ("cold_hazard", "heat_hazard", "damp_hazard", "score"):
        assert both[name] <= alone[name], name
    assert both["sensors"] == 2
    assert "several_sensors" in both["flags"]


def test_unplugging_at_night_removes_the_grade(tmp_path: Path) -> None:
    days_only = [h for h in range(168) if 7 <= h % 24 < 23]
    full = vector(tmp_path, steady(16.5, 55.0))
    nights_off = vector(tmp_path, steady(16.5, 55.0, hours=days_only))
    assert nights_off["score"] <= full["score"]
    # No night readings at all; a part of the day is forgiven one interval a day (a reading
    # stamped just after its edge), so coverage is 7 x 10 min of 42 h, not 0.
    assert nights_off["coverage"] < 0.05
    assert nights_off["grade"] is None
    assert nights_off["provisional"] is True
    assert "low_coverage" in nights_off["flags"]


def test_a_few_slots_of_data_publish_no_grade_and_a_low_score(tmp_path: Path) -> None:
    v = vector(tmp_path, steady(21.5, 45.0, hours=[10, 11]))
    assert v["grade"] is None
    assert v["provisional"] is True
    assert v["score"] < 5  # unmeasured time counts as the worst, never as comfortable


def test_without_weather_the_week_is_scored_conservatively_and_not_graded(tmp_path: Path) -> None:
    v = vector(tmp_path, steady(21.5, 45.0), [])
    assert v["grade"] is None
    assert v["provisional"] is True
    assert "no_weather" in v["flags"]
    assert v["outdoor_temperature_mean"] is None


# --- properties ---------------------------------------------------------------------------


def _week(low: float, high: float) -> st.SearchStrategy[list[float]]:
    """168 hourly values: a daily profile plus a shift per day."""
    profile = st.lists(st.floats(low, high), min_size=24, max_size=24)
    shifts = st.lists(st.floats(-2.0, 2.0), min_size=7, max_size=7)
    return st.builds(
        lambda p, s: [min(high, max(low, p[h % 24] + s[h // 24])) for h in range(168)],
        profile,
        shifts,
    )


temperatures = _week(10.0, 32.0)
humidities = _week(20.0, 90.0)


@FAST
@given(temperatures, humidities, st.randoms(use_true_random=False))
def test_invariant_to_row_order_duplicates_and_reading_frequency(
    tmp_path: Path, t: list[float], rh: list[float], rng: random.Random
) -> None:
    base = steady(t, rh)
    shuffled = base[:]
    rng.shuffle(shuffled)
    doubled = steady(t, rh, every_minutes=5)  # same value in each 10-minute slot
    first = vector(tmp_path, base)
    # The inferred interval is the vector's too: it differs, nothing else does.
    assert vector(tmp_path, doubled)["reading_interval_s"] == 300.0
    for other in (vector(tmp_path, shuffled + base[:50]), vector(tmp_path, doubled)):
        other.pop("readings")
        other.pop("reading_interval_s")
        expected = {k: v for k, v in first.items() if k not in ("readings", "reading_interval_s")}
        assert other == expected


@FAST
@given(temperatures, humidities, st.sets(st.integers(0, 6), min_size=1))
def test_removing_night_readings_never_raises_the_score(
    tmp_path: Path, t: list[float], rh: list[float], nights: set[int]
) -> None:
    removed = {24 * d + h for d in nights for h in range(7)}
    full = vector(tmp_path, steady(t, rh))
    fewer = vector(tmp_path, steady(t, rh, hours=[h for h in range(168) if h not in removed]))
    for name in ("score", "cold_hazard", "heat_hazard", "damp_hazard", "comfort"):
        assert fewer[name] <= full[name], name
    assert fewer["coverage"] < full["coverage"]


@FAST
@given(st.floats(12.0, 19.5), st.floats(0.05, 0.95))
def test_monotone_in_comfort_warming_a_cold_home_at_constant_vapour_pressure(
    tmp_path: Path, start: float, fraction: float
) -> None:
    # Heating a cold room does not add moisture: the vapour pressure stays, RH falls.
    def rh_at(temperature: float) -> float:
        def psat(x: float) -> float:
            return 6.112 * 2.718281828459045 ** (17.62 * x / (243.12 + x))

        return 60.0 * psat(start) / psat(temperature)

    warmer = start + fraction * (20.5 - start)
    cold = vector(tmp_path, steady(start, 60.0))
    warm = vector(tmp_path, steady(warmer, rh_at(warmer)))
    for name in ("score", "cold_hazard", "damp_hazard", "comfort"):
        assert warm[name] >= cold[name], name


@FAST
@given(st.floats(-10.0, 30.0))
def test_no_jump_at_any_outdoor_temperature(tmp_path: Path, outdoor: float) -> None:
    indoor = steady([20.0 + 3 * (h % 24 > 12) for h in range(168)], 55.0)
    a = vector(tmp_path, indoor, weather(outdoor))
    b = vector(tmp_path, indoor, weather(outdoor + 0.05))
    for name in ("score", "cold_hazard", "heat_hazard", "damp_hazard", "comfort"):
        assert abs(a[name] - b[name]) <= 1.0, (name, a[name], b[name])


def test_coverage_falls_with_gaps_and_the_interval_narrows_with_more_data(
    tmp_path: Path,
) -> None:
    t = [18.0 + 4 * ((h // 24) % 2) for h in range(168)]  # alternate cool and warm days
    widths, coverages = [], []
    for days in (4, 5, 6, 7):
        v = vector(tmp_path, steady(t, 50.0, hours=range(24 * days)))
        widths.append(v["score_high"] - v["score_low"])
        coverages.append(v["coverage"])
    assert coverages == sorted(coverages)
    assert coverages[0] < coverages[-1] == 1.0
    assert widths == sorted(widths, reverse=True), widths
