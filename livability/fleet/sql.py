"""Fleet health as one GoogleSQL definition for every warehouse; SQLGlot transpiles it.

Three queries share the readings' CTEs (`_sensor_ctes`):
- `sensors_query`: one row per home and sensor, problems first: last reading (its own and
  its home's), coverage over the last 24 h and 7 days, battery level and trend, and whether
  the gateway is silent or the battery low. At most `@max_rows` rows.
- `summary_query`: one row: homes, sensors, silent gateways, sensors below the battery
  threshold. What the hourly check logs, whatever the fleet's size.
- `dead_letters_query`: dead letters received in the period, by reason class
  (`livability.signals.reason_class`: the field a reason names, or the message-level cause).

Only the partitions needed are read: `day BETWEEN @first_day AND @last_day` on the readings
and the dead letters (BigQuery requires the filter; it prunes the rest), and only the columns
the figures need (day, timestamp, home, MAC, battery). The base tables, not the `_dedup`
views: the view's window would read `row_id` (the widest column, most of the bytes) and
`room` as well, and no figure changes with a copy a best-effort streaming insert let through
(a last reading, distinct 10-minute slots, distinct dead-letter row ids; a battery trend
weighs a copied reading twice, which moves the slope by a hair).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Final

import sqlglot

from livability import signals

DIALECTS: Final = ("bigquery", "duckdb")
# A ThermoBeacon logs a reading every 10 minutes: coverage counts the 10-minute slots that
# hold at least one reading, out of 144 a day (a faster sensor cannot exceed 1).
SLOT_SECONDS: Final = 600
SLOTS_PER_DAY: Final = 86400 // SLOT_SECONDS
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _checked(dataset: str) -> str:
    if not _IDENTIFIER.match(dataset):
        raise ValueError(f"dataset {dataset!r} is not a valid dataset name")
    return dataset


def transpile(source: str, dialect: str) -> str:
    """GoogleSQL `source` for `dialect` (the Warehouse port's `dialect`)."""
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL dialect {dialect!r}: the fleet query runs on {DIALECTS}")
    return sqlglot.transpile(source, read="bigquery", write=dialect)[0]


def _sensor_ctes(dataset: str) -> str:
    """Per sensor: its figures over [@since, @now]; `@now_s` is @now in Unix seconds, a
    gateway is silent when its home's last reading is before `@silent_before`."""
    day_ago = f"@now_s - {86400}"
    week_ago = f"@now_s - {7 * 86400}"
    slot = f"DIV(ts_s, {SLOT_SECONDS})"
    # Battery trend: the least-squares slope of percent against days, over the last 7 days.
    x = f"IF(battery IS NOT NULL AND ts_s > {week_ago}, (ts_s - @now_s) / 86400, NULL)"
    y = f"IF(ts_s > {week_ago}, battery, NULL)"
    return f"""
readings AS (
  SELECT data.home_id AS home_id, data.mac AS mac, timestamp AS ts, battery,
    UNIX_SECONDS(timestamp) AS ts_s
  FROM {dataset}.sensor_thermo_beacon
  WHERE day BETWEEN @first_day AND @last_day AND timestamp >= @since AND timestamp <= @now
),
batteries AS (
  SELECT home_id, mac, MAX_BY(battery, ts) AS battery
  FROM readings WHERE battery IS NOT NULL
  GROUP BY home_id, mac
),
per_sensor AS (
  SELECT home_id, mac, MAX(ts) AS last_reading,
    COUNT(DISTINCT IF(ts_s > {day_ago}, {slot}, NULL)) AS slots_24h,
    COUNT(DISTINCT IF(ts_s > {week_ago}, {slot}, NULL)) AS slots_7d,
    IF(VAR_POP({x}) > 0, COVAR_POP({x}, {y}) / VAR_POP({x}), NULL) AS battery_trend
  FROM readings
  GROUP BY home_id, mac
),
sensors AS (
  SELECT s.home_id, s.mac, s.last_reading,
    MAX(s.last_reading) OVER (PARTITION BY s.home_id) AS home_last_reading,
    LEAST(1.0, s.slots_24h / {SLOTS_PER_DAY}) AS coverage_24h,
    LEAST(1.0, s.slots_7d / {7 * SLOTS_PER_DAY}) AS coverage_7d,
    b.battery, s.battery_trend
  FROM per_sensor AS s
  LEFT JOIN batteries AS b ON b.home_id = s.home_id AND b.mac = s.mac
),
flagged AS (
  SELECT *,
    home_last_reading < @silent_before AS gateway_silent,
    COALESCE(battery < @low_battery, FALSE) AS battery_low
  FROM sensors
)"""  # noqa: S608 - a checked dataset name and constants


@cache
def sensors_query(dataset: str, dialect: str) -> str:
    """One row per home and sensor, silent gateways and low batteries first."""
    text = f"""WITH {_sensor_ctes(_checked(dataset))}
SELECT home_id, mac, last_reading, home_last_reading, coverage_24h, coverage_7d, battery,
  battery_trend, gateway_silent, battery_low
FROM flagged
ORDER BY gateway_silent DESC, battery_low DESC, home_id, mac
LIMIT @max_rows"""  # noqa: S608
    return transpile(text, dialect)


@cache
def summary_query(dataset: str, dialect: str) -> str:
    """One row: homes, sensors, silent gateways, sensors with a low battery."""
    text = f"""WITH {_sensor_ctes(_checked(dataset))}
SELECT COUNT(DISTINCT home_id) AS homes, COUNT(*) AS sensors,
  COUNT(DISTINCT IF(gateway_silent, home_id, NULL)) AS silent_gateways,
  COUNTIF(battery_low) AS low_battery_sensors
FROM flagged"""  # noqa: S608
    return transpile(text, dialect)


@cache
def dead_letters_query(dataset: str, dialect: str) -> str:
    """Original dead letters (not replay records) received in the period, by reason class.

    The base table, not its view (as `livability.ingest.dead_letters` reads it): rows a
    best-effort streaming insert repeated are counted once by their row id."""
    pattern, other = signals.REASON_PATTERN, signals.OTHER_REASON
    reason = f"COALESCE(REGEXP_EXTRACT(reason, r'{pattern}'), '{other}')"
    text = f"""SELECT reason_class AS reason, COUNT(DISTINCT row_id) AS dead_letters
FROM (
  SELECT {reason} AS reason_class, row_id
  FROM {_checked(dataset)}.dead_letter
  WHERE day BETWEEN @first_day AND @last_day AND received_at >= @since
    AND received_at <= @now AND replay_of IS NULL
)
GROUP BY reason_class
ORDER BY dead_letters DESC, reason
LIMIT @max_rows"""  # noqa: S608
    return transpile(text, dialect)
