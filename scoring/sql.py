"""Model 2's per-reading and per-hour work, as one SQL definition for every warehouse.

The query is written once, in the warehouse port's language (GoogleSQL, as `Warehouse.query`
specifies: BigQuery's standard SQL with `@name` parameters), and SQLGlot transpiles it for the
embedded DuckDB. Three spatial functions have no DuckDB counterpart without the spatial
extension, which cannot be installed here; `_for_duckdb` rewrites them for the WKT text DuckDB
stores (`ST_ASTEXT` and `ST_GEOGFROMTEXT` are the identity there, `ST_X`/`ST_Y` read the
numbers out of `POINT(lon lat)`). GREATEST and LEAST keep DuckDB's cheaper form there (see
`_duckdb_node`).

What the query does, in order (each a CTE below):
1. `readings`: the week's rows from the de-duplicated view, only the columns the model needs;
   `day BETWEEN` prunes partitions, the `timestamp` bounds make the week exact.
2. `sensor_hours`: one row per sensor and hour: mean temperature and RH, the share of the
   hour's six 10-minute slots that hold a reading, and the earliest located reading's place.
   This is the only pass over the readings.
3. Locations are parsed once per distinct location (`home_points`, `weather_points`), and each
   home is matched to its nearest weather point within 50 km.
4. `outdoor`: per weather point and hour of the week, the outdoor temperature and vapour
   density (gaps filled from the day's, then the week's mean) and the running-mean outdoor
   temperature of EN 16798-1 from the 7 days before each day.
5. `hours`: the physics per sensor-hour, for the nominal readings and for the sensor's stated
   accuracy both ways (colder and damper, warmer and drier): each hazard's severity in [0, 1],
   the comfort credit, surface RH.
6. The final SELECT: per sensor and day, coverage-weighted sums. Polars
   (`scoring/model.py`) turns those into hazards, the interval and the grade.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Final

import sqlglot
from sqlglot import exp

from schemas import geo
from scoring import thresholds as th

DIALECTS: Final = ("bigquery", "duckdb")
# A WKT point as BigQuery's ST_ASTEXT and the contract write it: POINT(lon lat).
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MICROS_PER_HOUR: Final = 3_600_000_000
MICROS_PER_SLOT: Final = MICROS_PER_HOUR // th.SLOTS_PER_HOUR
DEGREES_TO_RADIANS: Final = 0.017453292519943295

# (name, temperature shift, RH shift): the nominal readings and the sensor's accuracy.
SCENARIOS: Final = (
    ("", 0.0, 0.0),
    ("_cd", -th.SENSOR_ACCURACY_C, th.SENSOR_ACCURACY_RH),  # colder and damper
    ("_wd", th.SENSOR_ACCURACY_C, -th.SENSOR_ACCURACY_RH),  # warmer and drier
)


def _psat(t: str) -> str:
    """Saturation vapour pressure over water, hPa (Magnus, WMO-No. 8)."""
    return f"({th.MAGNUS_HPA} * EXP({th.MAGNUS_B} * ({t}) / ({th.MAGNUS_C} + ({t}))))"


def _clamp(value: str, low: float, high: float) -> str:
    return f"LEAST({high}, GREATEST({low}, {value}))"


def _severity(excess: str, scale: float) -> str:
    """1 - exp(-excess/scale): 0 at the limit, approaching 1; never more than a whole hour."""
    return f"(1 - EXP(-GREATEST(0, {excess}) / {scale}))"


def _scenario_inputs(suffix: str, dt: float, drh: float) -> str:
    """Readings shifted by (dt, drh), their vapour pressure and the surface temperature."""
    t = f"(t_in + {dt})"
    rh = _clamp(f"rh_in + {drh}", 0.0, 100.0)
    return f""",
    {t} AS t{suffix},
    {rh} AS rh{suffix},
    {rh} / 100 * {_psat(t)} AS pv{suffix},
    t_out + {th.DEFAULT_FRSI} * ({t} - t_out) AS tsi{suffix}"""


def _scenario_surface(suffix: str) -> str:
    return f""",
    LEAST(100, 100 * pv{suffix} / {_psat(f"tsi{suffix}")}) AS rh_si{suffix}"""


def _scenario_columns(suffix: str) -> str:
    """Severities and comfort credit of one sensor-hour in one scenario."""
    t, rh = f"t{suffix}", f"rh{suffix}"
    cold = f"GREATEST(0, {th.COLD_LIMIT_C} - {t}) + GREATEST(0, {th.COLD_SEVERE_C} - {t})"
    heat = f"GREATEST({t} - theta_max, IF(night, {t} - {th.NIGHT_LIMIT_C}, 0))"
    below = f"GREATEST(0, comfort_low - {t})"
    above = f"GREATEST(0, {t} - comfort_high)"
    temp_credit = f"GREATEST(0, 1 - ({below} + {above}) / {th.CAT_III_MARGIN_K})"
    rh_credit = (
        f"GREATEST(0, 1 - GREATEST(0, {rh} - {th.RH_COMFORT_HIGH}) / {th.RH_COMFORT_MARGIN})"
    )
    return f""",
    {_severity(cold, th.COLD_SCALE_K)} AS sev_cold{suffix},
    {_severity(heat, th.HEAT_SCALE_K)} AS sev_heat{suffix},
    {_severity(f"rh_si{suffix} - {th.DAMP_ONSET_RH}", th.DAMP_SCALE_RH)} AS sev_damp{suffix},
    LEAST({temp_credit}, {rh_credit}) AS credit{suffix}"""


def _scenario_sums(suffix: str) -> str:
    return "".join(
        f",\n  SUM(covered * {column}{suffix}) AS {column}{suffix}"
        for column in ("sev_cold", "sev_heat", "sev_damp", "credit")
    )


def _running_mean_weight() -> str:
    cases = " ".join(
        f"WHEN {lag} THEN {weight}" for lag, weight in enumerate(th.RUNNING_MEAN_WEIGHTS, start=1)
    )
    return f"CASE d.d - wd.dix {cases} END"


def _vapour_density(t: str, rh: str) -> str:
    """Water vapour density, g/m3, from temperature (C) and RH (%)."""
    return f"({th.VAPOUR_DENSITY_FACTOR} * ({rh}) / 100 * {_psat(t)} / ({th.KELVIN} + ({t})))"


def _haversine_km(lon1: str, lat1: str, lon2: str, lat2: str) -> str:
    r = DEGREES_TO_RADIANS
    a = (
        f"POW(SIN(({lat2} - {lat1}) * {r / 2}), 2) + COS({lat1} * {r}) * COS({lat2} * {r}) "
        f"* POW(SIN(({lon2} - {lon1}) * {r / 2}), 2)"
    )
    return f"(2 * {th.EARTH_RADIUS_KM} * ASIN(SQRT(LEAST(1, {a}))))"


def _points(source: str) -> str:
    """Distinct WKT `wkt` of `source` with lon, lat; NULL when not a valid point."""
    valid = "lon0 BETWEEN -180 AND 180 AND lat0 BETWEEN -90 AND 90"
    return f"""
  SELECT wkt, IF({valid}, lon0, NULL) AS lon, IF({valid}, lat0, NULL) AS lat
  FROM (
    SELECT wkt, ST_X(ST_GEOGFROMTEXT(wkt)) AS lon0, ST_Y(ST_GEOGFROMTEXT(wkt)) AS lat0
    FROM (SELECT DISTINCT wkt FROM {source} WHERE wkt IS NOT NULL)
  )"""  # noqa: S608 - names are constants of this module


def hourly_ctes(dataset: str, *, one_home: bool = False) -> str:
    """The CTEs down to `hours`, GoogleSQL; `one_home` adds `data.home_id = @home_id`."""
    if not _IDENTIFIER.match(dataset):
        raise ValueError(f"dataset {dataset!r} is not a valid dataset name")
    home_filter = "AND data.home_id = @home_id" if one_home else ""
    upper_trm = _clamp("trm_or_cold", *th.UPPER_LIMIT_TRM_RANGE)
    lower_trm = _clamp("trm_or_cold", *th.LOWER_LIMIT_TRM_RANGE)
    offset = f"MOD(hour + CAST(ROUND(COALESCE(lon, 0) / 15) AS INT64) + {24 * 7}, 24)"
    inputs = "".join(_scenario_inputs(*s) for s in SCENARIOS)
    surfaces = "".join(_scenario_surface(suffix) for suffix, _, _ in SCENARIOS)
    scenarios = "".join(_scenario_columns(suffix) for suffix, _, _ in SCENARIOS)
    v_in = _vapour_density("t_in", "rh_in")
    return f"""
WITH readings AS (
  SELECT
    data.home_id AS home_id,
    data.mac AS mac,
    DIV((UNIX_MICROS(timestamp) - UNIX_MICROS(@start)), {MICROS_PER_HOUR}) AS hour,
    DIV(MOD((UNIX_MICROS(timestamp) - UNIX_MICROS(@start)), {MICROS_PER_HOUR}),
        {MICROS_PER_SLOT}) AS slot,
    timestamp,
    data.temperature AS temperature,
    data.humidity AS humidity,
    data.location AS location
  FROM {dataset}.sensor_thermo_beacon_dedup
  WHERE day BETWEEN @first_day AND @last_day
    AND timestamp >= @start AND timestamp < @end
    AND data.temperature IS NOT NULL AND data.humidity IS NOT NULL
    {home_filter}
),
sensor_hours AS (
  SELECT
    home_id, mac, hour,
    COUNT(*) AS readings,
    AVG(temperature) AS t_in,
    AVG(humidity) AS rh_in,
    BIT_COUNT(BIT_OR(1 << slot)) / {th.SLOTS_PER_HOUR} AS covered,
    MIN_BY(location, IF(location IS NULL, NULL, timestamp)) AS location,
    MIN(IF(location IS NULL, NULL, timestamp)) AS located_at
  FROM readings
  GROUP BY home_id, mac, hour
),
home_locations AS (
  SELECT home_id, ST_ASTEXT(MIN_BY(location, located_at)) AS wkt
  FROM sensor_hours
  GROUP BY home_id
),
home_points AS ({_points("home_locations")}
),
weather AS (
  SELECT
    ST_ASTEXT(data.location) AS wkt,
    DATE_DIFF(day, @first_day, DAY) AS dix,
    DIV((UNIX_MICROS(timestamp) - UNIX_MICROS(@start)), {MICROS_PER_HOUR}) AS hour,
    data.temperature AS t_out,
    {_vapour_density("data.temperature", "data.humidity")} AS v_out
  FROM {dataset}.weather_data_dedup
  WHERE day BETWEEN @weather_first_day AND @last_day
    AND timestamp >= @weather_start AND timestamp < @end
    AND data.location IS NOT NULL AND data.temperature IS NOT NULL
),
weather_points AS ({_points("weather")}
),
nearest AS (
  SELECT h.wkt AS home_wkt, w.wkt AS weather_wkt
  FROM home_points AS h
  CROSS JOIN weather_points AS w
  WHERE h.lat IS NOT NULL AND w.lat IS NOT NULL
    AND ABS(h.lat - w.lat) <= {th.NEAREST_WEATHER_MAX_KM / 100}
    AND {_haversine_km("h.lon", "h.lat", "w.lon", "w.lat")} <= {th.NEAREST_WEATHER_MAX_KM}
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY h.wkt
    ORDER BY {_haversine_km("h.lon", "h.lat", "w.lon", "w.lat")}, w.lon, w.lat
  ) = 1
),
homes AS (
  SELECT l.home_id, p.lon, p.lat, n.weather_wkt
  FROM home_locations AS l
  LEFT JOIN home_points AS p ON p.wkt = l.wkt
  LEFT JOIN nearest AS n ON n.home_wkt = l.wkt
),
used_points AS (
  SELECT DISTINCT weather_wkt AS wkt FROM homes WHERE weather_wkt IS NOT NULL
),
weather_days AS (
  SELECT wkt, dix, AVG(t_out) AS t_day, AVG(v_out) AS v_day
  FROM weather
  GROUP BY wkt, dix
),
weather_week AS (
  SELECT wkt, AVG(t_out) AS t_week, AVG(v_out) AS v_week
  FROM weather
  WHERE hour >= 0
  GROUP BY wkt
),
weather_hours AS (
  SELECT wkt, hour, AVG(t_out) AS t_out, AVG(v_out) AS v_out
  FROM weather
  WHERE hour >= 0
  GROUP BY wkt, hour
),
week_days AS (
  SELECT d FROM UNNEST(GENERATE_ARRAY(0, {th.DAYS_PER_WEEK - 1})) AS d
),
running_means AS (
  SELECT
    p.wkt, d.d,
    SUM({_running_mean_weight()} * wd.t_day) / SUM({_running_mean_weight()}) AS trm
  FROM used_points AS p
  CROSS JOIN week_days AS d
  JOIN weather_days AS wd ON wd.wkt = p.wkt AND wd.dix BETWEEN d.d - 7 AND d.d - 1
  GROUP BY p.wkt, d.d
),
outdoor AS (
  SELECT
    p.wkt, h.hour,
    COALESCE(wh.t_out, wd.t_day, ww.t_week) AS t_out,
    COALESCE(wh.v_out, wd.v_day, ww.v_week) AS v_out,
    COALESCE(rm.trm, wd.t_day, ww.t_week) AS trm
  FROM used_points AS p
  CROSS JOIN (
    SELECT hour FROM UNNEST(GENERATE_ARRAY(0, {th.HOURS_PER_WEEK - 1})) AS hour
  ) AS h
  LEFT JOIN weather_hours AS wh ON wh.wkt = p.wkt AND wh.hour = h.hour
  LEFT JOIN weather_days AS wd ON wd.wkt = p.wkt AND wd.dix = DIV(h.hour, 24)
  LEFT JOIN weather_week AS ww ON ww.wkt = p.wkt
  LEFT JOIN running_means AS rm ON rm.wkt = p.wkt AND rm.d = DIV(h.hour, 24)
),
located_hours AS (
  SELECT
    s.home_id, s.mac, s.hour, DIV(s.hour, 24) AS d, s.readings, s.covered, s.t_in, s.rh_in,
    h.lon, h.lat, h.weather_wkt IS NOT NULL AS has_weather,
    COALESCE(o.t_out, {th.NO_WEATHER_OUTDOOR_C}) AS t_out,
    o.v_out,
    o.trm,
    COALESCE(o.trm, {th.UPPER_LIMIT_TRM_RANGE[0]}) AS trm_or_cold
  FROM sensor_hours AS s
  JOIN homes AS h ON h.home_id = s.home_id
  LEFT JOIN outdoor AS o ON o.wkt = h.weather_wkt AND o.hour = s.hour
),
limits AS (
  SELECT
    *,
    {offset} AS local_hour,
    {th.ADAPTIVE_SLOPE} * {upper_trm} + {th.HEAT_INTERCEPT_C}
      AS theta_max,
    {th.ADAPTIVE_SLOPE} * {lower_trm}
      + {th.COMFORT_INTERCEPT_C} - {th.CAT_II_BELOW_K} AS comfort_low,
    {th.ADAPTIVE_SLOPE} * {upper_trm}
      + {th.COMFORT_INTERCEPT_C} + {th.CAT_II_ABOVE_K} AS comfort_high
  FROM located_hours
),
timed AS (
  SELECT
    *,
    local_hour >= {th.NIGHT_START_HOUR} OR local_hour < {th.NIGHT_END_HOUR} AS night,
    DIV(local_hour, {24 // th.PARTS_OF_DAY}) AS part,
    {v_in} - v_out AS moisture_excess,
    {th.MOISTURE_EXCESS_AT_0C}
      * {_clamp(f"({th.MOISTURE_EXCESS_ZERO_AT_C} - t_out) / {th.MOISTURE_EXCESS_ZERO_AT_C}", 0, 1)}
      AS moisture_excess_limit{inputs}
  FROM limits
),
surfaces AS (
  SELECT *{surfaces} FROM timed
),
hours AS (
  SELECT *{scenarios} FROM surfaces
)"""  # noqa: S608 - a checked dataset name and constants


def daily_select() -> str:
    """Per sensor and day: coverage-weighted sums the per-home step needs."""
    sums = "".join(_scenario_sums(suffix) for suffix, _, _ in SCENARIOS)
    parts = "".join(
        f",\n  SUM(IF(part = {p}, covered, 0)) AS covered_part{p}" for p in range(th.PARTS_OF_DAY)
    )
    return f"""
SELECT
  home_id, mac, d,
  ANY_VALUE(lon) AS lon,
  ANY_VALUE(lat) AS lat,
  LOGICAL_OR(has_weather) AS has_weather,
  SUM(readings) AS readings,
  SUM(covered) AS covered{parts}{sums},
  SUM(covered * t_in) AS t_in_sum,
  SUM(covered * rh_in) AS rh_in_sum,
  SUM(IF(t_in < {th.COLD_LIMIT_C}, covered, 0)) AS hours_below_18c,
  SUM(covered * GREATEST(0, {th.COLD_LIMIT_C} - t_in)) AS cold_degree_hours,
  SUM(IF(rh_in > 70, covered, 0)) AS hours_above_70rh,
  SUM(IF(t_in - theta_max >= {th.TM52_EXCEEDANCE_K}, covered, 0)) AS heat_exceedance_hours,
  SUM(IF(night AND t_in > {th.NIGHT_LIMIT_C}, covered, 0)) AS night_hours_above_26c,
  SUM(covered * rh_si) AS rh_si_sum,
  SUM(IF(rh_si >= {th.MOULD_CRITERION_RH}, covered, 0)) AS mould_hours,
  SUM(IF(rh_si >= {th.CONDENSATION_RH}, covered, 0)) AS condensation_hours,
  SUM(IF(moisture_excess IS NULL, 0, covered)) AS excess_covered,
  SUM(covered * moisture_excess) AS moisture_excess_sum,
  SUM(covered * moisture_excess_limit) AS moisture_excess_limit_sum,
  SUM(IF(rh_in < {th.DRY_AIR_RH}, covered, 0)) AS dry_hours,
  SUM(IF(has_weather, t_out, 0)) AS t_out_sum,
  SUM(IF(has_weather, trm, 0)) AS trm_sum,
  SUM(IF(has_weather, 1, 0)) AS weather_hours
FROM hours
GROUP BY home_id, mac, d
"""  # noqa: S608 - constants only


def hourly_select() -> str:
    """Per sensor-hour, for one home's chart (`livability report`)."""
    return """
SELECT
  home_id, mac, hour, covered, t_in, rh_in, rh_si, t_out, trm, has_weather, night,
  theta_max, comfort_low, comfort_high
FROM hours
ORDER BY mac, hour
"""


def _is_zero(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_number and float(node.name) == 0


def _positive_part(node: exp.Greatest) -> exp.Expression | None:
    """`GREATEST(0, x)` as `(x + ABS(x)) / 2`: the same number for every finite x (x + x
    and the halving are exact in binary floating point; a negative x gives 0), and NULL for
    a NULL x as on BigQuery. DuckDB's GREATEST costs about five times the arithmetic."""
    arguments = [node.this, *node.expressions]
    if len(arguments) != 2 or not any(_is_zero(a) for a in arguments):
        return None
    (x,) = [a for a in arguments if not _is_zero(a)] or [arguments[1]]
    add = exp.Add(this=exp.Paren(this=x.copy()), expression=exp.Abs(this=x.copy()))
    return exp.Div(this=exp.Paren(this=add), expression=exp.Literal.number(2))


def _duckdb_node(node: exp.Expression) -> exp.Expression:
    """DuckDB keeps GEOGRAPHY as WKT text: the spatial functions become text functions.

    GREATEST and LEAST keep DuckDB's own form. BigQuery's returns NULL when an argument is
    NULL, and SQLGlot guards each call with `CASE WHEN a IS NULL OR b IS NULL THEN NULL`,
    which copies every argument twice and, nested (a clamp, a severity), four and eight
    times: a good share of the per-hour work. Every GREATEST and LEAST of this query takes non-NULL
    arguments (readings are filtered to non-NULL values, the outdoor inputs are COALESCEd,
    points are filtered to valid ones), so the two forms give the same values.
    """
    if isinstance(node, exp.Greatest):
        positive = _positive_part(node)
        if positive is not None:
            return positive
    if isinstance(node, exp.Greatest | exp.Least):
        node.set("ignore_nulls", True)
        return node
    if not isinstance(node, exp.Anonymous) or not node.expressions:
        return node
    name, arg = str(node.name).upper(), node.expressions[0]
    if name in ("ST_ASTEXT", "ST_GEOGFROMTEXT") and isinstance(arg, exp.Expression):
        return arg
    if name in ("ST_X", "ST_Y"):
        pattern = geo.SQL_LONGITUDE if name == "ST_X" else geo.SQL_LATITUDE
        extracted = exp.RegexpExtract(
            this=arg, expression=exp.Literal.string(pattern), group=exp.Literal.number(1)
        )
        return exp.TryCast(this=extracted, to=exp.DataType.build("DOUBLE"))
    return node


def _for_duckdb(tree: exp.Expr) -> exp.Expr:
    # Twice: the first pass unwraps ST_GEOGFROMTEXT and ST_ASTEXT inside ST_X and ST_Y.
    return tree.transform(_duckdb_node).transform(_duckdb_node)


@cache
def render(dialect: str, dataset: str, select: str = "daily", *, one_home: bool = False) -> str:
    """The query for `dialect`, reading `dataset`; `select` is "daily" or "hourly"."""
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL dialect {dialect!r}: the model runs on {DIALECTS}")
    final = {"daily": daily_select, "hourly": hourly_select}[select]()
    source = hourly_ctes(dataset, one_home=one_home) + final
    tree = sqlglot.parse_one(source, read="bigquery")
    if dialect == "duckdb":
        tree = _for_duckdb(tree)
    # Not pretty-printed: formatting costs more than the transpiling (0.1 s a process).
    return tree.sql(dialect=dialect)


def dialect_of(warehouse: object) -> str:
    """Which SQL a warehouse adapter speaks: its `dialect` (the Warehouse port's attribute)."""
    declared = getattr(warehouse, "dialect", None)
    if isinstance(declared, str) and declared in DIALECTS:
        return declared
    raise ValueError(
        f"cannot tell which SQL {type(warehouse).__name__} speaks: give it a `dialect` "
        f"attribute, one of {DIALECTS}"
    )
