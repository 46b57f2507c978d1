"""The daily rollup: each UTC day of readings read once, into `sensor_hours`.

One row per sensor and UTC hour with what the model needs (schemas/sensor_hours.json): the
readings with both values (each reading once: `scoring/selects.py` de-duplicates on the
columns read), their mean temperature and RH, first and last instant and room type, and, on
one row per home and day, the home's earliest located reading. Weekly scoring and `livability
report` read these rows instead of the readings (`scoring/model.py`, source "rollup").

A day is written whole: DELETE of its partition, then INSERT of its rows from that day's
readings. Writing a day again gives the same rows, so a re-run is harmless, and a re-run after
late rows re-computes the day with them. Only closed days are written (before today, UTC): a
day still receiving readings would be stored short. Which days are written when: `write_days`
for the days asked (a re-score after late data asks for its week), `missing_days` for the
closed days of a range that have no row yet (the weekly job fills those before it scores; a
day without readings has none, and is read again, finding nothing, each time).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Final

from livability.ports import ParamValue, Warehouse
from scoring import dialects, selects
from scoring.sql_parts import checked

log = logging.getLogger(__name__)

TABLE: Final = selects.ROLLUP_TABLE
MAX_DAYS: Final = 400  # days one call writes: a year and a margin, about a minute each at 1M homes
COLUMNS: Final = (
    "hour, home_id, mac, n, temperature, humidity, first_at, last_at, room, location, located_at"
)


@cache
def insert_sql(dataset: str, dialect: str) -> str:
    """INSERT of one UTC day's rows (`@day`), for `dialect`. One pass over the readings with
    both values, grouped by sensor and hour as integers (the hour's microseconds / 3600e6:
    cheaper to hash than a truncated timestamp); one over the located readings for each home's
    earliest; a full join puts that on its sensor-hour, or on a row of its own (n 0) when the
    hour has no reading with both values."""
    dataset = checked(dataset)
    where = "day = @day AND data.temperature IS NOT NULL AND data.humidity IS NOT NULL"
    readings = selects.deduplicated(dataset, where, exact_storage=dialect == "duckdb")
    hour = f"DIV(UNIX_MICROS({{}}), {selects.MICROS_PER_HOUR})"
    text = f"""
INSERT INTO {dataset}.{TABLE} ({COLUMNS})
WITH hours AS (
  SELECT {hour.format("timestamp")} AS h, home_id, mac,
    COUNT(*) AS n, AVG(temperature) AS temperature, AVG(humidity) AS humidity,
    MIN(timestamp) AS first_at, MAX(timestamp) AS last_at, MIN(room) AS room
  FROM ({readings})
  GROUP BY h, home_id, mac
),
firsts AS (
  SELECT data.home_id AS home_id, MIN_BY(data.mac, timestamp) AS mac,
    MIN_BY(data.location, timestamp) AS location, MIN(timestamp) AS located_at
  FROM {dataset}.{selects.RAW_TABLE}
  WHERE day = @day AND data.location IS NOT NULL
  GROUP BY data.home_id
),
located AS (SELECT *, {hour.format("located_at")} AS h FROM firsts)
SELECT TIMESTAMP_MICROS(COALESCE(h.h, f.h) * {selects.MICROS_PER_HOUR}) AS hour,
  COALESCE(h.home_id, f.home_id) AS home_id, COALESCE(h.mac, f.mac) AS mac,
  COALESCE(h.n, 0) AS n, h.temperature, h.humidity, h.first_at, h.last_at, h.room,
  f.location, f.located_at
FROM hours AS h
FULL JOIN located AS f ON f.home_id = h.home_id AND f.mac = h.mac AND f.h = h.h
"""  # noqa: S608 - a checked dataset name and constants
    return dialects.transpile(text, dialect)


def _hours(first: date, last: date) -> dict[str, ParamValue]:
    """The UTC hours of the days `first..last`, as the rollup's partition filter."""
    start = datetime.combine(first, datetime.min.time(), UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    return {"day_start": start, "day_end": end}


SPAN: Final = "hour >= @day_start AND hour < @day_end"


def _closed(days: list[date], today: date) -> None:
    if len(days) > MAX_DAYS:
        raise ValueError(f"days: {len(days)} days in one call; at most {MAX_DAYS}")
    open_days = [d.isoformat() for d in days if d >= today]
    if open_days:
        raise ValueError(f"day: {open_days[0]!r} has not closed yet (today is {today}, UTC)")


def write_days(warehouse: Warehouse, days: list[date], today: date | None = None) -> int:
    """Write each day's rows, replacing the day's former rows; the days written. (No count
    of the rows: on BigQuery it would read the day's `hour` column again.)"""
    today = today or datetime.now(UTC).date()
    _closed(days, today)
    dataset, dialect = checked(warehouse.dataset), dialects.dialect_of(warehouse)
    delete = f"DELETE FROM {dataset}.{TABLE} WHERE {SPAN}"  # noqa: S608
    for day in days:
        warehouse.query(delete, _hours(day, day))
        warehouse.query(insert_sql(dataset, dialect), {"day": day})
        log.info("rollup day written", extra={"day": day.isoformat(), "table": TABLE})
    return len(days)


def missing_days(
    warehouse: Warehouse, first: date, last: date, today: date | None = None
) -> list[date]:
    """The closed days of `first..last` with no row in the rollup."""
    today = today or datetime.now(UTC).date()
    dataset = checked(warehouse.dataset)
    sql = dialects.transpile(
        f"SELECT DISTINCT DATE(hour) AS day FROM {dataset}.{TABLE} WHERE {SPAN}",  # noqa: S608
        dialects.dialect_of(warehouse),
    )
    present = set(warehouse.query(sql, _hours(first, last))["day"].to_pylist())
    span = (min(last, today - timedelta(days=1)) - first).days + 1
    return [
        first + timedelta(days=i)
        for i in range(max(0, span))
        if first + timedelta(days=i) not in present
    ]


def fill(warehouse: Warehouse, first: date, last: date, today: date | None = None) -> list[date]:
    """Write the closed days of `first..last` that the rollup lacks; the days written."""
    days = missing_days(warehouse, first, last, today)
    write_days(warehouse, days, today)
    return days
