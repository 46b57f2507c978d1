"""Per room and local day: the ranges a certificate plots, never the hours behind them.

A certificate is shown to third parties, so it must not reveal when people are at home: it
gets each room's daily minimum and maximum of the hourly means (temperature, RH), the day's
outdoor range, and per room the hours that named each hazard, but no hourly series. The
query reuses the model's own hourly CTEs (`scoring/sql.py`), so the ranges are of exactly the
hours the vector was scored on, in the home's local days. The sensor's MAC leaves the
warehouse only to tell rooms apart; `livability.certificate` turns it into "bedroom 1".
"""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl

from livability.ports import Warehouse
from scoring import dialects, model, sql, zones
from scoring import thresholds as th

_SELECT = f"""
SELECT
  home_id, mac, d, MIN(room) AS room,
  MIN(t_in) AS t_min, MAX(t_in) AS t_max, MIN(rh_in) AS rh_min, MAX(rh_in) AS rh_max,
  MIN(IF(has_weather, t_out, NULL)) AS t_out_min, MAX(IF(has_weather, t_out, NULL)) AS t_out_max,
  COUNT(*) AS hours,
  SUM(IF(t_in < {th.COLD_LIMIT_C}, 1, 0)) AS cold_hours,
  SUM(IF(t_in > {th.DAY_LIMIT_C} OR (bedlike AND night AND t_in > {th.NIGHT_LIMIT_C}), 1, 0))
    AS heat_hours,
  SUM(IF(rh_si >= {th.MOULD_CRITERION_RH}, 1, 0)) AS damp_hours
FROM hours
GROUP BY home_id, mac, d
ORDER BY home_id, mac, d
"""  # noqa: S608 - constants only


@cache
def _query(dialect: str, dataset: str, *, one_class: bool) -> str:
    return sql.compose(sql.hourly_ctes(dataset, one_class=one_class), _SELECT, dialect)


def daily_ranges(warehouse: Warehouse, week_start: date) -> pl.DataFrame:
    """One row per home, sensor and local day of the week (0-6), sorted; empty without
    readings. Columns: home_id, mac, d, room, t_min, t_max, rh_min, rh_max, t_out_min,
    t_out_max (NULL without weather), hours, cold_hours, heat_hours, damp_hours."""
    plan = model.zone_plan(warehouse, week_start)
    one_class = len(plan.classes) == 1
    query = dialects.fill(
        _query(sql.dialect_of(warehouse), warehouse.dataset, one_class=one_class),
        {
            dialects.ZONE_CLASSES: zones.class_rows(plan),
            dialects.ZONE_CELLS: zones.cell_rows(plan),
        },
    )
    frame = pl.from_arrow(warehouse.query(query, model.week_params(week_start, plan)))
    assert isinstance(frame, pl.DataFrame)  # a Table gives a DataFrame
    # An hour's mean is a sum the warehouse may add up in any order (parallel aggregation):
    # its last bits vary from run to run. Rounded to a millionth, the same readings give the
    # same ranges, so the same week gives byte-identical pages.
    return frame.with_columns(pl.col(_MEASURED).round(_DIGITS))


_MEASURED = ("t_min", "t_max", "rh_min", "rh_max", "t_out_min", "t_out_max")
_DIGITS = 6
