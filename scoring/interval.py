"""The score's interval: a day-block bootstrap over the home's 7 local days.

Each resample draws 7 of the week's days with replacement (the same draws for every home and
every re-score of a model version); the home's score is recomputed from the drawn days (the
worst sensor per hazard, the cap by the worst hazard). `scoring/vector.py` combines the
2.5-97.5 % quantiles' distance from the score, in quadrature, with how far the score moves
when every reading is shifted by the sensor's stated accuracy.
"""

from __future__ import annotations

import random
from functools import cache

import polars as pl

from scoring import thresholds as th

_CHUNK = 50
QUANTITIES = ("cold", "heat", "damp", "comfort", "night")


@cache
def resamples(model_version: str) -> tuple[tuple[int, ...], ...]:
    """How often each day is drawn in each resample: fixed for a model version."""
    rng = random.Random(f"livability-model-{model_version}-bootstrap")  # noqa: S311 - not crypto
    counts = []
    for _ in range(th.BOOTSTRAP_RESAMPLES):
        row = [0] * th.DAYS_PER_WEEK
        for _ in range(th.DAYS_PER_WEEK):
            row[rng.randrange(th.DAYS_PER_WEEK)] += 1
        counts.append(tuple(row))
    return tuple(counts)


def overall(scores: dict[str, pl.Expr]) -> pl.Expr:
    """Weighted mean of hazards and comfort, capped by the worst hazard."""
    weighted = pl.sum_horizontal(scores[name] * weight for name, weight in th.WEIGHTS.items())
    return pl.min_horizontal(weighted, *(scores[name] for name in th.HAZARDS))


def _per_day(sensors: pl.LazyFrame) -> pl.LazyFrame:
    """Per sensor and day, each quantity as a share of the day (of its nights for the night
    part), missing time at the worst. A resample averages the drawn days' shares: exact for
    days of equal length, within 4 % for the 23- and 25-hour days of a clock change."""

    def day(name: str, d: int) -> pl.Expr:
        return pl.col(f"{name}_days").list.get(d)

    def share(total: pl.Expr, period: pl.Expr) -> pl.Expr:
        return pl.when(period > 0).then(total / period).otherwise(0.0)

    out = []
    for d in range(th.DAYS_PER_WEEK):
        hours, observed = day("day_hours", d), day("w", d)
        nights, night_observed = day("night_hours", d), day("w_night", d)
        scale = pl.when(observed > hours).then(hours / observed).otherwise(1.0)
        night_scale = pl.when(night_observed > nights).then(nights / night_observed).otherwise(1.0)
        missing = (hours - observed).clip(lower_bound=0.0)
        night_missing = (nights - night_observed).clip(lower_bound=0.0)
        out += [
            *(
                share(day(f"s_{q}", d) * scale + missing, hours).alias(f"{q}_{d}")
                for q in ("cold", "heat", "damp")
            ),
            share(day("s_comfort", d) * scale, hours).alias(f"comfort_{d}"),
            share(day("s_night", d) * night_scale + night_missing, nights).alias(f"night_{d}"),
        ]
    return sensors.select("home_id", "bedlike", *out)


def _weighted(wide: pl.LazyFrame, draws: tuple[tuple[int, ...], ...]) -> pl.LazyFrame:
    """Each day's share times each count a day is drawn with, over the days of a resample:
    a resample's mean is then one sum of columns, no multiplications (half the expressions,
    which is what the bootstrap's time goes on)."""
    counts = sorted({c for row in draws for c in row if c})
    return wide.with_columns(
        (pl.col(f"{q}_{d}") * (c / th.DAYS_PER_WEEK)).alias(f"{q}_{d}x{c}")
        for q in QUANTITIES
        for d in range(th.DAYS_PER_WEEK)
        for c in counts
    )


def _resampled(block: range, draws: tuple[tuple[int, ...], ...]) -> list[pl.Expr]:
    out = []
    for b in block:
        mean = {
            q: pl.sum_horizontal(pl.col(f"{q}_{d}x{c}") for d, c in enumerate(draws[b]) if c)
            for q in QUANTITIES
        }
        night = 100 * (1 - (mean["night"] - th.NIGHT_ALLOWANCE_SHARE).clip(lower_bound=0.0))
        out += [
            (100 * (1 - mean["cold"])).alias(f"cold_hazard_b{b}"),
            pl.min_horizontal(
                100 * (1 - mean["heat"]), pl.when(pl.col("bedlike")).then(night).otherwise(100.0)
            ).alias(f"heat_hazard_b{b}"),
            (100 * (1 - mean["damp"])).alias(f"damp_hazard_b{b}"),
            (100 * mean["comfort"]).alias(f"comfort_b{b}"),
        ]
    return out


def interval(sensors: pl.LazyFrame, model_version: str) -> pl.LazyFrame:
    """Per home: the bootstrap's 2.5 and 97.5 % quantiles of the overall score."""
    draws = resamples(model_version)
    wide = _weighted(_per_day(sensors), draws)
    names = ("cold_hazard", "heat_hazard", "damp_hazard", "comfort")
    chunks = []
    for first in range(0, len(draws), _CHUNK):
        block = range(first, min(first + _CHUNK, len(draws)))
        per_home = (
            wide.select("home_id", *_resampled(block, draws))
            .group_by("home_id")
            .agg(pl.col(f"{n}_b{b}").min() for b in block for n in names)
            .select(
                "home_id",
                *(
                    overall({n: pl.col(f"{n}_b{b}") for n in names}).alias(f"boot_{b}")
                    for b in block
                ),
            )
        )
        chunks.append(per_home.unpivot(index="home_id", value_name="boot"))
    low, high = th.INTERVAL_QUANTILES
    return (
        pl.concat(chunks)
        .group_by("home_id")
        .agg(
            pl.col("boot").quantile(low, "linear").alias("boot_low"),
            pl.col("boot").quantile(high, "linear").alias("boot_high"),
        )
    )
