"""The weekly scoring job: read a week from the warehouse, score it, publish the vectors.

Reads only the partitions of the scored days (FinOps: BigQuery bills the bytes scanned),
hands the model plain columns, writes one NDJSON object per week to the bucket under
`scores/<week start>/` and the same rows to `livability_scores`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl

from livability.ports import Bucket, Warehouse
from schemas import ROW_ID, registry
from schemas.validation import to_json, validate_row
from scoring.model import score_week

SCORES_TABLE = "livability_scores"
WEEK = timedelta(days=7)
log = logging.getLogger(__name__)

# `day` bounds let BigQuery prune partitions; `timestamp` bounds make the week exact. The
# `_dedup` views keep one row per row_id: BigQuery's streaming insertId is best effort.
SENSOR_SQL = """
SELECT timestamp, data.home_id AS home_id, data.mac AS mac, data.temperature AS temperature,
       data.humidity AS humidity, data.location AS location
FROM {dataset}.sensor_thermo_beacon_dedup
WHERE day BETWEEN @first_day AND @last_day AND timestamp >= @start AND timestamp < @end
"""
WEATHER_SQL = """
SELECT timestamp, data.temperature AS temperature, data.location AS location
FROM {dataset}.weather_data_dedup
WHERE day BETWEEN @first_day AND @last_day AND timestamp >= @start AND timestamp < @end
"""


@dataclass(frozen=True)
class Published:
    vectors: pl.DataFrame
    object_uri: str | None
    new_rows: int


def week_params(week_start: date) -> dict[str, Any]:
    start = datetime.combine(week_start, time(), UTC)
    return {
        "first_day": week_start,
        "last_day": week_start + WEEK - timedelta(days=1),
        "start": start,
        "end": start + WEEK,
    }


def last_complete_week(today: date) -> date:
    """Monday of the last Monday-Sunday week that has ended before `today`."""
    return today - timedelta(days=today.weekday()) - WEEK


def read_week(warehouse: Warehouse, week_start: date) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    params = week_params(week_start)
    sensor = warehouse.query(SENSOR_SQL.format(dataset=warehouse.dataset), params)
    weather = warehouse.query(WEATHER_SQL.format(dataset=warehouse.dataset), params)
    return pl.from_arrow(sensor).lazy(), pl.from_arrow(weather).lazy()  # type: ignore[union-attr]


def compute(warehouse: Warehouse, week_start: date, computed_at: datetime) -> pl.DataFrame:
    """The week's vectors, one per home, with the columns of `livability_scores`."""
    sensor, weather = read_week(warehouse, week_start)
    computed_at = computed_at.astimezone(UTC)
    columns = [f.name for f in registry()[SCORES_TABLE].fields if f.name != ROW_ID]
    return (
        score_week(sensor, weather, week_start)
        .with_columns(computed_at=pl.lit(computed_at, dtype=pl.Datetime("us", "UTC")))
        .select(columns)
        .collect()
    )


def publish(
    vectors: pl.DataFrame, warehouse: Warehouse, bucket: Bucket, week_start: date
) -> Published:
    """Write the vectors to the bucket and the scores table.

    The table is append-only and written on the exact batch path: a row's id leaves out
    `computed_at`, so scoring unchanged data again adds nothing, while a re-score after late
    data adds a newer vector.
    """
    if vectors.is_empty():
        log.warning("no readings to score", extra={"week_start": week_start.isoformat()})
        return Published(vectors, None, 0)
    table = registry()[SCORES_TABLE]
    rows = [validate_row(table, to_json(r)) for r in vectors.to_dicts()]
    new_rows = warehouse.load_rows(SCORES_TABLE, rows, [row[ROW_ID] for row in rows]).inserted
    body = "".join(json.dumps(to_json(r)) + "\n" for r in rows).encode()
    uri = bucket.put(f"scores/{week_start.isoformat()}/scores.ndjson", body, "application/x-ndjson")
    log.info(
        "scores published",
        extra={"week_start": week_start.isoformat(), "homes": len(rows), "uri": uri},
    )
    return Published(vectors, uri, new_rows)


def run(warehouse: Warehouse, bucket: Bucket, week_start: date, computed_at: datetime) -> Published:
    return publish(compute(warehouse, week_start, computed_at), warehouse, bucket, week_start)
