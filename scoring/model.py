"""The livability model: one week of a home's indoor readings in, one score vector out.

Every step is a function from ``pl.LazyFrame`` to ``pl.LazyFrame``; nothing here collects. The
caller filters the inputs to the week, collects the result once and adds ``computed_at``.
See ``docs/scoring.md`` for what the numbers mean and where the thresholds come from.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from schemas import registry

MODEL_VERSION: str = "1.0.0"

# --- Published thresholds -------------------------------------------------------------------

# EN 16798-1:2019 Annex B, category II (normal expectation), residential living spaces:
# operative temperature 20-25 C in the heating season, 23-26 C in the cooling season.
HEATING_BAND_C: tuple[float, float] = (20.0, 25.0)
COOLING_BAND_C: tuple[float, float] = (23.0, 26.0)
# Our choice, not the standard's: credit falls linearly to 0 at 4 C outside the band.
THERMAL_RAMP_C: float = 4.0

# WHO Housing and Health Guidelines (2018), recommendation 3.1: indoor temperature of at least
# 18 C in the cold season. Credit falls linearly to 0 at 3 C below it (our choice).
WHO_MIN_TEMPERATURE_C: float = 18.0
COLD_RAMP_C: float = 3.0

# EN 16798-1:2019 Annex B, category II humidity band (dehumidification 60 %, humidification 25 %).
HUMIDITY_BAND_RH: tuple[float, float] = (25.0, 60.0)
# Our choice: credit falls linearly to 0 at 15 %RH outside the band.
HUMIDITY_RAMP_RH: float = 15.0

# WHO guidelines for indoor air quality: dampness and mould (2009) and IEA Annex 14 (1990):
# sustained relative humidity above 70-80 % lets mould grow. Credit is 1 at or below 60 %RH,
# 0 at or above 80 %RH, linear between; hours are counted above 70 %RH.
MOULD_SAFE_RH: float = 60.0
MOULD_GROWTH_RH: float = 80.0
MOULD_HOURS_RH: float = 70.0

# Season: mean outdoor temperature below 15 C at the nearest weather point within 50 km means
# the home needs heating (the usual heating-degree-day base temperature, EN ISO 15927-6).
HEATING_SEASON_OUTDOOR_C: float = 15.0
NEAREST_WEATHER_MAX_KM: float = 50.0
# Calendar fallback: the northern hemisphere's cold season; the southern one is the complement.
NORTHERN_COLD_MONTHS: frozenset[int] = frozenset({10, 11, 12, 1, 2, 3, 4})
# Mean Earth radius (IUGG), for the haversine distance.
EARTH_RADIUS_KM: float = 6371.0088

# Weights of the overall score; a null sub-score is skipped and the rest renormalised.
WEIGHTS: dict[str, float] = {
    "thermal_comfort": 0.35,
    "cold_exposure": 0.20,
    "humidity_comfort": 0.25,
    "mould_risk": 0.20,
}

# One reading every 10 minutes: a reading stands for a 10-minute slot; a week has 1008.
SLOT: str = "10m"
HOURS_PER_READING: float = 1 / 6
SLOTS_PER_WEEK: int = 7 * 144

# UK Energy Performance Certificate (SAP) rating bands: lower bound of each grade.
GRADE_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 92.0),
    ("B", 81.0),
    ("C", 69.0),
    ("D", 55.0),
    ("E", 39.0),
    ("F", 21.0),
)
LOWEST_GRADE: str = "G"
# Below this coverage the week has too little data to certify: no grade.
MIN_COVERAGE_TO_GRADE: float = 0.5

# WKT "POINT(lon lat)"; anything else (or out-of-range coordinates) counts as an unknown location.
_WKT_POINT = r"(?i)^\s*POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*$"

SENSOR_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "home_id",
    "mac",
    "temperature",
    "humidity",
    "location",
)
WEATHER_COLUMNS: tuple[str, ...] = ("timestamp", "temperature", "location")

_POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INTEGER": pl.Int64(),
    "FLOAT": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "TIMESTAMP": pl.Datetime("us"),
}
# Added by the job that publishes the vectors, not by the model.
_ADDED_BY_JOB = ("computed_at", "row_id")


def output_schema() -> dict[str, pl.DataType]:
    """Output columns and dtypes: schemas/livability_scores.json, in its order, minus
    what the job adds. Derived from the contract, never restated."""
    return {
        f.name: _POLARS_TYPES[f.type]
        for f in registry()["livability_scores"].fields
        if f.name not in _ADDED_BY_JOB
    }


def score_week(sensor: pl.LazyFrame, weather: pl.LazyFrame, week_start: date) -> pl.LazyFrame:
    """Score every home in ``sensor`` for the week starting ``week_start``.

    Both inputs must already hold only the 7 days [week_start, week_start + 7 d). Returns one row
    per home, sorted by home_id, with the columns of ``output_schema()``.
    """
    _require_columns(sensor, SENSOR_COLUMNS, "sensor")
    _require_columns(weather, WEATHER_COLUMNS, "weather")
    readings = _parse_location(sensor)
    seasons = _heating_season(_home_locations(readings), _weather_points(weather), week_start)
    vectors = _aggregate(_reading_credits(readings.join(seasons, on="home_id", how="left")))
    return (
        _overall(vectors)
        .with_columns(
            pl.lit(week_start, dtype=pl.Date).alias("week_start"),
            pl.lit(MODEL_VERSION, dtype=pl.String).alias("model_version"),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in output_schema().items())
        .sort("home_id")
    )


def _require_columns(frame: pl.LazyFrame, columns: tuple[str, ...], name: str) -> None:
    # Resolves the schema only, not the data: the model stays lazy.
    missing = [c for c in columns if c not in frame.collect_schema()]
    if missing:
        msg = f"{name} input lacks column(s) {missing}; expected {list(columns)}"
        raise ValueError(msg)


def _parse_location(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``lon``/``lat`` from the WKT ``location``; null when absent or not a valid point."""
    wkt = pl.col("location").cast(pl.String)
    lon = wkt.str.extract(_WKT_POINT, 1).cast(pl.Float64, strict=False)
    lat = wkt.str.extract(_WKT_POINT, 2).cast(pl.Float64, strict=False)
    valid = lon.is_between(-180.0, 180.0) & lat.is_between(-90.0, 90.0)
    return frame.with_columns(
        pl.when(valid).then(lon).alias("lon"),
        pl.when(valid).then(lat).alias("lat"),
    )


def _home_locations(readings: pl.LazyFrame) -> pl.LazyFrame:
    """One row per home: ``home_id``, ``lon``, ``lat`` of its earliest located reading, or null."""
    order = ["timestamp", "lon", "lat"]
    located = (
        readings.filter(pl.col("lon").is_not_null())
        .group_by("home_id")
        .agg(pl.col("lon").sort_by(order).first(), pl.col("lat").sort_by(order).first())
    )
    return readings.select("home_id").unique().join(located, on="home_id", how="left")


def _weather_points(weather: pl.LazyFrame) -> pl.LazyFrame:
    """One row per weather location: ``w_lon``, ``w_lat``, ``outdoor_temperature_mean``."""
    return (
        _parse_location(weather)
        .filter(pl.col("lon").is_not_null())
        .group_by(w_lon="lon", w_lat="lat")
        .agg(pl.col("temperature").cast(pl.Float64).mean().alias("outdoor_temperature_mean"))
        .filter(pl.col("outdoor_temperature_mean").is_not_null())
    )


def _haversine_km(lon1: pl.Expr, lat1: pl.Expr, lon2: pl.Expr, lat2: pl.Expr) -> pl.Expr:
    dlat = (lat2 - lat1).radians()
    dlon = (lon2 - lon1).radians()
    a = (dlat / 2).sin() ** 2 + lat1.radians().cos() * lat2.radians().cos() * (dlon / 2).sin() ** 2
    return 2 * EARTH_RADIUS_KM * a.sqrt().clip(upper_bound=1.0).arcsin()


def _heating_season(homes: pl.LazyFrame, points: pl.LazyFrame, week_start: date) -> pl.LazyFrame:
    """Per home: ``outdoor_temperature_mean`` of the nearest weather point and ``heating_season``.

    Without a weather point within ``NEAREST_WEATHER_MAX_KM`` the calendar decides, by the month
    of the week's middle day (the month that holds most of the week) and the hemisphere.
    """
    order = ["distance_km", "w_lon", "w_lat"]
    nearest = (
        homes.filter(pl.col("lon").is_not_null())
        .join(points, how="cross")
        .with_columns(
            _haversine_km(pl.col("lon"), pl.col("lat"), pl.col("w_lon"), pl.col("w_lat")).alias(
                "distance_km"
            )
        )
        .filter(pl.col("distance_km") <= NEAREST_WEATHER_MAX_KM)
        .group_by("home_id")
        .agg(pl.col("outdoor_temperature_mean").sort_by(order).first())
    )
    northern_cold = (week_start + timedelta(days=3)).month in NORTHERN_COLD_MONTHS
    southern = pl.col("lat") < 0  # null (unknown) counts as northern
    calendar = pl.when(southern).then(pl.lit(not northern_cold)).otherwise(pl.lit(northern_cold))
    outdoor = pl.col("outdoor_temperature_mean")
    return homes.join(nearest, on="home_id", how="left").select(
        "home_id",
        outdoor,
        pl.when(outdoor.is_not_null())
        .then(outdoor < HEATING_SEASON_OUTDOOR_C)
        .otherwise(calendar)
        .alias("heating_season"),
    )


def _outside(value: pl.Expr, low: pl.Expr | float, high: pl.Expr | float) -> pl.Expr:
    """Distance from ``value`` to the band [low, high]; 0 inside, null when value is null."""
    return (low - value).clip(lower_bound=0.0) + (value - high).clip(lower_bound=0.0)


def _ramp_down(distance: pl.Expr, ramp: float) -> pl.Expr:
    """Credit 1 at distance 0 falling linearly to 0 at ``ramp``."""
    return (1.0 - distance / ramp).clip(lower_bound=0.0)


def _reading_credits(readings: pl.LazyFrame) -> pl.LazyFrame:
    """Per reading credits in [0, 1]; null where the reading lacks the value a credit needs."""
    t = pl.col("temperature").cast(pl.Float64)
    rh = pl.col("humidity").cast(pl.Float64)
    heating = pl.col("heating_season")
    low = pl.when(heating).then(HEATING_BAND_C[0]).otherwise(COOLING_BAND_C[0])
    high = pl.when(heating).then(HEATING_BAND_C[1]).otherwise(COOLING_BAND_C[1])
    cold = _ramp_down((WHO_MIN_TEMPERATURE_C - t).clip(lower_bound=0.0), COLD_RAMP_C)
    mould_span = MOULD_GROWTH_RH - MOULD_SAFE_RH
    return readings.with_columns(
        _ramp_down(_outside(t, low, high), THERMAL_RAMP_C).alias("thermal_credit"),
        # Outside the heating season every temperature reading gets full credit.
        pl.when(heating)
        .then(cold)
        .otherwise(pl.when(t.is_not_null()).then(1.0))
        .alias("cold_credit"),
        _ramp_down(_outside(rh, *HUMIDITY_BAND_RH), HUMIDITY_RAMP_RH).alias("humidity_credit"),
        _ramp_down((rh - MOULD_SAFE_RH).clip(lower_bound=0.0), mould_span).alias("mould_credit"),
    )


def _hours(condition: pl.Expr, value: pl.Expr) -> pl.Expr:
    """Hours of readings meeting ``condition``; null when no reading has ``value``."""
    hours = (condition.sum() * HOURS_PER_READING).round(2)
    return pl.when(value.count() > 0).then(hours)


def _aggregate(credits: pl.LazyFrame) -> pl.LazyFrame:
    """One row per home: coverage, counts, means and the sub-scores (0-100, unrounded)."""
    t = pl.col("temperature").cast(pl.Float64)
    rh = pl.col("humidity").cast(pl.Float64)
    slots = pl.col("timestamp").dt.truncate(SLOT).drop_nulls().n_unique()
    return credits.group_by("home_id").agg(
        (slots / SLOTS_PER_WEEK).clip(upper_bound=1.0).alias("coverage"),
        pl.len().alias("readings"),
        pl.col("heating_season").first(),
        pl.col("outdoor_temperature_mean").first(),
        t.mean().alias("temperature_mean"),
        rh.mean().alias("humidity_mean"),
        (100 * pl.col("thermal_credit").mean()).alias("thermal_comfort"),
        (100 * pl.col("cold_credit").mean()).alias("cold_exposure"),
        (100 * pl.col("humidity_credit").mean()).alias("humidity_comfort"),
        (100 * pl.col("mould_credit").mean()).alias("mould_risk"),
        _hours(t < WHO_MIN_TEMPERATURE_C, t).alias("hours_below_18c"),
        _hours(rh > MOULD_HOURS_RH, rh).alias("hours_above_70rh"),
    )


def _grade(score: pl.Expr) -> pl.Expr:
    ((first, bound), *rest) = GRADE_BANDS
    chain: Any = pl.when(score >= bound).then(pl.lit(first))
    for grade, lower in rest:
        chain = chain.when(score >= lower).then(pl.lit(grade))
    graded: pl.Expr = chain.otherwise(pl.lit(LOWEST_GRADE))
    return graded


MEAN_DECIMALS = 2
MEANS = ("outdoor_temperature_mean", "temperature_mean", "humidity_mean")


def _overall(vectors: pl.LazyFrame) -> pl.LazyFrame:
    """Weighted score over the non-null sub-scores, its grade, and the rounding of sub-scores."""
    weighted = pl.sum_horizontal(pl.col(name) * weight for name, weight in WEIGHTS.items())
    total_weight = pl.sum_horizontal(
        pl.when(pl.col(name).is_not_null()).then(weight).otherwise(0.0)
        for name, weight in WEIGHTS.items()
    )
    # Rounded once, then graded, so the grade always matches the published score.
    score = pl.when(total_weight > 0).then(weighted / total_weight).round(1)
    return vectors.with_columns(score.alias("score")).with_columns(
        pl.when(pl.col("score").is_not_null() & (pl.col("coverage") >= MIN_COVERAGE_TO_GRADE))
        .then(_grade(pl.col("score")))
        .alias("grade"),
        *(pl.col(name).round(1) for name in WEIGHTS),
        # Sensors resolve 0.01; rounding also hides the last-bit noise of parallel sums, so
        # scoring the same data twice gives the same vector (and the same row id).
        *(pl.col(name).round(MEAN_DECIMALS) for name in MEANS),
    )
