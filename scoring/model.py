"""Livability model 2: health hazards that cannot be averaged away, computed in the warehouse.

The per-reading and per-hour work runs inside the warehouse (`scoring/sql.py`: one SQL
definition for BigQuery and DuckDB); it returns, per sensor and day, coverage-weighted sums.
Polars turns those per-home aggregates into the vector: hazards and comfort (worst room),
coverage, the overall score capped by the worst hazard, the grade, a day-block bootstrap
interval widened by the sensor's stated accuracy, and flags. Every step below is a function
from `pl.LazyFrame` to `pl.LazyFrame`; `vectors` collects once.

See `docs/scoring.md` for what the numbers mean and where each threshold comes from
(`scoring/thresholds.py` holds them).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

import polars as pl

from livability.ports import ParamValue, Warehouse
from livability.weeks import WEEK
from schemas import registry
from scoring import sql
from scoring import thresholds as th

MODEL_VERSION: str = "2.0.0"
SCORES_TABLE = "livability_scores"

# Added by the job that publishes the vectors, not by the model.
_ADDED_BY_JOB = ("computed_at", "row_id")
# Columns of model 1 that model 2 leaves NULL (docs/scoring.md, "Versions").
MODEL_1_ONLY = ("thermal_comfort", "cold_exposure", "humidity_comfort", "mould_risk")

SUBSCORES = ("cold_hazard", "heat_hazard", "damp_hazard", "comfort")
_SEVERITY = {"cold_hazard": "sev_cold", "heat_hazard": "sev_heat", "damp_hazard": "sev_damp"}
SUFFIXES = tuple(suffix for suffix, _, _ in sql.SCENARIOS)
PARTS = tuple(f"covered_part{p}" for p in range(th.PARTS_OF_DAY))
# Per sensor and day, summed over the week; per home, the worst sensor's.
WORST_HOURS = (
    "hours_below_18c",
    "cold_degree_hours",
    "hours_above_70rh",
    "heat_exceedance_hours",
    "night_hours_above_26c",
    "mould_hours",
    "condensation_hours",
)
_SUMS = (
    "readings",
    "covered",
    *PARTS,
    *(f"{c}{s}" for s in SUFFIXES for c in ("sev_cold", "sev_heat", "sev_damp", "credit")),
    "t_in_sum",
    "rh_in_sum",
    *WORST_HOURS,
    "rh_si_sum",
    "excess_covered",
    "moisture_excess_sum",
    "moisture_excess_limit_sum",
    "dry_hours",
    "t_out_sum",
    "trm_sum",
    "weather_hours",
)
NORTHERN_COLD_MONTHS = frozenset({10, 11, 12, 1, 2, 3, 4})
HEATING_SEASON_TRM_C = 15.0  # reported only: EN 16798-1's lower limit is held below it

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


def week_params(week_start: date) -> dict[str, ParamValue]:
    """The query's parameters: the week, and the 7 days before it for the running mean."""
    start = datetime.combine(week_start, time(), UTC)
    return {
        "first_day": week_start,
        "last_day": week_start + WEEK - timedelta(days=1),
        "start": start,
        "end": start + WEEK,
        "weather_first_day": week_start - WEEK,
        "weather_start": start - WEEK,
    }


def daily_aggregates(warehouse: Warehouse, week_start: date) -> pl.DataFrame:
    """Per sensor and day of the week: the warehouse's coverage-weighted sums."""
    query = sql.render(sql.dialect_of(warehouse), warehouse.dataset)
    table = warehouse.query(query, week_params(week_start))
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)  # a Table gives a DataFrame
    return frame


def hourly_series(warehouse: Warehouse, week_start: date, home_id: int) -> pl.DataFrame:
    """One home's sensor-hours with the limits they were judged against (for the chart)."""
    query = sql.render(sql.dialect_of(warehouse), warehouse.dataset, "hourly", one_home=True)
    frame = pl.from_arrow(warehouse.query(query, {**week_params(week_start), "home_id": home_id}))
    assert isinstance(frame, pl.DataFrame)
    return frame


def score_week(warehouse: Warehouse, week_start: date) -> pl.DataFrame:
    """The week's vectors, one per home with readings, sorted by home_id."""
    return vectors(daily_aggregates(warehouse, week_start).lazy(), week_start)


def vectors(daily: pl.LazyFrame, week_start: date) -> pl.DataFrame:
    """Vectors from the per-sensor, per-day aggregates of `scoring/sql.py`."""
    sensors = _sensor_weeks(_complete_days(_typed(daily)))
    homes = _homes(sensors)
    # The bootstrap in slices of homes, one after the other: it holds every resample of a
    # home (200 values) until the quantiles, so its memory grows with the homes at once.
    slices = 1 + daily.select(pl.len()).collect().item() // (th.DAYS_PER_WEEK * _SLICE_SENSORS)
    interval = pl.concat(
        [
            _interval(sensors.filter(pl.col("home_id").hash() % slices == part))
            for part in range(slices)
        ],
        parallel=False,
    )
    return (
        _finish(homes.join(interval, on="home_id", how="left"), week_start)
        .sort("home_id")
        .collect()
    )


# --- sensors and days -------------------------------------------------------------------------


def _typed(daily: pl.LazyFrame) -> pl.LazyFrame:
    # DuckDB sums counts as DECIMAL, BigQuery as INT64: one type from here on.
    return daily.with_columns(
        pl.col("home_id").cast(pl.Int64),
        pl.col("mac").cast(pl.Int64),
        pl.col("d").cast(pl.Int64),
        *(pl.col(c).cast(pl.Float64) for c in _SUMS),
        pl.col("lon").cast(pl.Float64),
        pl.col("lat").cast(pl.Float64),
        pl.col("has_weather").cast(pl.Boolean),
    )


def _complete_days(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Every sensor gets all 7 days; a day without readings is a day of 24 missing hours."""
    sensors = daily.group_by("home_id", "mac").agg(
        pl.col("lon").drop_nulls().first(),
        pl.col("lat").drop_nulls().first(),
        pl.col("has_weather").any(),
    )
    days = pl.LazyFrame({"d": list(range(th.DAYS_PER_WEEK))}, schema={"d": pl.Int64})
    measured = daily.select("home_id", "mac", "d", *_SUMS)
    return (
        sensors.join(days, how="cross")
        .join(measured, on=["home_id", "mac", "d"], how="left")
        .with_columns(pl.col(c).fill_null(0.0) for c in _SUMS)
    )


def _day_severities(suffix: str) -> list[pl.Expr]:
    """Per day: severity-hours of each hazard with every missing hour at the worst (1), and
    comfort-hours with every missing hour at no credit. Never optimistic about gaps."""
    missing = th.HOURS_PER_DAY - pl.col("covered")
    out = [
        (pl.col(f"{column}{suffix}") + missing).alias(f"{name}_day{suffix}")
        for name, column in _SEVERITY.items()
    ]
    out.append(pl.col(f"credit{suffix}").alias(f"comfort_day{suffix}"))
    return out


def _subscores(suffix: str, source: str = "_day") -> list[pl.Expr]:
    """Hazards and comfort 0-100 from the week's severity- and comfort-hours."""
    hours = float(th.HOURS_PER_WEEK)
    out = [
        (100 * (1 - pl.col(f"{name}{source}{suffix}") / hours)).alias(f"{name}{suffix}")
        for name in _SEVERITY
    ]
    out.append((100 * pl.col(f"comfort{source}{suffix}") / hours).alias(f"comfort{suffix}"))
    return out


def _sensor_weeks(days: pl.LazyFrame) -> pl.LazyFrame:
    """One row per sensor: its sub-scores per scenario, coverage, sums, and daily lists."""
    day_columns = [f"{name}_day{suffix}" for suffix in SUFFIXES for name in SUBSCORES]
    per_day = days.sort("d").with_columns(e for s in SUFFIXES for e in _day_severities(s))
    part_hours = th.HOURS_PER_WEEK / th.PARTS_OF_DAY
    return (
        per_day.group_by("home_id", "mac")
        .agg(
            pl.col("lon").first(),
            pl.col("lat").first(),
            pl.col("has_weather").first(),
            *(pl.col(c).sum() for c in _SUMS),
            *(pl.col(c).sum() for c in day_columns),
            # The nominal day values, in day order, for the bootstrap.
            *(pl.col(f"{name}_day").sort_by("d").alias(f"{name}_days") for name in SUBSCORES),
        )
        .with_columns(
            *(e for s in SUFFIXES for e in _subscores(s)),
            pl.min_horizontal(pl.col(p) / part_hours for p in PARTS)
            .clip(upper_bound=1.0)
            .alias("coverage"),
        )
    )


# --- homes ------------------------------------------------------------------------------------


def _overall(scores: dict[str, pl.Expr]) -> pl.Expr:
    """Weighted mean of hazards and comfort, capped by the worst hazard."""
    weighted = pl.sum_horizontal(scores[name] * weight for name, weight in th.WEIGHTS.items())
    return pl.min_horizontal(weighted, *(scores[name] for name in th.HAZARDS))


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))


def _homes(sensors: pl.LazyFrame) -> pl.LazyFrame:
    """A home's hazards, comfort and coverage are those of its worst sensor (room)."""
    scenario_scores = [f"{name}{s}" for s in SUFFIXES for name in SUBSCORES]
    with_means = sensors.with_columns(
        _ratio("rh_si_sum", "covered").alias("surface_rh_mean"),
        _ratio("moisture_excess_sum", "excess_covered").alias("moisture_excess_mean"),
        _ratio("moisture_excess_limit_sum", "excess_covered").alias("moisture_excess_limit"),
        _ratio("dry_hours", "covered").alias("dry_share"),
    )
    homes = with_means.group_by("home_id").agg(
        pl.len().alias("sensors"),
        pl.col("lon").drop_nulls().first(),
        pl.col("lat").drop_nulls().first(),
        pl.col("has_weather").all(),
        pl.col("readings").sum(),
        pl.col("coverage").min(),
        *(pl.col(c).min() for c in scenario_scores),
        *(pl.col(c).max() for c in WORST_HOURS),
        pl.col("surface_rh_mean").max(),
        pl.col("moisture_excess_mean").max(),
        pl.col("moisture_excess_limit").max(),
        pl.col("dry_share").max(),
        (pl.col("t_in_sum").sum() / pl.col("covered").sum()).alias("temperature_mean"),
        (pl.col("rh_in_sum").sum() / pl.col("covered").sum()).alias("humidity_mean"),
        *(
            pl.when(pl.col("weather_hours").first() > 0)
            .then(pl.col(total).first() / pl.col("weather_hours").first())
            .alias(name)
            for total, name in (
                ("t_out_sum", "outdoor_temperature_mean"),
                ("trm_sum", "outdoor_running_mean"),
            )
        ),
    )
    return homes.with_columns(
        _overall({name: pl.col(f"{name}{s}") for name in SUBSCORES}).alias(f"score{s}")
        for s in SUFFIXES
    )


# --- interval ---------------------------------------------------------------------------------


@cache
def resamples() -> tuple[tuple[int, ...], ...]:
    """How often each day is drawn in each bootstrap resample: fixed for a model version, so
    a re-score of the same data gives the same interval."""
    rng = random.Random(f"livability-model-{MODEL_VERSION}-bootstrap")  # noqa: S311 - not crypto
    counts = []
    for _ in range(th.BOOTSTRAP_RESAMPLES):
        row = [0] * th.DAYS_PER_WEEK
        for _ in range(th.DAYS_PER_WEEK):
            row[rng.randrange(th.DAYS_PER_WEEK)] += 1
        counts.append(tuple(row))
    return tuple(counts)


_CHUNK = 50
_SLICE_SENSORS = 25_000


def _interval(sensors: pl.LazyFrame) -> pl.LazyFrame:
    """Day-block bootstrap of the overall score, widened by the sensor's stated accuracy.

    Each resample draws 7 of the week's days with replacement (the same draws for every
    home); the home's score is recomputed from them (worst sensor, cap by the worst hazard).
    `_finish` then combines the 2.5-97.5 % quantiles' distance from the score, in quadrature,
    with how far the score moves when the readings are shifted by the sensor's stated accuracy
    (colder and damper, warmer and drier).
    """
    wide = sensors.select(
        "home_id",
        *(
            pl.col(f"{name}_days").list.get(d).alias(f"{name}_{d}")
            for name in SUBSCORES
            for d in range(th.DAYS_PER_WEEK)
        ),
    )
    draws = resamples()
    chunks = []
    for first in range(0, len(draws), _CHUNK):
        block = range(first, min(first + _CHUNK, len(draws)))
        week_sums = [
            pl.sum_horizontal(
                count * pl.col(f"{name}_{d}") for d, count in enumerate(draws[b]) if count
            ).alias(f"{name}_b{b}")
            for b in block
            for name in SUBSCORES
        ]
        per_home = (
            wide.select("home_id", *week_sums)
            .with_columns(e for b in block for e in _subscores(f"_b{b}", source=""))
            .group_by("home_id")
            .agg(pl.col(f"{name}_b{b}").min() for b in block for name in SUBSCORES)
            .select(
                "home_id",
                *(
                    _overall({n: pl.col(f"{n}_b{b}") for n in SUBSCORES}).alias(f"boot_{b}")
                    for b in block
                ),
            )
        )
        # Long (home_id, boot): one row per home and resample, for the quantiles.
        chunks.append(per_home.unpivot(index="home_id", value_name="boot"))
    samples = pl.col("boot")
    low, high = th.INTERVAL_QUANTILES
    return (
        pl.concat(chunks)
        .group_by("home_id")
        .agg(
            samples.quantile(low, "linear").alias("boot_low"),
            samples.quantile(high, "linear").alias("boot_high"),
        )
    )


# --- the vector -------------------------------------------------------------------------------


def grade(score: pl.Expr) -> pl.Expr:
    """EPC band of a (rounded) score."""
    ((first, bound), *rest) = th.GRADE_BANDS
    chain: Any = pl.when(score >= bound).then(pl.lit(first))
    for name, lower in rest:
        chain = chain.when(score >= lower).then(pl.lit(name))
    graded: pl.Expr = chain.otherwise(pl.lit(th.LOWEST_GRADE))
    return graded


def _band_index(score: pl.Expr) -> pl.Expr:
    """0 for A ... 6 for G."""
    index: Any = pl.lit(len(th.GRADE_BANDS))
    for position, (_, lower) in reversed(list(enumerate(th.GRADE_BANDS))):
        index = pl.when(score >= lower).then(pl.lit(position)).otherwise(index)
    result: pl.Expr = index
    return result


def _flags() -> pl.Expr:
    covered_nights = th.HOURS_PER_WEEK * (24 - th.NIGHT_START_HOUR + th.NIGHT_END_HOUR) / 24
    damp_concern = pl.col("damp_hazard") < th.GRADE_BANDS[1][1]
    moisture = pl.col("moisture_excess_mean") > pl.col("moisture_excess_limit")
    named = {
        "low_coverage": pl.col("coverage") < th.MIN_COVERAGE,
        "wide_interval": pl.col("_bands") > th.MAX_BANDS_SPANNED,
        "no_weather": ~pl.col("has_weather"),
        "no_location": pl.col("lon").is_null(),
        "several_sensors": pl.col("sensors") > 1,
        "mould_criterion": pl.col("surface_rh_mean") >= th.MOULD_CRITERION_RH,
        "condensation": pl.col("condensation_hours") > 0,
        "damp_from_moisture": damp_concern & moisture.fill_null(value=False),
        "damp_from_underheating": damp_concern & ~moisture.fill_null(value=True),
        # TM52 criterion 1: no more than 3 % of the hours at delta T >= 1 K.
        "tm52_exceedance": pl.col("heat_exceedance_hours") > 0.03 * th.HOURS_PER_WEEK,
        # TM59: bedrooms above 26 C for no more than 1 % of the night hours.
        "hot_nights": pl.col("night_hours_above_26c") > 0.01 * covered_nights,
        "dry_air": pl.col("dry_share") > th.DRY_AIR_SHARE,
    }
    listed = pl.concat_list(
        pl.when(condition.fill_null(value=False)).then(pl.lit(name)).otherwise(pl.lit(None))
        for name, condition in named.items()
    ).list.drop_nulls()
    return pl.when(listed.list.len() > 0).then(listed.list.sort().list.join(","))


def _finish(homes: pl.LazyFrame, week_start: date) -> pl.LazyFrame:
    """Round, grade, interval, provisional, flags; the contract's columns in its order."""
    scores = pl.col("score")
    # Sampling and the sensor's bias are independent: their spreads add in quadrature.
    shifts = [pl.col(f"score{s}") - scores for s in SUFFIXES[1:]]
    down = pl.min_horizontal(0.0, *shifts).abs()
    up = pl.max_horizontal(0.0, *shifts)
    sampled_down = (scores - pl.col("boot_low")).clip(lower_bound=0.0)
    sampled_up = (pl.col("boot_high") - scores).clip(lower_bound=0.0)
    low = (scores - (sampled_down**2 + down**2).sqrt()).clip(0.0, 100.0)
    high = (scores + (sampled_up**2 + up**2).sqrt()).clip(0.0, 100.0)
    graded = pl.col("coverage") >= th.MIN_COVERAGE
    middle = (week_start + timedelta(days=3)).month in NORTHERN_COLD_MONTHS
    calendar = pl.when(pl.col("lat") < 0).then(pl.lit(not middle)).otherwise(pl.lit(middle))
    two = 2
    return (
        homes.with_columns(
            *(pl.col(name).round(1) for name in SUBSCORES),
            scores.round(1),
        )
        .with_columns(
            pl.min_horizontal(low, scores).round(1).alias("score_low"),
            pl.max_horizontal(high, scores).round(1).alias("score_high"),
        )
        .with_columns(
            (_band_index(pl.col("score_low")) - _band_index(pl.col("score_high")) + 1).alias(
                "_bands"
            )
        )
        .with_columns(
            pl.when(graded & pl.col("has_weather")).then(grade(scores)).alias("grade"),
            (~graded | ~pl.col("has_weather") | (pl.col("_bands") > th.MAX_BANDS_SPANNED)).alias(
                "provisional"
            ),
            _flags().alias("flags"),
            pl.coalesce(pl.col("outdoor_running_mean") < HEATING_SEASON_TRM_C, calendar).alias(
                "heating_season"
            ),
            pl.lit(week_start, dtype=pl.Date).alias("week_start"),
            pl.lit(MODEL_VERSION).alias("model_version"),
            pl.lit(th.DEFAULT_FRSI).alias("frsi"),
            pl.col("coverage").round(3),
            *(pl.col(c).round(two) for c in WORST_HOURS),
            *(
                pl.col(c).round(two)
                for c in (
                    "temperature_mean",
                    "humidity_mean",
                    "outdoor_temperature_mean",
                    "outdoor_running_mean",
                    "surface_rh_mean",
                    "moisture_excess_mean",
                )
            ),
            *(pl.lit(None, dtype=pl.Float64).alias(c) for c in MODEL_1_ONLY),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in output_schema().items())
    )
