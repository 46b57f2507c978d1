"""The livability model on small hand-built weeks, checked against hand-computed vectors."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.model import MODEL_VERSION, score_week

SCHEMA_FILE = Path(__file__).parents[1] / "schemas" / "livability_scores.json"

WINTER_WEEK = date(2024, 1, 8)
SUMMER_WEEK = date(2024, 7, 8)
SLOTS = 7 * 144
AMSTERDAM = "POINT(4.9041 52.3676)"
AMSTERDAM_LATLON = (52.3676, 4.9041)
SYDNEY = "POINT(151.2093 -33.8688)"

SENSOR_SCHEMA = {
    "timestamp": pl.Datetime("us"),
    "home_id": pl.Int64,
    "mac": pl.Int64,
    "temperature": pl.Float64,
    "humidity": pl.Float64,
    "location": pl.String,
}
WEATHER_SCHEMA = {"timestamp": pl.Datetime("us"), "temperature": pl.Float64, "location": pl.String}


def _slot(week_start: date, i: int) -> datetime:
    return datetime(week_start.year, week_start.month, week_start.day) + timedelta(minutes=10 * i)


def sensor_week(
    temperatures: Sequence[float | None],
    humidities: Sequence[float | None],
    *,
    week_start: date = WINTER_WEEK,
    home_id: int = 1,
    location: str | None = AMSTERDAM,
) -> pl.LazyFrame:
    """Readings spread evenly over the week, in order."""
    assert len(temperatures) == len(humidities), "one humidity per temperature"
    n = len(temperatures)
    return pl.LazyFrame(
        {
            "timestamp": [_slot(week_start, i * SLOTS // n) for i in range(n)],
            "home_id": [home_id] * n,
            "mac": [1000 + home_id] * n,
            "temperature": temperatures,
            "humidity": humidities,
            "location": [location] * n,
        },
        schema=SENSOR_SCHEMA,
    )


def constant_week(temperature: float, humidity: float, **kwargs: Any) -> pl.LazyFrame:
    return sensor_week([temperature] * SLOTS, [humidity] * SLOTS, **kwargs)


def weather(*points: tuple[str | None, float], week_start: date = WINTER_WEEK) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "timestamp": [_slot(week_start, 6 * i) for i in range(len(points))],
            "temperature": [t for _, t in points],
            "location": [loc for loc, _ in points],
        },
        schema=WEATHER_SCHEMA,
    )


NO_WEATHER = weather()


def only_row(frame: pl.LazyFrame) -> dict[str, Any]:
    rows = frame.collect().to_dicts()
    assert len(rows) == 1, f"expected one home, got {len(rows)}"
    return rows[0]


def score_of(sensor: pl.LazyFrame, wx: pl.LazyFrame = NO_WEATHER) -> float:
    score = only_row(score_week(sensor, wx, WINTER_WEEK))["score"]
    assert score is not None
    return float(score)


def test_comfortable_home_scores_100_grade_a() -> None:
    wx = weather(("POINT(4.85 52.35)", 4.0), (None, 30.0), ("POINT(4.85 52.35)", 6.0))

    row = only_row(score_week(constant_week(22.0, 45.0), wx, WINTER_WEEK))

    assert row == {
        "week_start": WINTER_WEEK,
        "home_id": 1,
        "model_version": MODEL_VERSION,
        "score": 100.0,
        "grade": "A",
        "coverage": 1.0,
        "readings": SLOTS,
        "heating_season": True,
        "outdoor_temperature_mean": 5.0,
        "temperature_mean": 22.0,
        "humidity_mean": 45.0,
        "thermal_comfort": 100.0,
        "cold_exposure": 100.0,
        "humidity_comfort": 100.0,
        "mould_risk": 100.0,
        "hours_below_18c": 0.0,
        "hours_above_70rh": 0.0,
    }


def test_cold_damp_home_scores_low() -> None:
    # 16 C is 4 C below the 20-25 band (thermal 0) and 2 C below WHO's 18 C (cold 1/3);
    # 75 %RH is 15 above the 60 % band edge (humidity 0) and 5 below 80 % (mould 1/4).
    row = only_row(score_week(constant_week(16.0, 75.0), NO_WEATHER, WINTER_WEEK))

    assert row == {
        "week_start": WINTER_WEEK,
        "home_id": 1,
        "model_version": MODEL_VERSION,
        "score": 11.7,  # (0.20 * 100/3 + 0.20 * 25) / 1.0
        "grade": "G",
        "coverage": 1.0,
        "readings": SLOTS,
        "heating_season": True,
        "outdoor_temperature_mean": None,
        "temperature_mean": 16.0,
        "humidity_mean": 75.0,
        "thermal_comfort": 0.0,
        "cold_exposure": 33.3,
        "humidity_comfort": 0.0,
        "mould_risk": 25.0,
        "hours_below_18c": 168.0,
        "hours_above_70rh": 168.0,
    }


def test_null_values_are_skipped_and_weights_renormalised() -> None:
    # No humidity at all: only the temperature sub-scores count.
    row = only_row(
        score_week(
            sensor_week([19.0, None] * (SLOTS // 2), [None] * SLOTS), NO_WEATHER, WINTER_WEEK
        )
    )

    assert row["readings"] == SLOTS
    assert row["humidity_mean"] is None
    assert row["humidity_comfort"] is None
    assert row["mould_risk"] is None
    assert row["hours_above_70rh"] is None
    assert row["thermal_comfort"] == 75.0  # 1 C below 20: 1 - 1/4
    assert row["cold_exposure"] == 100.0
    assert row["hours_below_18c"] == 0.0
    assert row["score"] == round((0.35 * 75 + 0.20 * 100) / 0.55, 1)


def test_home_without_any_values_has_null_score_and_grade() -> None:
    row = only_row(score_week(sensor_week([None] * SLOTS, [None] * SLOTS), NO_WEATHER, WINTER_WEEK))

    assert row["score"] is None
    assert row["grade"] is None
    assert row["coverage"] == 1.0


@pytest.mark.parametrize(
    ("temperature", "humidity", "grade"),
    [
        (22.0, 45.0, "A"),  # 100
        (19.0, 45.0, "B"),  # thermal 75 -> 91.25
        (22.0, 68.0, "C"),  # humidity 46.7, mould 60 -> 78.7
        (17.0, 45.0, "D"),  # thermal 25, cold 66.7 -> 67.1
        (16.0, 45.0, "E"),  # thermal 0, cold 33.3 -> 51.7
        (16.0, 65.0, "F"),  # thermal 0, cold 33.3, humidity 66.7, mould 75 -> 38.3
        (16.0, 75.0, "G"),  # 11.7
    ],
)
def test_grade_bands(temperature: float, humidity: float, grade: str) -> None:
    row = only_row(score_week(constant_week(temperature, humidity), NO_WEATHER, WINTER_WEEK))

    assert row["grade"] == grade, f"score {row['score']} should be grade {grade}"


def _toward_band(value: float, low: float, high: float, fraction: float) -> float:
    target = min(max(value, low), high)
    return value + fraction * (target - value)


@pytest.mark.parametrize(
    "start",
    [(12.0, 90.0), (30.0, 10.0), (17.5, 72.0), (26.5, 62.0)],
)
def test_moving_toward_the_band_raises_the_score(start: tuple[float, float]) -> None:
    temperature, humidity = start
    scores = [
        score_of(
            constant_week(
                _toward_band(temperature, 20.0, 25.0, f), _toward_band(humidity, 25.0, 60.0, f)
            )
        )
        for f in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]

    assert scores == sorted(scores), f"score fell while moving toward the band: {scores}"
    assert scores[-1] > scores[0], f"score never rose: {scores}"


@pytest.mark.parametrize(
    ("steps", "make"),
    [
        ((17.0, 18.0, 19.0, 20.0), lambda t: constant_week(t, 45.0)),  # inside the 4 C ramp
        ((29.0, 28.0, 27.0, 26.0, 25.0), lambda t: constant_week(t, 45.0)),
        ((74.0, 70.0, 66.0, 62.0, 60.0), lambda rh: constant_week(22.0, rh)),
        ((12.0, 16.0, 20.0, 25.0), lambda rh: constant_week(22.0, rh)),
    ],
)
def test_score_strictly_rises_within_the_ramp(steps: tuple[float, ...], make: Any) -> None:
    scores = [score_of(make(value)) for value in steps]

    assert all(a < b for a, b in itertools.pairwise(scores)), scores


@settings(max_examples=40, deadline=None)
@given(
    readings=st.lists(
        st.tuples(
            st.floats(min_value=-10.0, max_value=40.0), st.floats(min_value=0.0, max_value=100.0)
        ),
        min_size=1,
        max_size=30,
    ),
    fraction=st.floats(min_value=0.0, max_value=1.0),
    winter=st.booleans(),
)
def test_property_moving_toward_the_band_never_lowers_the_score(
    readings: list[tuple[float, float]], fraction: float, winter: bool
) -> None:
    band = (20.0, 25.0) if winter else (23.0, 26.0)
    week = WINTER_WEEK if winter else SUMMER_WEEK
    temps = [t for t, _ in readings]
    hums = [h for _, h in readings]
    moved_t = [_toward_band(t, *band, fraction) for t in temps]
    moved_h = [_toward_band(h, 25.0, 60.0, fraction) for h in hums]

    before = only_row(score_week(sensor_week(temps, hums, week_start=week), NO_WEATHER, week))
    after = only_row(score_week(sensor_week(moved_t, moved_h, week_start=week), NO_WEATHER, week))

    assert after["score"] >= before["score"], (before, after)


def test_coverage_counts_distinct_ten_minute_slots() -> None:
    start = datetime(2024, 1, 8)
    offsets_min = [0, 0, 5, 10, 30, 39, 24 * 60]  # slots 0, 0, 0, 1, 3, 3, 144
    sensor = pl.LazyFrame(
        {
            "timestamp": [start + timedelta(minutes=m) for m in offsets_min],
            "home_id": [1] * 7,
            "mac": [9] * 7,
            "temperature": [22.0] * 7,
            "humidity": [45.0] * 7,
            "location": [AMSTERDAM] * 7,
        },
        schema=SENSOR_SCHEMA,
    )

    row = only_row(score_week(sensor, NO_WEATHER, WINTER_WEEK))

    assert row["readings"] == 7
    assert row["coverage"] == 4 / SLOTS
    assert row["score"] == 100.0
    assert row["grade"] is None, "a week with 4 slots of 1008 must not be graded"


@pytest.mark.parametrize(("slots", "graded"), [(504, True), (503, False)])
def test_grade_needs_half_the_week(slots: int, graded: bool) -> None:
    # Consecutive slots from the week's start: half the week at most.
    sensor = sensor_week([22.0] * slots, [45.0] * slots).with_columns(
        timestamp=pl.lit(datetime(2024, 1, 8)) + pl.duration(minutes=10 * pl.int_range(pl.len()))
    )

    row = only_row(score_week(sensor, NO_WEATHER, WINTER_WEEK))

    assert row["coverage"] == slots / SLOTS
    assert (row["grade"] == "A") if graded else (row["grade"] is None)


@pytest.mark.parametrize(
    ("week_start", "location", "wx", "heating", "outdoor"),
    [
        # Weather within 50 km decides, whatever the calendar says.
        (SUMMER_WEEK, AMSTERDAM, [("POINT(4.8 52.3)", 10.0)], True, 10.0),
        (WINTER_WEEK, AMSTERDAM, [("POINT(4.8 52.3)", 20.0)], False, 20.0),
        (WINTER_WEEK, AMSTERDAM, [("POINT(4.8 52.3)", 15.0)], False, 15.0),  # below 15 only
        # No weather: the calendar and the hemisphere.
        (WINTER_WEEK, AMSTERDAM, [], True, None),
        (SUMMER_WEEK, AMSTERDAM, [], False, None),
        (SUMMER_WEEK, SYDNEY, [], True, None),
        (WINTER_WEEK, SYDNEY, [], False, None),
        (WINTER_WEEK, None, [], True, None),  # unknown location: northern
        (WINTER_WEEK, "not wkt", [], True, None),
        # Weather too far (Rotterdam, ~57 km) or unlocated is ignored.
        (SUMMER_WEEK, AMSTERDAM, [("POINT(4.4792 51.9225)", 5.0)], False, None),
        (SUMMER_WEEK, AMSTERDAM, [(None, 5.0)], False, None),
        (SUMMER_WEEK, None, [("POINT(4.8 52.3)", 5.0)], False, None),
        # The week of 2024-04-29 is mostly May (its middle day is 2 May).
        (date(2024, 4, 29), AMSTERDAM, [], False, None),
        (date(2024, 9, 28), AMSTERDAM, [], True, None),
    ],
)
def test_heating_season(
    week_start: date,
    location: str | None,
    wx: list[tuple[str | None, float]],
    heating: bool,
    outdoor: float | None,
) -> None:
    sensor = constant_week(22.0, 45.0, week_start=week_start, location=location)

    row = only_row(score_week(sensor, weather(*wx, week_start=week_start), week_start))

    assert (row["heating_season"], row["outdoor_temperature_mean"]) == (heating, outdoor)


@pytest.mark.parametrize("reverse", [False, True])
def test_nearest_weather_point_is_chosen(reverse: bool) -> None:
    near = ("POINT(4.95 52.40)", 8.0)  # ~5 km from the home
    far = ("POINT(5.20 52.45)", 22.0)  # ~22 km, still within 50 km
    points = [near, near, far, far] if not reverse else [far, far, near, near]

    row = only_row(score_week(constant_week(22.0, 45.0), weather(*points), WINTER_WEEK))

    assert (row["heating_season"], row["outdoor_temperature_mean"]) == (True, 8.0)


def test_homes_are_scored_apart_and_sorted() -> None:
    sensor = pl.concat([constant_week(16.0, 75.0, home_id=7), constant_week(22.0, 45.0, home_id=3)])

    rows = score_week(sensor, NO_WEATHER, WINTER_WEEK).collect()

    assert rows.select("home_id", "grade").rows() == [(3, "A"), (7, "G")]


def test_output_columns_follow_the_schema_file() -> None:
    fields = json.loads(SCHEMA_FILE.read_text())
    # The job adds `computed_at`, and validation the `row_id` key, to what the model returns.
    expected = [f["name"] for f in fields if f["name"] not in ("computed_at", "row_id")]

    out = score_week(constant_week(22.0, 45.0), NO_WEATHER, WINTER_WEEK).collect()

    assert out.columns == expected
    assert dict(out.schema) == {
        "week_start": pl.Date,
        "home_id": pl.Int64,
        "model_version": pl.String,
        "score": pl.Float64,
        "grade": pl.String,
        "coverage": pl.Float64,
        "readings": pl.Int64,
        "heating_season": pl.Boolean,
        **dict.fromkeys(expected[8:], pl.Float64),
    }


def test_empty_sensor_gives_zero_rows() -> None:
    sensor = pl.LazyFrame(schema=SENSOR_SCHEMA)

    out = score_week(sensor, weather(("POINT(4.8 52.3)", 5.0)), WINTER_WEEK).collect()

    assert out.height == 0
    assert out.columns[:3] == ["week_start", "home_id", "model_version"]


def test_missing_input_column_is_named() -> None:
    sensor = constant_week(22.0, 45.0).drop("humidity")

    with pytest.raises(ValueError, match=r"sensor input lacks column\(s\) \['humidity'\]"):
        score_week(sensor, NO_WEATHER, WINTER_WEEK)
