"""From sensors to the published vector: worst room, grade, interval, provisional, flags.

A home's hazards and comfort are those of its worst sensor (room), in every scenario; the
overall score is capped by the worst hazard; the interval adds the bootstrap's spread and
the sensor-accuracy shifts in quadrature. Every flag is judged on measured time only: a gap
makes a vector provisional (`low_coverage`), never a finding.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from scoring import thresholds as th
from scoring.hazards import SUBSCORES, SUFFIXES, WORST_HOURS
from scoring.interval import overall

NORTHERN_COLD_MONTHS = frozenset({10, 11, 12, 1, 2, 3, 4})
HEATING_SEASON_TRM_C = 15.0  # reported only


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))


def homes(sensors: pl.LazyFrame) -> pl.LazyFrame:
    """Per home: the worst sensor's hazards and comfort; sums and findings."""
    scenario_scores = [f"{name}{s}" for s in SUFFIXES for name in SUBSCORES]
    with_means = sensors.with_columns(
        (pl.col("rh_si_sum") / (pl.col("n_hours") - pl.col("n_wet"))).alias("surface_rh_mean"),
        _ratio("moisture_excess_sum", "excess_n").alias("moisture_excess_mean"),
        _ratio("moisture_excess_limit_sum", "excess_n").alias("moisture_excess_limit"),
        # Flags weigh measured evidence against the whole period (the week's hours, its
        # night hours), never against the measured time: a gap can only remove evidence.
        _ratio("dry_n", "day_hours").alias("dry_share"),
        _ratio("heat_exceedance_hours", "day_hours").alias("tm52_share"),
        pl.when(pl.col("bedlike"))
        .then(_ratio("night_hours_above_26c", "night_hours"))
        .alias("hot_night_share"),
        _ratio("mould_hours", "day_hours").alias("mould_share"),
        _ratio("damp_moisture", "day_hours").alias("damp_moisture_share"),
        _ratio("damp_underheating", "day_hours").alias("damp_underheating_share"),
    )
    # Sorted by sensor: the outdoor means below are the first sensor's (its hours), which
    # without an order would be whichever sensor the warehouse returned first.
    out = (
        with_means.sort("home_id", "mac")
        .group_by("home_id")
        .agg(
            pl.len().alias("sensors"),
            pl.col("lon").drop_nulls().first(),
            pl.col("lat").drop_nulls().first(),
            pl.col("has_weather").all(),
            pl.col("readings").sum(),
            pl.col("coverage").min(),
            pl.col("reading_interval_s").max(),
            pl.col("day_hours").max().alias("week_hours"),
            *(pl.col(c).min() for c in scenario_scores),
            *(pl.col(c).max() for c in WORST_HOURS),
            *(
                pl.col(c).max()
                for c in (
                    "surface_rh_mean",
                    "moisture_excess_mean",
                    "moisture_excess_limit",
                    "dry_share",
                    "tm52_share",
                    "hot_night_share",
                    "mould_share",
                    "damp_moisture_share",
                    "damp_underheating_share",
                    "tm52_daily_weighted",
                    "slow_recovery_days",
                )
            ),
            (pl.col("t_in_sum").sum() / pl.col("n_hours").sum()).alias("temperature_mean"),
            (pl.col("rh_in_sum").sum() / pl.col("n_hours").sum()).alias("humidity_mean"),
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
    )
    return out.with_columns(
        overall({name: pl.col(f"{name}{s}") for name in SUBSCORES}).alias(f"score{s}")
        for s in SUFFIXES
    )


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
    """Findings from measured time only, and the caveats of the vector."""
    # Damp worth a finding: measured severity-hours that alone would take the damp hazard
    # under B; each cause is named when it holds half of that.
    cause = (1 - th.GRADE_BANDS[1][1] / 100) / 2
    tm52 = {
        "tm52_exceedance": pl.col("tm52_share") > th.TM52_CRITERION_1_SHARE,
        "tm52_daily_exceedance": pl.col("tm52_daily_weighted") > th.TM52_DAILY_WEIGHTED_MAX,
        "tm52_upper_limit": pl.col("tm52_upper_limit_hours") > 0,
    }
    failed = pl.sum_horizontal(c.fill_null(value=False).cast(pl.Int32) for c in tm52.values())
    named = {
        "low_coverage": pl.col("coverage") < th.MIN_COVERAGE,
        "wide_interval": pl.col("_bands") > th.MAX_BANDS_SPANNED,
        "no_weather": ~pl.col("has_weather"),
        "no_location": pl.col("lon").is_null(),
        "several_sensors": pl.col("sensors") > 1,
        # ISO 13788's mean criterion as evidence: measured hours at or above 80 % at the
        # surface for at least half of the week (the median at 80 %).
        "mould_criterion": pl.col("mould_share") >= 0.5,
        "condensation": pl.col("condensation_hours") > 0,
        "damp_from_moisture": pl.col("damp_moisture_share") >= cause,
        "damp_from_underheating": pl.col("damp_underheating_share") >= cause,
        "slow_moisture_recovery": pl.col("slow_recovery_days") > 0,
        **tm52,
        "tm52_overheating": failed >= 2,
        "hot_nights": pl.col("hot_night_share") > th.NIGHT_ALLOWANCE_SHARE,
        "hot_days": pl.col("hours_above_32c") > 0,
        "dry_air": pl.col("dry_share") > th.DRY_AIR_SHARE,
    }
    listed = pl.concat_list(
        pl.when(condition.fill_null(value=False)).then(pl.lit(name)).otherwise(pl.lit(None))
        for name, condition in named.items()
    ).list.drop_nulls()
    return pl.when(listed.list.len() > 0).then(listed.list.sort().list.join(","))


def finish(
    frame: pl.LazyFrame,
    week_start: date,
    model_version: str,
    schema: dict[str, pl.DataType],
    zone_names: pl.LazyFrame,
) -> pl.LazyFrame:
    """Round, grade, interval, provisional, flags; the contract's columns in its order."""
    scores = pl.col("score")
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
    rounded = (
        "temperature_mean",
        "humidity_mean",
        "outdoor_temperature_mean",
        "outdoor_running_mean",
        "surface_rh_mean",
        "moisture_excess_mean",
        "tm52_daily_weighted",
        "reading_interval_s",
    )
    return (
        frame.join(zone_names, on=["lon", "lat"], how="left")
        .with_columns(*(pl.col(name).round(1) for name in SUBSCORES), scores.round(1))
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
            pl.lit(model_version).alias("model_version"),
            pl.lit(th.DEFAULT_FRSI).alias("frsi"),
            pl.col("coverage").round(3),
            *(pl.col(c).round(two) for c in (*WORST_HOURS, *rounded, "week_hours")),
            *(
                pl.lit(None, dtype=pl.Float64).alias(c)
                for c in ("thermal_comfort", "cold_exposure", "humidity_comfort", "mould_risk")
            ),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in schema.items())
    )
