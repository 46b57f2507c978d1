"""Per room and local day: the ranges a certificate plots, never the hours behind them.

A certificate is shown to third parties, so it must not reveal when people are at home: it
gets each room's daily minimum and maximum of the hourly means (temperature, RH), the day's
outdoor range, and per room the hours that named each hazard, but no hourly series. The
query reuses the model's own hourly CTEs (`scoring/sql.py`), so the ranges are of exactly the
hours the vector was scored on, in the home's local days, from the same source: the daily
rollup after a scoring from it (the weekly job, `livability score`), the raw readings
otherwise (a week's pages again, `livability certificate`: its rollup days may have
expired). The sensor's MAC leaves the warehouse only to tell rooms apart;
`livability.certificate` turns it into "bedroom 1".
"""

from __future__ import annotations

from datetime import date
from functools import cache

import polars as pl

from livability.ports import Warehouse
from scoring import dialects, finals, model, selects, sql, zones
from scoring import thresholds as th

_SELECT = f"""
SELECT
  home_id, mac, d,{finals.RANGE_AGGREGATES},
  COUNT(*) AS hours,
  SUM(IF(t_in < {th.COLD_LIMIT_C}, 1, 0)) AS cold_hours
FROM hours
GROUP BY home_id, mac, d
ORDER BY home_id, mac, d
"""  # noqa: S608 - constants only


@cache
def _query(dialect: str, dataset: str, *, one_class: bool, source: selects.Source) -> str:
    ctes = sql.hourly_ctes(
        dataset, one_class=one_class, source=source, exact_storage=dialect == "duckdb"
    )
    return sql.compose(ctes, _SELECT, dialect, script=source == "rollup")


def daily_ranges(
    warehouse: Warehouse, week_start: date, source: selects.Source = "raw"
) -> pl.DataFrame:
    """One row per home, sensor and local day of the week (0-6), sorted; empty without
    readings. Columns: home_id, mac, d, room, t_min, t_max, rh_min, rh_max, t_out_min,
    t_out_max (NULL without weather), hours, cold_hours, heat_hours, damp_hours. `source`:
    "rollup" once the week's rollup days are written (where it holds the local hours, as the
    model reads them), else the raw readings."""
    plan = model.zone_plan(warehouse, week_start, source)
    one_class = len(plan.classes) == 1
    source = model.readings_source(plan, source)
    query = dialects.fill(
        _query(sql.dialect_of(warehouse), warehouse.dataset, one_class=one_class, source=source),
        {
            dialects.ZONE_CLASSES: zones.class_rows(plan),
            dialects.ZONE_CELLS: zones.cell_rows(plan),
        },
    )
    params = model.used_params(query, model.week_params(week_start, plan))
    frame = pl.from_arrow(warehouse.query(query, params))
    assert isinstance(frame, pl.DataFrame)  # a Table gives a DataFrame
    return _finished(frame)


_MEASURED = ("t_min", "t_max", "rh_min", "rh_max", "t_out_min", "t_out_max")
_DIGITS = 6
_COLUMNS = (
    "home_id", "mac", "d", "room", *_MEASURED,
    "hours", "cold_hours", "heat_hours", "damp_hours",
)  # fmt: skip


def _finished(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns in order, one type each whichever warehouse summed them. An hour's mean is
    a sum the warehouse may add up in any order (parallel aggregation): its last bits vary
    from run to run. Rounded to a millionth, the same readings give the same ranges, so the
    same week gives byte-identical pages."""
    counts = ("home_id", "mac", "d", "hours", "cold_hours", "heat_hours", "damp_hours")
    return (
        frame.select(_COLUMNS)
        .with_columns(
            *(pl.col(c).cast(pl.Int64) for c in counts),
            *(pl.col(c).cast(pl.Float64).round(_DIGITS) for c in _MEASURED),
            pl.col("room").cast(pl.String),
        )
        .sort("home_id", "mac", "d")
    )


def from_daily(daily: pl.DataFrame) -> pl.DataFrame:
    """The ranges from the model's own daily rows (`scoring.model.scored_week`): the same
    rows `daily_ranges` gives, without reading the week again."""
    return _finished(
        daily.rename({"n_hours": "hours", "hours_below_18c": "cold_hours"}, strict=True)
    )
