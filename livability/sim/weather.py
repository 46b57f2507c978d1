"""Simulated weather at a site: OpenWeatherMap-style observations, as the poller publishes them.

Pure standard library and deterministic: every random draw comes from a `random.Random`
seeded with a string built from the arguments (never the global state, never the clock).

A climatological mean from latitude and day of year, a diurnal cycle between dawn and 15:00
local solar time, and synoptic weather from AR(1) processes with multi-day time scales. Rows
are `weather_data` messages (field names of `schemas/weather_data.json`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from livability.sim.air import saturation_vapour_pressure
from livability.sim.sites import Site
from livability.sim.sun import solar_hour, sun_day
from livability.sim.timestamps import iso_millis, iso_seconds, require_days, require_utc

__all__ = ["weather_rows"]

# Synoptic time scales (hours) of the AR(1) processes behind the weather.
_PRESSURE_TAU_H: Final = 96.0  # highs and lows pass over 3-7 days
_TEMPERATURE_TAU_H: Final = 120.0  # warm and cold spells
_CLOUD_TAU_H: Final = 18.0  # fronts and showers
_WIND_TAU_H: Final = 12.0
_DIRECTION_TAU_H: Final = 36.0
_DEW_TAU_H: Final = 24.0
_DAYS_PER_YEAR: Final = 365.25
_COLDEST_DAY_OF_YEAR: Final = 15  # mid-January in the northern hemisphere


def _ar1(rng: random.Random, count: int, tau_hours: float) -> list[float]:
    """Unit-variance AR(1) on hourly steps, started from its stationary distribution."""
    phi = math.exp(-1 / tau_hours)
    shock = math.sqrt(1 - phi * phi)
    values = [rng.gauss(0.0, 1.0)]
    for _ in range(count - 1):
        values.append(phi * values[-1] + shock * rng.gauss(0.0, 1.0))
    return values


def _lerp(series: list[float], index: int, frac: float) -> float:
    return series[index] + (series[index + 1] - series[index]) * frac


# OpenWeatherMap condition names by cloud cover: upper bound (inclusive) of each band.
_CLOUD_DESCRIPTIONS: Final[tuple[tuple[float, str], ...]] = (
    (10, "clear sky"),
    (25, "few clouds"),
    (50, "scattered clouds"),
    (84, "broken clouds"),
    (100, "overcast clouds"),
)


def _describe(clouds: float, rain_index: float) -> str:
    """OpenWeatherMap-style condition: rain under thick cloud in a deep low, else cloud cover."""
    if clouds >= 85 and rain_index > 2.4:
        return "moderate rain"
    if clouds >= 85 and rain_index > 1.6:
        return "light rain"
    return next(text for bound, text in _CLOUD_DESCRIPTIONS if clouds <= bound)


def _diurnal_shape(solar_hour: float, dawn: float, peak: float = 15.0) -> float:
    """-1 at dawn, +1 at ``peak`` (local solar hours), half-cosines in between."""
    if dawn <= solar_hour < peak:
        return -math.cos(math.pi * (solar_hour - dawn) / (peak - dawn))
    since_peak = (solar_hour - peak) % 24
    return math.cos(math.pi * since_peak / (24 - (peak - dawn)))


@dataclass(frozen=True)
class _Climate:
    """A site's climatology (fitted by eye to Madrid, Luton, Edinburgh and Oslo normals; Tokyo
    takes it from its latitude and continentality)."""

    annual_mean_c: float
    seasonal_amplitude_c: float  # half the January-July difference
    diurnal_factor: float
    hemisphere: float
    synoptic_sigma_c: float
    cloud_bias: float  # subtropical highs are clearer ...
    aridity_c: float  # ... and drier: extra dew-point depression, mostly in summer
    summer_clearing: float

    @classmethod
    def of(cls, site: Site) -> _Climate:
        abs_lat = abs(site.latitude)
        return cls(
            annual_mean_c=30.0 - 0.38 * abs_lat,
            seasonal_amplitude_c=0.10 * abs_lat + 6.0 * site.continentality,
            diurnal_factor=1.0 + site.continentality,
            hemisphere=1.0 if site.latitude >= 0 else -1.0,
            synoptic_sigma_c=1.0 + 0.03 * abs_lat,
            cloud_bias=0.06 * (abs_lat - 45.0),
            aridity_c=0.8 * max(0.0, 48.0 - abs_lat),
            summer_clearing=1.0 * site.continentality,
        )

    def season(self, day_of_year: float) -> float:
        """-1 in mid-winter, +1 in mid-summer, for this hemisphere."""
        phase = 2 * math.pi * (day_of_year - _COLDEST_DAY_OF_YEAR) / _DAYS_PER_YEAR
        return -self.hemisphere * math.cos(phase)


@dataclass(frozen=True)
class _Synoptic:
    """Hourly unit-variance AR(1) anomalies; read between hours by linear interpolation."""

    pressure: list[float]
    temperature: list[float]
    cloud: list[float]
    wind: list[float]
    direction: list[float]
    dew: list[float]

    @classmethod
    def draw(cls, rng: random.Random, hours: int) -> _Synoptic:
        # The order of the draws is part of the output: add new processes at the end.
        return cls(
            pressure=_ar1(rng, hours, _PRESSURE_TAU_H),
            temperature=_ar1(rng, hours, _TEMPERATURE_TAU_H),
            cloud=_ar1(rng, hours, _CLOUD_TAU_H),
            wind=_ar1(rng, hours, _WIND_TAU_H),
            direction=_ar1(rng, hours, _DIRECTION_TAU_H),
            dew=_ar1(rng, hours, _DEW_TAU_H),
        )


def _observation(
    site: Site, climate: _Climate, synoptic: _Synoptic, offset_h: float, moment: datetime
) -> dict[str, Any]:
    """The ``data`` record of one weather observation at ``moment`` (``offset_h`` into the run)."""
    i = int(offset_h)
    frac = offset_h - i
    day = moment.date()
    sun = sun_day(site, day)
    utc_hours = moment.hour + moment.minute / 60 + moment.second / 3600

    season = climate.season(moment.timetuple().tm_yday - 1 + utc_hours / 24)
    low = -_lerp(synoptic.pressure, i, frac)  # positive in a depression
    front = _lerp(synoptic.cloud, i, frac)
    clearing = climate.summer_clearing * (1 + season) / 2
    cover = 1 / (1 + math.exp(-1.6 * (0.9 * low + 0.9 * front + climate.cloud_bias - clearing)))
    clouds = float(round(100 * cover))

    mean_temp = (
        climate.annual_mean_c
        + climate.seasonal_amplitude_c * season
        + climate.synoptic_sigma_c * _lerp(synoptic.temperature, i, frac)
    )
    # Long sunny days heat more; clouds damp both the afternoon high and the night low.
    amplitude = climate.diurnal_factor * (1.0 + 4.0 * sun.half_day_min / 720) * (1 - 0.65 * cover)
    dawn = min(10.0, max(2.0, 12 - sun.half_day_min / 60))
    shape = _diurnal_shape(solar_hour(site, utc_hours, sun), dawn)
    temperature = mean_temp + amplitude * shape
    # The dew point follows the day's air mass, so RH peaks at dawn and dips after noon.
    depression = (
        1.0
        + 4.0 * (1 - cover)
        + 1.5 * (1 + season)
        + climate.aridity_c * (1 + 0.8 * season)
        + 0.8 * _lerp(synoptic.dew, i, frac)
    )
    dew_point = min(temperature, mean_temp - max(0.3, depression))
    humidity = 100 * saturation_vapour_pressure(dew_point) / saturation_vapour_pressure(temperature)
    wind = max(0.2, 3.5 + 2.0 * low + 1.3 * _lerp(synoptic.wind, i, frac)) * (1 + 0.15 * shape)
    direction = (235 + 60 * _lerp(synoptic.direction, i, frac) + 20 * low) % 360

    noon = datetime.combine(day, time(), UTC) + timedelta(minutes=sun.noon_utc_min)
    return {
        "temperature": round(temperature, 2),
        "humidity": float(round(min(100.0, humidity))),
        "pressure": float(round(1013 - 9 * low)),
        "wind_direction": float(round(direction)),
        "wind_speed": round(wind, 2),
        "sunrise": iso_seconds(noon - timedelta(minutes=sun.half_day_min)),
        "sunset": iso_seconds(noon + timedelta(minutes=sun.half_day_min)),
        "clouds": clouds,
        "description": _describe(clouds, 0.8 * low + 0.9 * front),
        "location": site.wkt,
    }


def weather_rows(
    site: Site,
    start: datetime,
    days: int,
    seed: int,
    every: timedelta = timedelta(minutes=10),
) -> list[dict[str, Any]]:
    """OpenWeatherMap-style observations at ``site`` every ``every`` for ``days`` days.

    Each row is a ``weather_data`` message; the poll lands 0.2-2.5 s after the tick.
    """
    start = require_utc(start, "start")
    require_days(days)
    step_s = every.total_seconds()
    if step_s <= 0:
        raise ValueError(f"every must be a positive duration, got {every!r}")
    rng = random.Random(f"{seed}:{site.name}:weather")  # noqa: S311 - simulation, not crypto
    count = int(days * 86400 // step_s)
    synoptic = _Synoptic.draw(rng, math.ceil(count * step_s / 3600) + 2)
    climate = _Climate.of(site)
    rows: list[dict[str, Any]] = []
    for k in range(count):
        moment = start + timedelta(seconds=k * step_s)
        data = _observation(site, climate, synoptic, k * step_s / 3600, moment)
        polled = moment + timedelta(milliseconds=rng.randint(200, 2500))
        rows.append(
            {"day": polled.date().isoformat(), "timestamp": iso_millis(polled), "data": data}
        )
    return rows
