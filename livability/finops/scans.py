"""What scoring reads in BigQuery: logical bytes per week, by the way it reads the readings.

- `rollup` (the platform's way): the daily rollup reads each day's readings once, the columns
  the model needs (`SCORING_COLUMNS`), and writes one `sensor_hours` row per sensor and hour
  (scoring/rollup.py); the weekly job checks which of its 9 days exist, plans the zones,
  scores from the rollup's week in a script of two reads of it (the certificates' daily
  ranges come from the same rows), and reads 14 days of weather twice.
- `raw`: the zone plan's query reads the week's locations, the weekly query the needed
  columns of the week's readings (each column once per query, however often the query names
  the table), and the weather.
- `views`: main before the rollup (the `_dedup` views, their window adding `row_id` and
  `battery`), for the before/after comparison.

Sizes are BigQuery's logical sizes (`sizes.value_bytes`): the fixed-size columns of
`schemas/sensor_hours.json` from the contract, the room and the location as the readings
measure; a NULL is 0 B, so the location and its time count once per home and day. One sensor
per home, as the scenario counts readings per home. A DELETE of whole partitions (the
rollup's re-write of a day) is free; every query bills at least 10 MB per table it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from livability.finops.profile import (
    QUERY_TABLE_MIN,
    READS,
    ROLLUP_DAYS_CHECKED,
    SCORING_COLUMNS,
    SCORING_WEATHER_DAYS,
    VIEW_COLUMNS,
    Reads,
)
from livability.finops.sizes import TableSample, value_bytes
from schemas import registry

ROLLUP = "sensor_hours"
_PER_HOME_DAY = ("location", "located_at")
HOURS_PER_DAY = 24
# What the zone plan's query reads of the readings (scoring/selects.py `week_locations`), and
# what the former views' window added to it.
PLAN_COLUMNS = ("day", "timestamp", "data.location")
VIEW_WINDOW = ("row_id", "battery", "room")


def rollup_row_bytes(sensor: TableSample) -> Decimal:
    """A `sensor_hours` row without its location: the contract's fixed-size columns and the
    readings' room."""
    table = registry()[ROLLUP]
    fixed = sum(
        value_bytes(f, 0)
        for f in table.fields
        if f.type != "STRING" and f.name not in _PER_HOME_DAY
    )
    return Decimal(fixed) + sensor.column_bytes["room"]


def rollup_location_bytes(sensor: TableSample) -> Decimal:
    """The location and its time, on one row per home and day."""
    located_at = registry()[ROLLUP].column("located_at")
    return sensor.column_bytes["data.location"] + value_bytes(located_at, 0)


@dataclass(frozen=True)
class WeekScan:
    """Logical bytes one week of scoring reads, by query (each at least 10 MB per table)."""

    readings: Decimal  # the readings' needed columns (the rollup's 7 days, or the weekly query)
    rollup: Decimal  # the weekly job's reads of the rollup (days check, zone plan, model)
    weather: Decimal
    queries: int  # how many queries (each bills its 10 MB minimum per table)

    @property
    def total(self) -> Decimal:
        return self.readings + self.rollup + self.weather


def week_scan(
    homes: int,
    readings_per_day: Decimal,
    sensor: TableSample,
    weather_day_bytes: Decimal,
    reads: Reads = "rollup",
) -> WeekScan:
    """What a week of scoring `homes` reads (one sensor each, `readings_per_day` each)."""
    if reads not in READS:
        raise ValueError(f"reads: {reads!r} is not one of {READS}")
    day_readings = homes * readings_per_day
    minimum = Decimal(QUERY_TABLE_MIN)
    weather = max(minimum, weather_day_bytes * SCORING_WEATHER_DAYS)
    if reads == "views":
        # Main before the rollup: the zone plan's query, then one query for the model.
        week = max(minimum, 7 * day_readings * sensor.columns(VIEW_COLUMNS))
        plan = max(minimum, 7 * day_readings * sensor.columns((*PLAN_COLUMNS, *VIEW_WINDOW)))
        return WeekScan(week + plan, Decimal(0), weather, 2)
    if reads == "raw":
        # The zone plan's query, then the model's: one query, each column billed once (the
        # certificates' daily ranges come from its rows, scoring/ranges.py `from_daily`).
        week = max(minimum, 7 * day_readings * sensor.columns(SCORING_COLUMNS))
        plan = max(minimum, 7 * day_readings * sensor.columns(PLAN_COLUMNS))
        return WeekScan(week + plan, Decimal(0), weather, 2)
    daily = max(minimum, day_readings * sensor.columns(SCORING_COLUMNS))
    hours_day = homes * min(readings_per_day, Decimal(HOURS_PER_DAY))
    table = registry()[ROLLUP]
    hour_column = Decimal(value_bytes(table.column("hour"), 0))
    home_column = Decimal(value_bytes(table.column("home_id"), 0))
    locations = 7 * homes * rollup_location_bytes(sensor)
    checked = max(minimum, ROLLUP_DAYS_CHECKED * hours_day * hour_column)
    plan = max(minimum, 7 * hours_day * hour_column + locations)
    # The model's BigQuery script (scoring/dialects.py `script`) reads the rollup in two
    # statements (each home's location, a temp table, as BigQuery would evaluate the CTE once
    # per reference; then the sensor-hours, whose daily rows give the certificates' ranges
    # too) and the weather in two (its points, its hours). Each statement bills its columns.
    located = max(minimum, 7 * hours_day * (hour_column + home_column) + locations)
    model = max(minimum, 7 * hours_day * rollup_row_bytes(sensor) + locations)
    return WeekScan(7 * daily, checked + plan + located + model, 2 * weather, 7 + 4)


def one_home_report(sensor: TableSample, weather_day_bytes: Decimal) -> Decimal:
    """`livability report` for one home from the rollup: a zone plan each for its hourly
    series and its vector, then each of those, read that home's rows only (the clustering
    column prunes to its blocks): 4 queries, each at least 10 MB of the rollup, and the two
    main ones 10 MB or more of weather."""
    minimum = Decimal(QUERY_TABLE_MIN)
    hours = 7 * HOURS_PER_DAY * rollup_row_bytes(sensor) + 7 * rollup_location_bytes(sensor)
    weather = max(minimum, weather_day_bytes * SCORING_WEATHER_DAYS)
    return 2 * max(minimum, hours) + 2 * (max(minimum, hours) + weather)
