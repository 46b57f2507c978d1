"""Model 3's per-reading and per-hour work, as one GoogleSQL definition for every warehouse.

`scoring/dialects.py` transpiles it (DuckDB) or makes it a script whose shared CTEs are temp
tables (BigQuery, `MATERIALISED`), and puts in the week's time-zone tables
(`scoring/zones.py`). What the main query does, in order (each a CTE below):
1. `located`: each home's earliest located reading of the UTC week, parsed once per
   distinct location (which gets an integer id, `place`); its time-zone class from the
   cells of `zone_cells`.
2. The nearest weather point within 50 km (each distinct point gets an integer id,
   `point`, and everything after joins on integers): `homes`, one row per home; per weather
   point and time-zone class and hour: outdoor temperature and vapour density (gaps filled
   from the day's, then the week's mean), their exponentially weighted running mean (the
   surface's outdoor temperature) and EN 16798-1's running mean of the local days before;
   then `point_hours`: the hour's local day and hour and the limits it is judged against
   (adaptive comfort range, TM52's upper limit, moisture excess limit), once per point-hour,
   not per sensor-hour (point 0: homes without weather).
3. `readings` (raw source only): the rows of each home's own local week (the table, only
   the columns the model needs, copies grouped away; `day BETWEEN` prunes partitions), with
   their local hour index `k`.
4. `sensor_hours`: one row per sensor and local hour: the readings' count, mean
   temperature and RH, first and last instant, room type. The only pass over the readings,
   or the daily rollup's rows of the week (`scoring/selects.py`).
5. `hours`: each sensor-hour joined to its home and its point-hour by integer keys (no
   location travels with the hours), then the physics per sensor-hour, nominal and at the
   sensor's stated accuracy both ways (colder and damper, warmer and drier): severities,
   comfort credit, surface RH.
6. The final SELECT: per sensor and local day, sums over its observed hours, the readings,
   and the hours' reading spacings from which `scoring/hazards.py` infers the interval;
   the home's location and whether it has weather come from its row of `homes`, after the
   sums (`scoring/finals.py`, with each room's daily ranges for the certificates).
"""

from __future__ import annotations

from functools import cache
from typing import Final

from scoring import dialects, selects
from scoring import thresholds as th
from scoring.finals import (
    SCENARIOS,
    daily_select,
    hourly_select,
)
from scoring.sql_parts import (
    cell,
    checked,
    clamp,
    haversine_km,
    points,
    psat,
    ramp,
    vapour_density,
)

MICROS_PER_HOUR: Final = 3_600_000_000
HOURS_BEFORE: Final = 168  # the week before, for the running means
GRID_LAST_HOUR: Final = 175  # a local week has at most 169 hours (169.5 at Lord Howe)
CELL_LEVELS: Final = 5

# The CTEs read along many reference paths, each a temp table of the BigQuery script, which
# would evaluate them once per path (`dialects.script`): `located`, a pass over the week's
# table, along 33, the weather table along 23. DuckDB materialises such CTEs itself. Only
# from the rollup: each statement of a script bills the columns it reads, and `located`'s
# own pass over the raw week (day, timestamp, home, location) would add two thirds to the
# raw path's bytes, where a CTE evaluated again is billed once (livability/finops/scans.py).
MATERIALISED: Final = (
    "zone_classes",
    "zone_cells",
    "located",
    "home_points",
    "weather_points",
    "homes",
    "weather_hours",
    "point_hours",
)


@cache
def locations_query(
    dataset: str, dialect: str, source: selects.Source = "raw", *, one_home: bool = False
) -> str:
    """The week's distinct home locations with their cell keys (for `zones.plan`);
    `one_home`: those of `@home_id`."""
    source_sql = selects.week_locations(checked(dataset), source, one_home)
    cells = ", ".join(f"{cell(level)} AS cell{level}" for level in range(CELL_LEVELS))
    text = f"""
WITH located AS ({source_sql}),
points AS ({points("located")})
SELECT wkt, lon, lat, {cells} FROM points WHERE lat IS NOT NULL ORDER BY wkt"""  # noqa: S608
    return dialects.transpile(text, dialect)


def _scenario(suffix: str, dt: float, drh: float) -> str:
    """Readings shifted by (dt, drh): temperature, RH, vapour pressure, surface temperature."""
    t = f"(t_in + {dt})"
    rh = clamp(f"rh_in + {drh}", 0.0, 100.0)
    return f""",
    {t} AS t{suffix},
    {rh} AS rh{suffix},
    {rh} / 100 * {psat(t)} AS pv{suffix},
    t_damped + {th.DEFAULT_FRSI} * ({t} - t_damped) AS tsi{suffix}"""


def _severities(suffix: str) -> str:
    """Severities in [0, 1] and the comfort credit of one sensor-hour in one scenario."""
    t, rh, rh_si = f"t{suffix}", f"rh{suffix}", f"rh_si{suffix}"
    tm52 = ramp(f"{t} - theta_max", ((0.0, 0.0), (th.TM52_UPPER_K, 1.0)))
    heat = f"GREATEST({ramp(t, th.DAY_KNOTS)}, IF(free_running, {tm52}, 0))"
    damp = ramp(rh_si, ((th.MOULD_CRITERION_RH, 0.0), (th.CONDENSATION_RH, 1.0)))
    below = f"GREATEST(0, comfort_low - {t})"
    above = f"GREATEST(0, {t} - comfort_high)"
    temp_credit = f"GREATEST(0, 1 - ({below} + {above}) / {th.CAT_III_MARGIN_K})"
    rh_credit = (
        f"IF(wet, 1, GREATEST(0, 1 - GREATEST(0, {rh} - {th.RH_COMFORT_HIGH})"
        f" / {th.RH_COMFORT_MARGIN}))"
    )
    return f""",
    {ramp(t, th.COLD_KNOTS)} AS sev_cold{suffix},
    {heat} AS sev_heat{suffix},
    IF(bedlike AND night, {ramp(t, th.NIGHT_KNOTS)}, 0) AS sev_night{suffix},
    {damp} AS sev_damp{suffix},
    LEAST({temp_credit}, {rh_credit}) AS credit{suffix}"""


def _local_minute(k: str, z: str = "z") -> str:
    """Minutes of local time from the local week's first midnight to the start of hour `k`
    of the UTC grid (`k` hours after it), the class `z`'s clock changes included."""
    return (
        f"60 * {k} + IF({k} >= {z}.t1, {z}.s1, 0) - IF({z}.t1 <= 0, {z}.s1, 0)"
        f" + IF({k} >= {z}.t2, {z}.s2, 0) - IF({z}.t2 <= 0, {z}.s2, 0)"
    )


# SQLGlot drops the parentheses of DIV's and MOD's first argument for DuckDB unless doubled:
# every compound argument below is wrapped twice.
def _local_day(m: str) -> str:
    return f"DIV((({m}) + 20160), 1440) - 14"


def _local_hour(m: str) -> str:
    return f"DIV(MOD((({m}) + 20160), 1440), 60)"


def _zone_ctes(located: str) -> str:
    joins = "".join(
        f"\n  LEFT JOIN zone_cells AS c{level} ON c{level}.level = {level}"
        f" AND c{level}.cell = {cell(level, 'p.lon', 'p.lat')}"
        for level in range(CELL_LEVELS)
    )
    classes = ", ".join(f"c{level}.cls" for level in reversed(range(CELL_LEVELS)))
    return f"""
zone_classes AS (SELECT * FROM {dialects.ZONE_CLASSES}),
zone_cells AS (SELECT * FROM {dialects.ZONE_CELLS}),
located AS ({located}
),
home_points AS (
  SELECT ROW_NUMBER() OVER (ORDER BY wkt) AS place, *
  FROM ({points("located")}
  )
),
homes0 AS (
  SELECT l.home_id, p.place, p.lon, p.lat, COALESCE({classes}, 0) AS cls
  FROM located AS l
  LEFT JOIN home_points AS p ON p.wkt = l.wkt{joins}
),
class_local AS (
  SELECT cls, k, {_local_day("m")} AS d, {_local_hour("m")} AS local_hour
  FROM (
    SELECT z.cls, k, {_local_minute("k")} AS m
    FROM zone_classes AS z
    CROSS JOIN UNNEST(GENERATE_ARRAY(-{HOURS_BEFORE}, {GRID_LAST_HOUR})) AS k
    WHERE k < z.hours
  )
),"""  # noqa: S608 - a checked dataset name and constants


def _weather_ctes(dataset: str) -> str:
    tau = th.SURFACE_TIME_CONSTANT_H
    window = "PARTITION BY point, cls ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    weights = " ".join(
        f"WHEN {lag} THEN {weight}" for lag, weight in enumerate(th.RUNNING_MEAN_WEIGHTS, start=1)
    )
    return f"""
weather AS (
  SELECT ST_ASTEXT(data.location) AS wkt, UNIX_MICROS(timestamp) AS us,
    data.temperature AS t_out, {vapour_density("data.temperature", "data.humidity")} AS v_out
  FROM {dataset}.weather_data_dedup
  WHERE day BETWEEN @weather_first_day AND @read_last_day
    AND timestamp >= @weather_start AND timestamp < @read_end
    AND data.location IS NOT NULL AND data.temperature IS NOT NULL
),
weather_points AS (
  SELECT ROW_NUMBER() OVER (ORDER BY wkt) AS point, *
  FROM ({points("weather")}
  )
),
nearest AS (
  SELECT h.place, w.point
  FROM home_points AS h
  CROSS JOIN weather_points AS w
  WHERE h.lat IS NOT NULL AND w.lat IS NOT NULL
    AND ABS(h.lat - w.lat) <= {th.NEAREST_WEATHER_MAX_KM / 100}
    AND {haversine_km("h.lon", "h.lat", "w.lon", "w.lat")} <= {th.NEAREST_WEATHER_MAX_KM}
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY h.place
    ORDER BY {haversine_km("h.lon", "h.lat", "w.lon", "w.lat")}, w.lon, w.lat
  ) = 1
),
homes AS (
  SELECT h.home_id, h.lon, h.lat, h.cls, n.point
  FROM homes0 AS h
  LEFT JOIN nearest AS n ON n.place = h.place
),
pairs AS (SELECT DISTINCT point, cls FROM homes WHERE point IS NOT NULL),
weather_hours AS (
  SELECT p.point, p.cls,
    DIV((w.us - z.start_us + {HOURS_BEFORE * MICROS_PER_HOUR}), {MICROS_PER_HOUR})
      - {HOURS_BEFORE} AS k,
    AVG(w.t_out) AS t_out, AVG(w.v_out) AS v_out
  FROM weather AS w
  JOIN weather_points AS wp ON wp.wkt = w.wkt
  JOIN pairs AS p ON p.point = wp.point
  JOIN zone_classes AS z ON z.cls = p.cls
  WHERE w.us >= z.start_us - {HOURS_BEFORE * MICROS_PER_HOUR} AND w.us < z.end_us
  GROUP BY p.point, p.cls, k
),
weather_days AS (
  SELECT w.point, w.cls, c.d, AVG(w.t_out) AS t_day, AVG(w.v_out) AS v_day
  FROM weather_hours AS w JOIN class_local AS c ON c.cls = w.cls AND c.k = w.k
  GROUP BY w.point, w.cls, c.d
),
weather_week AS (
  SELECT point, cls, AVG(t_out) AS t_week, AVG(v_out) AS v_week
  FROM weather_hours WHERE k >= 0 GROUP BY point, cls
),
running_means AS (
  SELECT p.point, p.cls, d.d,
    SUM(CASE d.d - wd.d {weights} END * wd.t_day)
      / SUM(CASE d.d - wd.d {weights} END) AS trm
  FROM pairs AS p
  CROSS JOIN (SELECT d FROM UNNEST(GENERATE_ARRAY(0, {th.DAYS_PER_WEEK - 1})) AS d) AS d
  JOIN weather_days AS wd
    ON wd.point = p.point AND wd.cls = p.cls AND wd.d BETWEEN d.d - 7 AND d.d - 1
  GROUP BY p.point, p.cls, d.d
),
filled AS (
  SELECT p.point, p.cls, c.k, c.d,
    COALESCE(wh.t_out, wd.t_day, ww.t_week) AS t_out,
    COALESCE(wh.v_out, wd.v_day, ww.v_week) AS v_out
  FROM pairs AS p
  JOIN class_local AS c ON c.cls = p.cls
  LEFT JOIN weather_hours AS wh ON wh.point = p.point AND wh.cls = p.cls AND wh.k = c.k
  LEFT JOIN weather_days AS wd ON wd.point = p.point AND wd.cls = p.cls AND wd.d = c.d
  LEFT JOIN weather_week AS ww ON ww.point = p.point AND ww.cls = p.cls
),
outdoor AS (
  SELECT f.point, f.cls, f.k, f.t_out, f.v_out,
    f.damped_sum / f.damped_weight AS t_damped,
    COALESCE(rm.trm, wd.t_day, ww.t_week) AS trm
  FROM (
    SELECT *,
      SUM(EXP((k + {HOURS_BEFORE}) / {tau}) * t_out) OVER ({window}) AS damped_sum,
      SUM(EXP((k + {HOURS_BEFORE}) / {tau})) OVER ({window}) AS damped_weight
    FROM filled WHERE t_out IS NOT NULL
  ) AS f
  LEFT JOIN running_means AS rm ON rm.point = f.point AND rm.cls = f.cls AND rm.d = f.d
  LEFT JOIN weather_days AS wd ON wd.point = f.point AND wd.cls = f.cls AND wd.d = f.d
  LEFT JOIN weather_week AS ww ON ww.point = f.point AND ww.cls = f.cls
  WHERE f.k >= 0
),{_point_hours()}"""  # noqa: S608 - a checked dataset name and constants


def _point_hours() -> str:
    """`point_hours`: per weather point, time-zone class and hour of the week, the outdoor
    side and the limits an hour is judged against, which depend on no sensor. Point 0 stands
    for homes without weather: the same expressions over no outdoor values give their
    defaults, exactly as a sensor-hour computed them."""
    upper_trm = clamp("trm_or_cold", *th.UPPER_LIMIT_TRM_RANGE)
    lower_trm = clamp("trm_or_cold", *th.LOWER_LIMIT_TRM_RANGE)
    excess_limit = clamp(
        f"({th.MOISTURE_EXCESS_ZERO_AT_C} - t_out) / {th.MOISTURE_EXCESS_ZERO_AT_C}", 0, 1
    )
    return f"""
point_hours AS (
  SELECT point, cls, k, d, local_hour, has_weather, night, part, t_out, t_damped, v_out, trm,
    free_running,
    {th.ADAPTIVE_SLOPE} * {upper_trm} + {th.HEAT_INTERCEPT_C} AS theta_max,
    {th.ADAPTIVE_SLOPE} * {lower_trm} + {th.COMFORT_INTERCEPT_C} - {th.CAT_II_BELOW_K}
      AS comfort_low,
    {th.ADAPTIVE_SLOPE} * {upper_trm} + {th.COMFORT_INTERCEPT_C} + {th.CAT_II_ABOVE_K}
      AS comfort_high,
    {th.MOISTURE_EXCESS_AT_0C} * {excess_limit} AS moisture_excess_limit
  FROM (
    SELECT point, cls, k, d, local_hour, point > 0 AS has_weather,
      local_hour >= {th.NIGHT_START_HOUR} OR local_hour < {th.NIGHT_END_HOUR} AS night,
      DIV(local_hour, {24 // th.PARTS_OF_DAY}) AS part,
      COALESCE(t_out, {th.NO_WEATHER_OUTDOOR_C}) AS t_out,
      COALESCE(t_damped, {th.NO_WEATHER_OUTDOOR_C}) AS t_damped,
      v_out, trm,
      COALESCE(trm >= {th.FREE_RUNNING_TRM_C}, FALSE) AS free_running,
      COALESCE(trm, {th.UPPER_LIMIT_TRM_RANGE[0]}) AS trm_or_cold
    FROM (
      SELECT p.point, p.cls, c.k, c.d, c.local_hour, o.t_out, o.t_damped, o.v_out, o.trm
      FROM pairs AS p
      JOIN class_local AS c ON c.cls = p.cls AND c.k >= 0
      LEFT JOIN outdoor AS o ON o.point = p.point AND o.cls = p.cls AND o.k = c.k
      UNION ALL
      SELECT 0, cls, k, d, local_hour, NULL, NULL, NULL, NULL FROM class_local WHERE k >= 0
    )
  )
),"""  # noqa: S608 - constants only


def hourly_ctes(
    dataset: str,
    *,
    one_home: bool = False,
    one_class: bool = False,
    source: selects.Source = "raw",
    exact_storage: bool = False,
    sliced: bool = False,
) -> str:
    """The CTEs down to `hours`, GoogleSQL; `one_home` adds `home_id = @home_id`, `sliced`
    `MOD(home_id, @slices) = @slice`;
    `one_class`: every home of the week is in one time-zone class (the usual deployment), so
    the readings need no join with their homes to find their local hour. `source`: the raw
    readings or the daily rollup (`scoring/selects.py`); `exact_storage`: the warehouse stores
    each row once (DuckDB), so the raw readings need no de-duplication."""
    dataset = checked(dataset)
    if source not in selects.SOURCES:
        raise ValueError(f"no readings source {source!r}: one of {selects.SOURCES}")
    inputs = "".join(_scenario(*s) for s in SCENARIOS)
    surfaces = "".join(
        f",\n    LEAST(100, 100 * pv{s} / {psat(f'tsi{s}')}) AS rh_si{s}" for s, _, _ in SCENARIOS
    )
    severities = "".join(_severities(suffix) for suffix, _, _ in SCENARIOS)
    wet = ", ".join(f"'{room}'" for room in th.WET_ROOMS)
    hours = selects.sensor_hours(
        dataset,
        source,
        one_home=one_home,
        one_class=one_class,
        exact_storage=exact_storage,
        sliced=sliced,
    )
    return f"""
WITH{_zone_ctes(selects.located(dataset, source, one_home, sliced))}{_weather_ctes(dataset)}{hours}
-- The sensor-hours meet their home (by id) and their point-hour (by integers): the limits
-- come computed, and no location travels with the hours.
located_hours AS (
  SELECT
    s.home_id, s.mac, s.cls, s.k, o.d, o.local_hour, s.n, s.first_us, s.last_us,
    s.t_in, s.rh_in, s.room, o.has_weather, o.night, o.part,
    s.room IS NULL OR s.room = 'bedroom' AS bedlike,
    COALESCE(s.room IN ({wet}), FALSE) AS wet,
    o.t_out, o.t_damped, o.v_out, o.trm, o.free_running, o.theta_max, o.comfort_low,
    o.comfort_high,
    {vapour_density("s.t_in", "s.rh_in")} - o.v_out AS moisture_excess,
    o.moisture_excess_limit
  FROM sensor_hours AS s
  LEFT JOIN homes AS h ON h.home_id = s.home_id
  LEFT JOIN point_hours AS o ON o.point = COALESCE(h.point, 0) AND o.cls = s.cls AND o.k = s.k
),
inputs AS (SELECT *{inputs} FROM located_hours),
surfaces AS (SELECT *{surfaces} FROM inputs),
hours AS (SELECT *, ROUND(t_in - theta_max) AS tm52_dt{severities} FROM surfaces)"""  # noqa: S608


@cache
def render(
    dialect: str,
    dataset: str,
    select: str = "daily",
    *,
    one_home: bool = False,
    one_class: bool = False,
    source: selects.Source = "raw",
    sliced: bool = False,
) -> str:
    """The main query for `dialect` (its zone tables still placeholders: `dialects.fill`)."""
    final = {"daily": daily_select, "hourly": hourly_select}[select]()
    ctes = hourly_ctes(
        dataset,
        one_home=one_home,
        one_class=one_class,
        source=source,
        exact_storage=dialect == "duckdb",
        sliced=sliced,
    )
    return compose(ctes, final, dialect, script=source == "rollup")


def compose(ctes: str, final: str, dialect: str, *, script: bool = True) -> str:
    """`hourly_ctes` and a SELECT from them, for `dialect`: on BigQuery with `script`, a
    script whose shared CTEs are temp tables (`MATERIALISED`); otherwise one query."""
    if dialect == "bigquery" and script:
        return dialects.script(ctes + final, MATERIALISED)
    return dialects.transpile(ctes + final, dialect)


dialect_of = dialects.dialect_of
DIALECTS = dialects.DIALECTS
