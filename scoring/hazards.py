"""Per sensor and per home: observed time, hazards, comfort and coverage (polars, lazily).

Input: the warehouse's per sensor and local day sums over observed hours (`scoring/sql.py`)
and each class's local days (`scoring/zones.py`). Here readings become time: each stands
for the sensor's reading interval, inferred per local day as the median spacing of readings
within its hours (robust to phase, jitter, drift and dropouts; the week's median where a day
has none; the span over the readings where no hour holds two), at most 60 minutes; a day
never counts more than its hours plus one interval, and its observed time is shared evenly
by its observed hours. Time not observed counts, in every hazard, as the worst (severity 1)
and, in comfort, as no credit, so removing the readings of whole hours never raises a score.
"""

from __future__ import annotations

import polars as pl

from scoring import finals
from scoring import thresholds as th

SUFFIXES = tuple(suffix for suffix, _, _ in finals.SCENARIOS)
PARTS = tuple(f"n_part{p}" for p in range(th.PARTS_OF_DAY))
SUBSCORES = ("cold_hazard", "heat_hazard", "damp_hazard", "comfort")
# Per sensor and day, summed over the week; per home, the worst sensor's.
WORST_HOURS = (
    "hours_below_18c",
    "cold_degree_hours",
    "hours_above_70rh",
    "hours_above_32c",
    "heat_exceedance_hours",
    "tm52_upper_limit_hours",
    "night_hours_above_26c",
    "mould_hours",
    "condensation_hours",
    "wet_damp_hours",
)
SUMS = (
    "n",
    "n_hours",
    *PARTS,
    "n_night",
    "n_wet",
    *(f"{c}{s}" for s in SUFFIXES for c in finals.SEVERITIES),
    "sev_damp_wet",
    "t_in_sum",
    "rh_in_sum",
    *WORST_HOURS,
    "n_free",
    "tm52_weighted",
    "rh_si_sum",
    "damp_moisture",
    "damp_underheating",
    "excess_n",
    "moisture_excess_sum",
    "moisture_excess_limit_sum",
    "dry_n",
    "t_out_sum",
    "trm_sum",
    "weather_hours",
)
DAY_COLUMNS = ("day_hours", "night_hours", *(f"part{p}" for p in range(th.PARTS_OF_DAY)))
CLASS_COLUMNS = ("start_us", "end_us")


def typed(daily: pl.LazyFrame) -> pl.LazyFrame:
    # DuckDB sums counts as DECIMAL or HUGEINT, BigQuery as INT64: one type from here on.
    return daily.with_columns(
        *(pl.col(c).cast(pl.Int64) for c in ("home_id", "mac", "cls", "d")),
        *(pl.col(c).cast(pl.Float64) for c in (*SUMS, "lon", "lat", "first_us", "last_us")),
        *(pl.col(c).cast(pl.Boolean) for c in ("has_weather", "bedlike", "wet")),
        pl.col("spacings").cast(pl.List(pl.Float64)),
    )


def _intervals(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Per sensor: the week's interval (median spacing; else the span over the readings)."""
    n = pl.col("n").sum()
    span = (pl.col("last_us").max() - pl.col("first_us").min()) / (n - 1)
    return daily.group_by("home_id", "mac").agg(
        pl.col("cls").first(),
        pl.col("lon").drop_nulls().first(),
        pl.col("lat").drop_nulls().first(),
        pl.col("has_weather").any(),
        pl.col("bedlike").any(),
        pl.col("wet").any(),
        pl.coalesce(
            pl.col("spacings").list.explode(keep_nulls=False, empty_as_null=False).median(),
            pl.when(n > 1).then(span),
        ).alias("interval_us"),
    )


def complete_days(daily: pl.LazyFrame, days: pl.LazyFrame) -> pl.LazyFrame:
    """Every sensor gets all 7 local days with their hours; a day without readings is a day
    of missing hours. Adds `c`, the time one observed hour stands for that day."""
    sensors = _intervals(daily)
    grid = pl.LazyFrame({"d": list(range(th.DAYS_PER_WEEK))}, schema={"d": pl.Int64})
    measured = daily.select("home_id", "mac", "d", "spacings", "first_us", "last_us", *SUMS)
    interval = (
        pl.coalesce(pl.col("spacings").list.median(), pl.col("interval_us"))
        .clip(th.MIN_READING_INTERVAL_S * 1e6, th.MAX_READING_INTERVAL_S * 1e6)
        .fill_null(th.MAX_READING_INTERVAL_S * 1e6)
        / 3.6e9
    )
    # The day's observed time: a reading per interval, never more than the day and one
    # interval; shared evenly by its observed hours (each hour's values stand for the hour).
    observed = pl.min_horizontal(pl.col("n") * interval, pl.col("day_hours") + interval)
    c = pl.when(pl.col("n_hours") > 0).then(observed / pl.col("n_hours")).otherwise(0.0)
    week_interval = (
        pl.col("interval_us")
        .clip(th.MIN_READING_INTERVAL_S * 1e6, th.MAX_READING_INTERVAL_S * 1e6)
        .fill_null(th.MAX_READING_INTERVAL_S * 1e6)
        / 3.6e9
    )
    return (
        sensors.with_columns(week_interval.alias("interval_h"))
        .join(grid, how="cross")
        .join(days, on=["cls", "d"], how="left")
        .join(measured, on=["home_id", "mac", "d"], how="left")
        .with_columns(pl.col(c).fill_null(0.0) for c in SUMS)
        .with_columns(pl.col("n").alias("readings"), c.alias("c"))
        # From here every sum is in hours: an observed hour stands for `c` hours of its day.
        .with_columns(pl.col(name) * pl.col("c") for name in SUMS if name != "n")
    )


def _filled(frame: pl.LazyFrame, suffix: str) -> list[pl.Expr]:
    """Per day, each quantity in hours: severity-hours (missing time at the worst), night
    severity-hours beyond none, comfort-hours, and the day's observed hours."""
    # The wet rooms' share of the damp severity: measured for the nominal readings, by the
    # wet rooms' share of the day's hours for the shifted ones (exact where a day's room
    # type does not change).
    damp = pl.col(f"sev_damp{suffix}")
    share = pl.when(pl.col("n_hours") > 0).then(pl.col("n_wet") / pl.col("n_hours")).otherwise(0.0)
    wet = pl.col("sev_damp_wet") if not suffix else damp * share
    allowed = (wet - th.WET_ROOM_ALLOWANCE_H).clip(lower_bound=0.0)
    observed = (
        [pl.col("n_hours").alias("w"), pl.col("n_night").alias("w_night")] if not suffix else []
    )
    return [
        *observed,
        pl.col(f"sev_cold{suffix}").alias(f"s_cold{suffix}"),
        pl.col(f"sev_heat{suffix}").alias(f"s_heat{suffix}"),
        pl.col(f"sev_night{suffix}").alias(f"s_night{suffix}"),
        (damp - wet + allowed).alias(f"s_damp{suffix}"),
        pl.col(f"credit{suffix}").alias(f"s_comfort{suffix}"),
    ]


def hazard(
    severity: pl.Expr,
    observed: pl.Expr,
    hours: pl.Expr,
    allowance: float = 0.0,
    edge: pl.Expr | float = 0.0,
) -> pl.Expr:
    """100 x (1 - severity-hours / hours), the unobserved hours at the worst; observed time
    beyond the period scales down rather than counting twice. `edge`: the time before the
    week's first reading that a reading just before the week stood for (one interval)."""
    scale = pl.when(observed > hours).then(hours / observed).otherwise(1.0)
    missing = (hours - observed - edge).clip(lower_bound=0.0)
    total = (severity * scale + missing - allowance * hours).clip(lower_bound=0.0)
    return pl.when(hours > 0).then(100 * (1 - total / hours)).otherwise(100.0)


def scores(suffix: str, prefix: str = "") -> list[pl.Expr]:
    """Hazards and comfort of a sensor from its (summed or resampled) hours."""

    def col(name: str) -> pl.Expr:
        return pl.col(f"{prefix}{name}")

    hours, observed, edge = col("day_hours"), col("w"), pl.col("edge_h")
    night = hazard(
        col(f"s_night{suffix}"), col("w_night"), col("night_hours"), th.NIGHT_ALLOWANCE_SHARE
    )
    return [
        hazard(col(f"s_cold{suffix}"), observed, hours, edge=edge).alias(f"cold_hazard{suffix}"),
        pl.min_horizontal(
            hazard(col(f"s_heat{suffix}"), observed, hours, edge=edge),
            pl.when(pl.col("bedlike")).then(night).otherwise(100.0),
        ).alias(f"heat_hazard{suffix}"),
        hazard(col(f"s_damp{suffix}"), observed, hours, edge=edge).alias(f"damp_hazard{suffix}"),
        # Edge time earns the observed time's mean credit; unobserved time earns none.
        pl.when(observed > 0)
        .then(
            100
            * col(f"s_comfort{suffix}")
            / observed
            * pl.min_horizontal(observed + edge, hours)
            / hours
        )
        .otherwise(0.0)
        .alias(f"comfort{suffix}"),
    ]


def _edge_credit(interval_h: pl.Expr) -> pl.Expr:
    """Time at the week's two edges that readings just outside the week stood for.

    A sensor read every interval from before the week to after it has its first reading
    about an interval or less after the start and its last before the end, and
    its readings cover all but (lead + trail - interval) of the week: that is credited. A
    sensor that started late or stopped early (an edge gap of an interval or more) gets no
    credit on that side, so an edge gap counts like any other.
    """
    lead = (pl.col("first_us").min() - pl.col("start_us").first()) / 3.6e9
    trail = (pl.col("end_us").first() - pl.col("last_us").max()) / 3.6e9
    near = 1.5 * interval_h  # an interval, give or take jitter; a missed reading is two
    sides = pl.when(lead < near).then(lead).otherwise(0.0) + pl.when(trail < near).then(
        trail
    ).otherwise(0.0)
    return (sides - interval_h).clip(lower_bound=0.0)


def sensor_weeks(daily: pl.LazyFrame, days: pl.LazyFrame) -> pl.LazyFrame:
    """One row per sensor: sub-scores per scenario, coverage, sums, and per-day quantities."""
    per_day = complete_days(daily, days)
    per_day = per_day.with_columns(e for s in SUFFIXES for e in _filled(per_day, s))
    quantities = [
        f"s_{q}{s}" for s in SUFFIXES for q in ("cold", "heat", "night", "damp", "comfort")
    ]
    # A part of the day counts as covered within one interval a day: a reading stamped a
    # moment after the part's edge stood for the moment before it.
    interval_h = pl.col("interval_h").first()
    parts = [
        (pl.col(f"n_part{p}").sum() + th.DAYS_PER_WEEK * interval_h) / pl.col(f"part{p}").sum()
        for p in range(th.PARTS_OF_DAY)
    ]
    return (
        per_day.sort("d")
        .group_by("home_id", "mac")
        .agg(
            *(pl.col(c).first() for c in ("cls", "lon", "lat", "has_weather", "bedlike", "wet")),
            (pl.col("interval_us").first() / 1e6).alias("reading_interval_s"),
            _edge_credit(interval_h).alias("edge_h"),
            *(
                pl.col(c).sum()
                for c in (*SUMS, *quantities, "readings", "w", "w_night", *DAY_COLUMNS)
            ),
            pl.min_horizontal(parts).clip(upper_bound=1.0).alias("coverage"),
            # Per day, in day order, for the bootstrap: the nominal quantities and hours.
            *(
                pl.col(c).sort_by("d").alias(f"{c}_days")
                for c in (
                    "s_cold",
                    "s_heat",
                    "s_night",
                    "s_damp",
                    "s_comfort",
                    "w",
                    "w_night",
                    "day_hours",
                    "night_hours",
                )
            ),
            (pl.col("sev_damp_wet") > th.WET_ROOM_ALLOWANCE_H).sum().alias("slow_recovery_days"),
            pl.col("tm52_weighted").max().alias("tm52_daily_weighted"),
        )
        .with_columns(*(e for s in SUFFIXES for e in scores(s)))
    )
