"""The weekly scoring job: score a week in the warehouse, publish the vectors.

The warehouse does the per-reading work (`scoring/sql.py`): first the daily rollup's days
that the week needs and that are missing (`scoring/rollup.py`: each day's readings read once,
de-duplicated on the columns read), then the model over the rollup's sensor-hours (the raw
readings where a time zone's hours are not UTC hours, or when asked); polars finishes per home
(`scoring/model.py`). After late data, a re-score with `refresh` writes the week's days
again. The vectors go to the bucket (`scores/<week start>/scores.ndjson`) and to
`livability_scores`.

Re-scoring replaces, never duplicates. A vector's row id leaves out `computed_at`, so scoring
unchanged data again adds nothing (the exact batch path skips known ids). When the vector
changed (late data, a fix in the inputs), the new row is added and every older row of the
same home, week and model version is then deleted: one vector per (week, home, model version)
remains, the latest. Vectors of other model versions stay, so a model change is a visible diff.
A crash between the two steps leaves the older row until the next run, which removes it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import polars as pl

from livability.ports import Bucket, ParamValue, Warehouse
from livability.weeks import WEEK
from schemas import ROW_ID, registry
from schemas.validation import to_json, validate_row
from scoring import ranges, rollup
from scoring.model import MODEL_VERSION, SCORES_TABLE, scored_week, week_params
from scoring.selects import Source

__all__ = [
    "SCORES_TABLE",
    "WEEK",
    "Published",
    "compute",
    "publish",
    "run",
    "week_params",
]

log = logging.getLogger(__name__)

# Older vectors of the same home, week and model version than one stored since. BigQuery
# needs the partition filter on both sides (require_partition_filter). The aliases are not
# `old`/`new`: NEW is a reserved keyword of GoogleSQL (tests/scoring/test_reserved_words.py).
SUPERSEDED_SQL = """
DELETE FROM {dataset}.livability_scores AS stale
WHERE stale.week_start = @week AND stale.model_version = @model_version
  AND EXISTS (
    SELECT 1 FROM {dataset}.livability_scores AS latest
    WHERE latest.week_start = @week AND latest.model_version = @model_version
      AND latest.home_id = stale.home_id AND latest.computed_at > stale.computed_at
  )
"""


@dataclass(frozen=True)
class Published:
    vectors: pl.DataFrame
    object_uri: str | None
    new_rows: int
    replaced: int = 0
    # The certificates' daily ranges from the same daily rows (`scoring.ranges.from_daily`).
    ranges: pl.DataFrame | None = None


def roll_up(warehouse: Warehouse, week_start: date, *, refresh: bool = False) -> list[date]:
    """Write the rollup's days that the week's local hours touch (the day before the UTC
    week to the day after it) and that have closed: those missing, or with `refresh` all of
    them (after late data). The days written."""
    first, last = week_start - timedelta(days=1), week_start + WEEK
    if not refresh:
        return rollup.fill(warehouse, first, last)
    today = datetime.now(UTC).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    closed = [d for d in days if d < today]
    rollup.write_days(warehouse, closed, today)
    return closed


def compute(
    warehouse: Warehouse,
    week_start: date,
    computed_at: datetime,
    source: Source = "rollup",
    *,
    refresh: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The week's vectors, one per home, with the columns of `livability_scores`, and the
    certificates' daily ranges from the same rows. From the daily rollup (its missing days
    written first; every day with `refresh`), or `raw`."""
    if source == "rollup":
        roll_up(warehouse, week_start, refresh=refresh)
    columns = [f.name for f in registry()[SCORES_TABLE].fields if f.name != ROW_ID]
    stamp = pl.lit(computed_at.astimezone(UTC), dtype=pl.Datetime("us", "UTC"))
    vectors, days = scored_week(warehouse, week_start, source)
    return vectors.with_columns(computed_at=stamp).select(columns), ranges.from_daily(days)


COUNT_SQL = """
SELECT COUNT(*) AS n FROM {dataset}.livability_scores
WHERE week_start = @week AND model_version = @model_version
"""


def _count(warehouse: Warehouse, week_start: date) -> int:
    sql = COUNT_SQL.format(dataset=warehouse.dataset)
    table = warehouse.query(sql, {"week": week_start, "model_version": MODEL_VERSION})
    return int(table.column("n")[0].as_py())


def publish(
    vectors: pl.DataFrame, warehouse: Warehouse, bucket: Bucket, week_start: date
) -> Published:
    """Write the vectors to the scores table (replacing older ones) and to the bucket."""
    if vectors.is_empty():
        log.warning("no readings to score", extra={"week_start": week_start.isoformat()})
        return Published(vectors, None, 0)
    table = registry()[SCORES_TABLE]
    rows = [validate_row(table, to_json(r)) for r in vectors.to_dicts()]
    new_rows = warehouse.load_rows(SCORES_TABLE, rows, [row[ROW_ID] for row in rows]).inserted
    replaced = 0
    if new_rows:
        before = _count(warehouse, week_start)
        params: dict[str, ParamValue] = {"week": week_start, "model_version": MODEL_VERSION}
        warehouse.query(SUPERSEDED_SQL.format(dataset=warehouse.dataset), params)
        replaced = before - _count(warehouse, week_start)
    body = "".join(json.dumps(to_json(r)) + "\n" for r in rows).encode()
    uri = bucket.put(f"scores/{week_start.isoformat()}/scores.ndjson", body, "application/x-ndjson")
    log.info(
        "scores published",
        extra={
            "week_start": week_start.isoformat(),
            "homes": len(rows),
            "new_rows": new_rows,
            "replaced": replaced,
            "uri": uri,
            "model_version": MODEL_VERSION,
        },
    )
    return Published(vectors, uri, new_rows, replaced)


def run(
    warehouse: Warehouse,
    bucket: Bucket,
    week_start: date,
    computed_at: datetime,
    source: Source = "rollup",
    *,
    refresh: bool = False,
) -> Published:
    vectors, days = compute(warehouse, week_start, computed_at, source, refresh=refresh)
    return replace(publish(vectors, warehouse, bucket, week_start), ranges=days)
