"""Livability model 3: health hazards that cannot be averaged away, in each home's local time.

The per-reading and per-hour work runs inside the warehouse (`scoring/sql.py`: one SQL
definition for BigQuery and DuckDB). Before it, a small query lists the week's home
locations, from which `scoring/zones.py` derives each home's IANA time zone and the literal
tables that let the SQL work in local civil time. The warehouse returns, per sensor and
local day, sums weighted by readings; polars turns them into observed time, hazards and
comfort (`scoring/hazards.py`), the bootstrap interval (`scoring/interval.py`) and the
vector (`scoring/vector.py`). Every step is a function of `pl.LazyFrame`s; `vectors`
collects once.

See `docs/scoring.md` for what the numbers mean and where each threshold comes from
(`scoring/thresholds.py` holds them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import polars as pl

from livability.ports import ParamValue, Warehouse
from livability.weeks import WEEK
from schemas import registry
from scoring import dialects, hazards, interval, selects, sql, vector, zones
from scoring import thresholds as th
from scoring.sql_parts import checked

MODEL_VERSION: str = "3.0.0"
SCORES_TABLE = "livability_scores"

# Added by the job that publishes the vectors, not by the model.
_ADDED_BY_JOB = ("computed_at", "row_id")
_SLICE_SENSORS = 25_000
# Rows of the week DuckDB reads per slice of the homes (`slices_for`): what one slice's query
# holds within DuckDB's default memory (768 MB) without spilling much, measured by `make bench`
# (benchmarks/scoring.py: at 100k homes 5M rollup rows a slice spilled, 47 s against 28 s).
SLICE_ROWS: dict[str, int] = {"raw": 50_000_000, "rollup": 2_000_000}
_UTC_WEEK = ("first_day", "last_day", "start", "utc_end")

_POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INTEGER": pl.Int64(),
    "FLOAT": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "TIMESTAMP": pl.Datetime("us"),
}


def output_schema() -> dict[str, pl.DataType]:
    """Output columns and dtypes: schemas/livability_scores.json, in its order, minus
    what the job adds. Derived from the contract, never restated."""
    return {
        f.name: _POLARS_TYPES[f.type]
        for f in registry()[SCORES_TABLE].fields
        if f.name not in _ADDED_BY_JOB
    }


def _utc(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def week_params(week_start: date, plan: zones.ZonePlan | None = None) -> dict[str, ParamValue]:
    """The queries' parameters: the UTC week (home locations), each home's local week
    (readings: the union over the plan's zones) and the 7 days before it (weather)."""
    start = datetime.combine(week_start, datetime.min.time(), UTC)
    read_start = start if plan is None else _utc(plan.read_start_us)
    read_end = start + WEEK if plan is None else _utc(plan.read_end_us)
    return {
        "first_day": week_start,
        "last_day": week_start + WEEK - timedelta(days=1),
        "start": start,
        "utc_end": start + WEEK,
        "read_first_day": read_start.date(),
        "read_last_day": (read_end - timedelta(microseconds=1)).date(),
        "read_start": read_start,
        "read_end": read_end,
        "weather_first_day": (read_start - WEEK).date(),
        "weather_start": read_start - WEEK,
    }


def zone_plan(
    warehouse: Warehouse,
    week_start: date,
    source: selects.Source = "raw",
    home_id: int | None = None,
) -> zones.ZonePlan:
    """The week's time-zone classes, from its distinct home locations (`home_id`: that home's
    only; the week's when it has none, as an unlocated home takes the zone of most homes)."""
    query = sql.locations_query(
        warehouse.dataset, sql.dialect_of(warehouse), source, one_home=home_id is not None
    )
    utc_week: dict[str, ParamValue] = {
        k: v for k, v in week_params(week_start).items() if k in _UTC_WEEK
    }
    if home_id is not None:
        utc_week["home_id"] = home_id
    rows = warehouse.query(query, used_params(query, utc_week)).to_pylist()
    if home_id is not None and not rows:
        return zone_plan(warehouse, week_start, source)
    return zones.plan(
        week_start,
        [
            (r["wkt"], r["lon"], r["lat"], [r[f"cell{level}"] for level in range(sql.CELL_LEVELS)])
            for r in rows
        ],
    )


def used_params(query: str, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    """The parameters `query` names (DuckDB refuses any other; each source names its own)."""
    return {k: v for k, v in params.items() if re.search(rf"[@$]{k}\b", query)}


def _tables(plan: zones.ZonePlan) -> dict[str, str]:
    return {
        dialects.ZONE_CLASSES: zones.class_rows(plan),
        dialects.ZONE_CELLS: zones.cell_rows(plan),
    }


def readings_source(plan: zones.ZonePlan, wanted: selects.Source) -> selects.Source:
    """The rollup where it holds the week's local hours, the raw readings elsewhere."""
    return "rollup" if wanted == "rollup" and plan.whole_hours else "raw"


def _frames(
    warehouse: Warehouse,
    week_start: date,
    plan: zones.ZonePlan,
    source: selects.Source,
    *,
    select: str = "daily",
    home_id: int | None = None,
    slices: int = 1,
) -> Iterator[pl.DataFrame]:
    """The main query's rows, one frame per slice of the homes, queried in turn."""
    query = dialects.fill(
        sql.render(
            sql.dialect_of(warehouse),
            warehouse.dataset,
            select,
            one_home=home_id is not None,
            one_class=len(plan.classes) == 1,
            source=readings_source(plan, source),
            sliced=slices > 1,
        ),
        _tables(plan),
    )
    params = week_params(week_start, plan)
    if home_id is not None:
        params["home_id"] = home_id
    for part in range(slices):
        sliced = {**params, "slices": slices, "slice": part} if slices > 1 else params
        frame = pl.from_arrow(warehouse.query(query, used_params(query, sliced)))
        assert isinstance(frame, pl.DataFrame)  # a Table gives a DataFrame
        yield frame


def _query(
    warehouse: Warehouse,
    week_start: date,
    plan: zones.ZonePlan,
    source: selects.Source,
    *,
    select: str = "daily",
    home_id: int | None = None,
    slices: int = 1,
) -> pl.DataFrame:
    frames = list(
        _frames(warehouse, week_start, plan, source, select=select, home_id=home_id, slices=slices)
    )
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def slices_for(
    warehouse: Warehouse, week_start: date, plan: zones.ZonePlan, source: selects.Source
) -> int:
    """How many slices of the homes DuckDB scores in turn: one per SLICE_ROWS rows of the
    week it reads, so its memory stays bounded at any number of homes. BigQuery takes the
    week at once (its slots, not this process, hold the rows)."""
    if sql.dialect_of(warehouse) != "duckdb":
        return 1
    source = readings_source(plan, source)
    table = selects.ROLLUP_TABLE if source == "rollup" else selects.RAW_TABLE
    span = (
        "hour >= @read_start AND hour < @read_end"
        if source == "rollup"
        else ("day BETWEEN @read_first_day AND @read_last_day")
    )
    query = f"SELECT COUNT(*) AS n FROM {checked(warehouse.dataset)}.{table} WHERE {span}"  # noqa: S608
    params = week_params(week_start, plan)
    rows = int(warehouse.query(query, used_params(query, params))["n"][0].as_py())
    return 1 + rows // SLICE_ROWS[source]


def daily_aggregates(
    warehouse: Warehouse,
    week_start: date,
    plan: zones.ZonePlan | None = None,
    source: selects.Source = "raw",
    *,
    home_id: int | None = None,
    slices: int | None = None,
) -> tuple[pl.DataFrame, zones.ZonePlan]:
    """Per sensor and local day of the week: the warehouse's sums, and the zone plan.
    `source`: the raw readings, or the daily rollup (`scoring/rollup.py` must have written
    the week's days); `home_id`: that home's only; `slices`: how many slices of the homes
    to query in turn (default: `slices_for`)."""
    plan = plan or zone_plan(warehouse, week_start, source, home_id)
    if slices is None:
        slices = 1 if home_id is not None else slices_for(warehouse, week_start, plan, source)
    daily = _query(warehouse, week_start, plan, source, home_id=home_id, slices=slices)
    return daily, plan


def hourly_series(
    warehouse: Warehouse, week_start: date, home_id: int, source: selects.Source = "raw"
) -> pl.DataFrame:
    """One home's sensor-hours with the limits they were judged against (for the chart)."""
    plan = zone_plan(warehouse, week_start, source, home_id)
    return _query(warehouse, week_start, plan, source, select="hourly", home_id=home_id)


def score_week(
    warehouse: Warehouse,
    week_start: date,
    source: selects.Source = "raw",
    home_id: int | None = None,
    *,
    slices: int | None = None,
) -> pl.DataFrame:
    """The week's vectors, one per home with readings, sorted by home_id (`home_id`: that
    home's only, the same vector as in the week's)."""
    return scored_week(warehouse, week_start, source, home_id, slices=slices)[0]


# What the certificates' daily ranges take of the daily rows (`scoring.ranges.from_daily`).
RANGE_INPUTS = (
    "home_id", "mac", "d", "room", "t_min", "t_max", "rh_min", "rh_max", "t_out_min",
    "t_out_max", "n_hours", "hours_below_18c", "heat_hours", "damp_hours",
)  # fmt: skip


def scored_week(
    warehouse: Warehouse,
    week_start: date,
    source: selects.Source = "raw",
    home_id: int | None = None,
    *,
    slices: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The week's vectors (as `score_week`) and, from the same daily rows, what the
    certificates' daily ranges need (`RANGE_INPUTS`). Where DuckDB takes the homes in slices
    (`slices_for`, or `slices`), polars finishes each slice before the next is queried: a
    home's vector needs only its own rows, and memory holds one slice at a time."""
    plan = zone_plan(warehouse, week_start, source, home_id)
    if slices is None:
        slices = 1 if home_id is not None else slices_for(warehouse, week_start, plan, source)
    parts, days = [], []
    for daily in _frames(warehouse, week_start, plan, source, home_id=home_id, slices=slices):
        parts.append(vectors(daily.lazy(), week_start, plan))
        days.append(daily.select(RANGE_INPUTS))
    if len(parts) == 1:
        return parts[0], days[0]
    return pl.concat(parts).sort("home_id"), pl.concat(days)


def class_days(plan: zones.ZonePlan) -> pl.LazyFrame:
    """Per time-zone class and local day: its hours, night hours and parts of the day."""
    rows = [
        {"cls": c.cls, "d": d, "start_us": c.start_us, "end_us": c.end_us, **values}
        for c in plan.classes
        for d, values in enumerate(c.days())
    ]
    schema = {
        "cls": pl.Int64,
        "d": pl.Int64,
        **dict.fromkeys(hazards.CLASS_COLUMNS, pl.Float64),
        **dict.fromkeys(hazards.DAY_COLUMNS, pl.Float64),
    }
    return pl.LazyFrame(rows, schema=schema)


def zone_names(plan: zones.ZonePlan, daily: pl.LazyFrame) -> pl.LazyFrame:
    """(lon, lat) -> IANA zone of every located home, by the coordinates the SQL parsed."""
    located = daily.select("lon", "lat").drop_nulls().unique().collect()
    rows = [
        {"lon": lon, "lat": lat, "time_zone": zones.zone_at(lon, lat)}
        for lon, lat in located.iter_rows()
    ]
    schema = {"lon": pl.Float64, "lat": pl.Float64, "time_zone": pl.String}
    return pl.LazyFrame(rows, schema=schema)


def vectors(daily: pl.LazyFrame, week_start: date, plan: zones.ZonePlan) -> pl.DataFrame:
    """Vectors from the per-sensor, per-day aggregates of `scoring/sql.py`."""
    typed = hazards.typed(daily)
    sensors = hazards.sensor_weeks(typed, class_days(plan))
    homes = vector.homes(sensors)
    # The bootstrap in slices of homes: it holds every resample of a home until the
    # quantiles, so its memory grows with the homes at once.
    slices = 1 + daily.select(pl.len()).collect().item() // (th.DAYS_PER_WEEK * _SLICE_SENSORS)
    spread = pl.concat(
        [
            interval.interval(
                sensors.filter(pl.col("home_id").hash() % slices == part), MODEL_VERSION
            )
            for part in range(slices)
        ],
        parallel=False,
    )
    finished = vector.finish(
        homes.join(spread, on="home_id", how="left"),
        week_start,
        MODEL_VERSION,
        output_schema(),
        zone_names(plan, typed),
    )
    # The in-memory engine: the plan is a few hundred wide expressions over small frames
    # (a row per sensor), which polars' default streaming engine runs about half as fast.
    return finished.sort("home_id").collect(engine="in-memory")
