"""The simulator's homes, as the model scores them, and the gateway's messages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from edge.messages import encode, hourly
from livability.local.demo import simulate
from livability.local.simulator import ARCHETYPES, make_homes, sensor_rows, weather_rows
from schemas import registry
from schemas.validation import validate_row
from scoring.model import score_week

WINTER_WEEK = date(2025, 1, 6)


def flat(rows: list[dict[str, Any]], table: str) -> pl.LazyFrame:
    """Rows as the scoring job reads them from the warehouse: validated, `data` flattened."""
    valid = [validate_row(registry()[table], r) for r in rows]
    return pl.DataFrame([{"timestamp": r["timestamp"], **r["data"]} for r in valid]).lazy()


def score_simulated(homes: int, seed: int) -> pl.DataFrame:
    start = datetime.combine(WINTER_WEEK, datetime.min.time(), UTC)
    population = make_homes(homes, seed)
    weather = {
        s: weather_rows(s, start, 7, seed) for s in dict.fromkeys(h.site for h in population)
    }
    sensor = [r for h in population for r in sensor_rows(h, weather[h.site], start, 7, seed)]
    all_weather = [r for rows in weather.values() for r in rows]
    vectors = score_week(
        flat(sensor, "sensor_thermo_beacon"), flat(all_weather, "weather_data"), WINTER_WEEK
    ).collect()
    archetypes = {h.home_id: h.archetype for h in population}
    return vectors.with_columns(
        pl.col("home_id").replace_strict(archetypes, return_dtype=pl.String).alias("archetype")
    )


@pytest.fixture(scope="module")
def scored() -> pl.DataFrame:
    return score_simulated(len(ARCHETYPES) * 2, seed=11)


def test_simulated_homes_span_a_wide_range_of_scores(scored: pl.DataFrame) -> None:
    scores = scored["score"].to_list()
    assert max(scores) - min(scores) >= 50, scored.select("archetype", "score")
    assert {"A", "B"} & set(scored["grade"])
    assert {"F", "G"} & set(scored["grade"])


def test_homes_rank_the_way_their_kind_suggests(scored: pl.DataFrame) -> None:
    by_kind = dict(scored.group_by("archetype").agg(pl.col("score").mean()).iter_rows())
    assert by_kind["insulated heated flat"] > by_kind["typical semi"] > by_kind["cold damp house"]
    assert by_kind["insulated heated flat"] > by_kind["poorly ventilated flat"]


def test_simulated_scores_are_deterministic_for_a_seed() -> None:
    first, again, other = score_simulated(4, 3), score_simulated(4, 3), score_simulated(4, 4)
    assert first.equals(again)
    assert not first.equals(other)


def test_every_simulated_row_meets_the_contract() -> None:
    homes = make_homes(len(ARCHETYPES), seed=5)
    messages = simulate(homes, WINTER_WEEK, 2, seed=5, dataset="sensor_data")
    for message in messages:
        table = registry()[message.table]
        for row in json.loads(message.data):
            validate_row(table, row)  # raises RowError naming the field otherwise
    # One message per home and hour, less the hours a home's sensor was out.
    hourly_sensor = len([m for m in messages if m.table == "sensor_thermo_beacon"])
    assert 0.9 * len(homes) * 48 <= hourly_sensor <= len(homes) * 48
    assert [m.published_at for m in messages] == sorted(m.published_at for m in messages)


def test_gateway_batches_readings_by_hour() -> None:
    rows = [
        {"timestamp": f"2025-01-06T{h:02d}:{m:02d}:00Z", "day": "2025-01-06", "data": {}}
        for h in (8, 9)
        for m in range(0, 60, 10)
    ]
    messages = list(hourly("sensor_thermo_beacon", rows, "sensor_data"))
    assert [len(json.loads(m.data)) for m in messages] == [6, 6]
    assert [m.published_at for m in messages] == ["2025-01-06T08:50:00Z", "2025-01-06T09:50:00Z"]
    assert messages[0].attributes == {
        "dataset_id": "sensor_data",
        "table_id": "sensor_thermo_beacon",
    }


@pytest.mark.parametrize(
    ("table", "rows", "message"),
    [
        (
            "livability_scores",
            [{"timestamp": "x"}],
            "table_id: 'livability_scores' does not accept device data",
        ),
        ("sensor_thermo_beacon", [], "rows: a message carries at least one row"),
    ],
)
def test_gateway_refuses_what_the_platform_would(
    table: str, rows: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode(table, rows, "sensor_data")
