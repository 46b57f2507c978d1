"""Model 3's final SELECTs over the hourly CTEs of `scoring/sql.py`, and what they sum.

- `daily_select`: per sensor and local day, the sums `scoring/hazards.py` works from, and
  each room's daily ranges for the certificates (`RANGE_AGGREGATES`, `scoring/ranges.py`);
- `hourly_select`: one home's sensor-hours with their limits, for `livability report`'s chart.
"""

from __future__ import annotations

from typing import Final

from scoring import thresholds as th

# (name, temperature shift, RH shift): the nominal readings and the sensor's accuracy.
SCENARIOS: Final = (
    ("", 0.0, 0.0),
    ("_cd", -th.SENSOR_ACCURACY_C, th.SENSOR_ACCURACY_RH),  # colder and damper
    ("_wd", th.SENSOR_ACCURACY_C, -th.SENSOR_ACCURACY_RH),  # warmer and drier
)
# The certificates' daily ranges per sensor and local day (scoring/ranges.py), in the model's
# daily query too: the weekly job reads the week once for the vectors and the pages.
RANGE_AGGREGATES: Final = f"""
  MIN(room) AS room,
  MIN(t_in) AS t_min, MAX(t_in) AS t_max, MIN(rh_in) AS rh_min, MAX(rh_in) AS rh_max,
  MIN(IF(has_weather, t_out, NULL)) AS t_out_min, MAX(IF(has_weather, t_out, NULL)) AS t_out_max,
  SUM(IF(t_in > {th.DAY_LIMIT_C} OR (bedlike AND night AND t_in > {th.NIGHT_LIMIT_C}), 1, 0))
    AS heat_hours,
  SUM(IF(rh_si >= {th.MOULD_CRITERION_RH}, 1, 0)) AS damp_hours"""
# Severity sums per scenario, one term per observed hour.
SEVERITIES: Final = ("sev_cold", "sev_heat", "sev_night", "sev_damp", "credit")


def _sums(suffix: str) -> str:
    return "".join(f",\n  SUM({c}{suffix}) AS {c}{suffix}" for c in SEVERITIES)


def daily_select() -> str:
    """Per sensor and local day: sums over its observed hours (each hour once), the readings
    and the spacings from which the observed time is inferred."""
    sums = "".join(_sums(suffix) for suffix, _, _ in SCENARIOS)
    parts = "".join(f",\n  SUM(IF(part = {p}, 1, 0)) AS n_part{p}" for p in range(th.PARTS_OF_DAY))
    free = "free_running AND tm52_dt"
    return f"""
SELECT
  s.home_id, s.mac, s.cls, s.d, h.lon, h.lat, h.point IS NOT NULL AS has_weather, s.* EXCEPT (
    home_id, mac, cls, d)
FROM (
SELECT
  home_id, mac, cls, d,
  LOGICAL_OR(bedlike) AS bedlike,
  LOGICAL_OR(wet) AS wet,
  SUM(n) AS n,
  COUNT(*) AS n_hours,
  MIN(first_us) AS first_us,
  MAX(last_us) AS last_us,
  ARRAY_AGG(IF(n > 1, (last_us - first_us) / (n - 1), NULL) IGNORE NULLS) AS spacings{parts},
  SUM(IF(bedlike AND night, 1, 0)) AS n_night,
  SUM(IF(wet, 1, 0)) AS n_wet{sums},
  SUM(IF(wet, sev_damp, 0)) AS sev_damp_wet,
  SUM(t_in) AS t_in_sum,
  SUM(rh_in) AS rh_in_sum,
  SUM(IF(t_in < {th.COLD_LIMIT_C}, 1, 0)) AS hours_below_18c,
  SUM(GREATEST(0, {th.COLD_LIMIT_C} - t_in)) AS cold_degree_hours,
  SUM(IF(rh_in > 70, 1, 0)) AS hours_above_70rh,
  SUM(IF(t_in > {th.DAY_LIMIT_C}, 1, 0)) AS hours_above_32c,
  SUM(IF(bedlike AND night AND t_in > {th.NIGHT_LIMIT_C}, 1, 0)) AS night_hours_above_26c,
  SUM(IF(free_running, 1, 0)) AS n_free,
  SUM(IF({free} >= 1, 1, 0)) AS heat_exceedance_hours,
  SUM(IF({free} > 0, tm52_dt, 0)) AS tm52_weighted,
  SUM(IF({free} > {th.TM52_UPPER_K}, 1, 0)) AS tm52_upper_limit_hours,
  SUM(IF(wet, 0, rh_si)) AS rh_si_sum,
  SUM(IF(NOT wet AND rh_si >= {th.MOULD_CRITERION_RH}, 1, 0)) AS mould_hours,
  SUM(IF(NOT wet AND rh_si >= {th.CONDENSATION_RH}, 1, 0)) AS condensation_hours,
  SUM(IF(wet AND rh_si >= {th.MOULD_CRITERION_RH}, 1, 0)) AS wet_damp_hours,
  SUM(IF(NOT wet AND moisture_excess > moisture_excess_limit, sev_damp, 0)) AS damp_moisture,
  SUM(IF(wet OR moisture_excess > moisture_excess_limit, 0, sev_damp)) AS damp_underheating,
  SUM(IF(moisture_excess IS NULL, 0, 1)) AS excess_n,
  SUM(moisture_excess) AS moisture_excess_sum,
  SUM(IF(moisture_excess IS NULL, 0, moisture_excess_limit)) AS moisture_excess_limit_sum,
  SUM(IF(rh_in < {th.DRY_AIR_RH}, 1, 0)) AS dry_n,
  SUM(IF(has_weather, t_out, 0)) AS t_out_sum,
  SUM(IF(has_weather, trm, 0)) AS trm_sum,
  SUM(IF(has_weather, 1, 0)) AS weather_hours,{RANGE_AGGREGATES}
FROM hours
GROUP BY home_id, mac, cls, d
) AS s
LEFT JOIN homes AS h ON h.home_id = s.home_id
"""  # noqa: S608 - constants only


def hourly_select() -> str:
    """Per sensor-hour, for one home's chart (`livability report`)."""
    return """
SELECT
  home_id, mac, k AS hour, d, local_hour, room, n, t_in, rh_in, rh_si, t_out, t_damped, trm,
  has_weather, night, free_running, theta_max, comfort_low, comfort_high
FROM hours
ORDER BY mac, hour
"""
