"""Where the model's readings come from, in GoogleSQL: the raw table or the daily rollup.

Both sources give `scoring/sql.py` the same three things: each home's location (its earliest
located reading of the UTC week, `located`), the week's distinct home locations (for the zone
plan) and one row per sensor and local hour (`sensor_hours`: readings, mean temperature and
RH, first and last instant, room type).

- **raw**: the readings table itself, not its `_dedup` view. `row_id` hashes exactly a row's
  content, so copies that streaming let through are equal in every column the model reads
  (battery and room aside, which the row id leaves out): the readings are de-duplicated by
  grouping on those columns (the least room of the copies), and no other column is read. DuckDB
  stores each row once (`row_id` is its primary key) and needs no grouping. The location is an
  earliest value, which copies do not change: it is read without de-duplication.
- **rollup**: `sensor_hours` (schemas/sensor_hours.json, written per UTC day by
  `scoring/rollup.py`), one row per sensor and UTC hour. A local hour is a UTC hour wherever the
  week's time-zone classes start and end on whole UTC hours (`zones.ZonePlan.whole_hours`), so
  there the rollup's rows are the model's sensor-hours exactly; elsewhere (India, Nepal, Lord
  Howe, ...) the model reads raw.
"""

from __future__ import annotations

from typing import Final, Literal

MICROS_PER_HOUR: Final = 3_600_000_000
ROLLUP_TABLE: Final = "sensor_hours"
RAW_TABLE: Final = "sensor_thermo_beacon"
Source = Literal["raw", "rollup"]
SOURCES: Final = ("raw", "rollup")


def deduplicated(dataset: str, where: str, *, exact_storage: bool) -> str:
    """One row per reading of the raw table within `where` (a condition on its columns): the
    columns the model reads, grouped on where storage may hold copies."""
    columns = (
        "day, timestamp, data.home_id AS home_id, data.mac AS mac, "
        "data.temperature AS temperature, data.humidity AS humidity"
    )
    if exact_storage:
        return f"SELECT {columns}, room FROM {dataset}.{RAW_TABLE} WHERE {where}"  # noqa: S608
    return f"""SELECT {columns}, MIN(room) AS room
    FROM {dataset}.{RAW_TABLE} WHERE {where}
    GROUP BY day, timestamp, data.home_id, data.mac, data.temperature, data.humidity"""  # noqa: S608


def week_locations(dataset: str, source: Source, one_home: bool = False) -> str:
    """The UTC week's distinct locations, `wkt` (`one_home`: of `@home_id`): for the plan."""
    if source == "rollup":
        home = "AND home_id = @home_id" if one_home else ""
        return f"""SELECT DISTINCT ST_ASTEXT(location) AS wkt FROM {dataset}.{ROLLUP_TABLE}
  WHERE hour >= @start AND hour < @utc_end AND location IS NOT NULL {home}"""  # noqa: S608
    home = "AND data.home_id = @home_id" if one_home else ""
    return f"""SELECT DISTINCT ST_ASTEXT(data.location) AS wkt FROM {dataset}.{RAW_TABLE}
  WHERE day BETWEEN @first_day AND @last_day AND timestamp >= @start AND timestamp < @utc_end
    AND data.location IS NOT NULL {home}"""  # noqa: S608


def located(dataset: str, source: Source, one_home: bool, sliced: bool = False) -> str:
    """Each home's earliest located reading of the UTC week: `home_id`, `wkt`."""
    if source == "rollup":
        home = home_filter("home_id", one_home=one_home, sliced=sliced)
        return f"""
  SELECT home_id, ST_ASTEXT(MIN_BY(location, located_at)) AS wkt
  FROM {dataset}.{ROLLUP_TABLE}
  WHERE hour >= @start AND hour < @utc_end AND location IS NOT NULL {home}
  GROUP BY home_id"""  # noqa: S608
    home = home_filter("data.home_id", one_home=one_home, sliced=sliced)
    return f"""
  SELECT data.home_id AS home_id, ST_ASTEXT(MIN_BY(data.location, timestamp)) AS wkt
  FROM {dataset}.{RAW_TABLE}
  WHERE day BETWEEN @first_day AND @last_day AND timestamp >= @start AND timestamp < @utc_end
    AND data.location IS NOT NULL {home}
  GROUP BY data.home_id"""  # noqa: S608


def home_filter(column: str, *, one_home: bool, sliced: bool = False) -> str:
    """`AND ...` keeping one home (`@home_id`) or one slice of the homes (`@slice` of
    `@slices`, by home id: DuckDB's bounded memory), or nothing."""
    if one_home:
        return f"AND {column} = @home_id"
    return f"AND MOD({column}, @slices) = @slice" if sliced else ""


def _zone_join(alias: str, one_class: bool) -> str:
    if one_class:
        return "CROSS JOIN zone_classes AS z"
    return (
        f"LEFT JOIN homes AS h ON h.home_id = {alias}.home_id\n"
        "  JOIN zone_classes AS z ON z.cls = COALESCE(h.cls, 0)"
    )


def sensor_hours(
    dataset: str,
    source: Source,
    *,
    one_home: bool,
    one_class: bool,
    exact_storage: bool,
    sliced: bool = False,
) -> str:
    """The CTE bodies `readings` (raw only) and `sensor_hours`, as `name AS (...)` text."""

    def home(column: str) -> str:
        return home_filter(column, one_home=one_home, sliced=sliced)

    if source == "rollup":
        return f"""
sensor_hours AS (
  SELECT s.home_id, s.mac, z.cls,
    DIV((UNIX_MICROS(s.hour) - z.start_us), {MICROS_PER_HOUR}) AS k, s.n,
    s.temperature AS t_in, s.humidity AS rh_in,
    UNIX_MICROS(s.first_at) AS first_us, UNIX_MICROS(s.last_at) AS last_us, s.room
  FROM {dataset}.{ROLLUP_TABLE} AS s
  {_zone_join("s", one_class)}
  WHERE s.hour >= @read_start AND s.hour < @read_end AND s.n > 0
    AND UNIX_MICROS(s.hour) >= z.start_us AND UNIX_MICROS(s.hour) < z.end_us
    {home("s.home_id")}
),"""  # noqa: S608
    where = (
        "day BETWEEN @read_first_day AND @read_last_day AND timestamp >= @read_start "
        "AND timestamp < @read_end AND data.temperature IS NOT NULL "
        f"AND data.humidity IS NOT NULL {home('data.home_id')}"
    )
    return f"""
readings AS (
  SELECT r.home_id, r.mac, r.room, z.cls,
    DIV((UNIX_MICROS(r.timestamp) - z.start_us), {MICROS_PER_HOUR}) AS k,
    UNIX_MICROS(r.timestamp) AS us, r.temperature, r.humidity
  FROM ({deduplicated(dataset, where, exact_storage=exact_storage)}) AS r
  {_zone_join("r", one_class)}
  WHERE UNIX_MICROS(r.timestamp) >= z.start_us AND UNIX_MICROS(r.timestamp) < z.end_us
),
sensor_hours AS (
  SELECT home_id, mac, cls, k, COUNT(*) AS n, AVG(temperature) AS t_in,
    AVG(humidity) AS rh_in, MIN(us) AS first_us, MAX(us) AS last_us, MIN(room) AS room
  FROM readings
  GROUP BY home_id, mac, cls, k
),"""  # noqa: S608 - a checked dataset name and constants
