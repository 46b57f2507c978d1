"""Simulated homes and weather for demos of the Livability Score platform.

Pure standard library and deterministic: the same arguments always give the same rows, because
every random draw comes from a ``random.Random`` seeded with a string built from the arguments
(never the global random state, never the clock).

Rows are JSON-ready dicts in the Pub/Sub message format the platform ingests, with the field
names of ``schemas/sensor_thermo_beacon.json`` and ``schemas/weather_data.json``.

Outdoors: a climatological mean from latitude and day of year, a diurnal cycle between dawn and
15:00 local solar time, and synoptic weather from AR(1) processes with multi-day time scales.
Indoors: a lumped (single-node) thermal model and a single-zone moisture balance, stepped every
five minutes and sampled every ten minutes like a ThermoBeacon.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, NamedTuple

from schemas.geo import point_wkt

__all__ = [
    "ARCHETYPES",
    "SITES",
    "Home",
    "Site",
    "make_home",
    "make_homes",
    "sensor_rows",
    "weather_rows",
]

# --- Sites ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A place with its own weather; homes and the weather poller share it."""

    name: str
    latitude: float
    longitude: float
    # 0 for an oceanic climate, 1 for a continental one: bigger seasonal and daily swings and,
    # away from the poles, dry clear summers. Latitude alone cannot tell Madrid from Lisbon.
    continentality: float = 0.0

    @property
    def wkt(self) -> str:
        """The location as WKT, longitude first (BigQuery GEOGRAPHY)."""
        return point_wkt(self.longitude, self.latitude)


SITES: Final[tuple[Site, ...]] = (
    Site("Luton", 51.87833, -0.41472, continentality=0.2),
    Site("Edinburgh", 55.95333, -3.18833, continentality=0.0),
    Site("Madrid", 40.41667, -3.70333, continentality=0.8),
    Site("Oslo", 59.91333, 10.75222, continentality=0.7),
)

# --- Sun ------------------------------------------------------------------------------------

# Sun's upper limb on the horizon with standard refraction (NOAA convention).
_SUNRISE_ALTITUDE_DEG: Final = -0.833
_OBLIQUITY_DEG: Final = 23.44


@dataclass(frozen=True)
class _SunDay:
    declination: float  # radians
    equation_of_time_min: float  # apparent minus mean solar time
    noon_utc_min: float  # minutes after 00:00 UTC
    half_day_min: float  # sunrise to solar noon, minutes (0 in polar night, 720 in polar day)


def _sun_day(site: Site, day: date) -> _SunDay:
    """Textbook approximations: Cooper's declination and Spencer-style equation of time.

    Good to a few minutes, which is all a demo's sunrise and sunset need.
    """
    n = day.timetuple().tm_yday
    declination = math.radians(_OBLIQUITY_DEG * math.sin(2 * math.pi * (284 + n) / 365))
    b = 2 * math.pi * (n - 81) / 364
    eot = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
    lat = math.radians(site.latitude)
    cos_h = (
        math.sin(math.radians(_SUNRISE_ALTITUDE_DEG)) - math.sin(lat) * math.sin(declination)
    ) / (math.cos(lat) * math.cos(declination))
    half_day = 4 * math.degrees(math.acos(max(-1.0, min(1.0, cos_h))))
    return _SunDay(declination, eot, 720 - 4 * site.longitude - eot, half_day)


def _solar_hour(site: Site, utc_hours: float, sun: _SunDay) -> float:
    """Local apparent solar time in hours, 0-24."""
    return (utc_hours + site.longitude / 15 + sun.equation_of_time_min / 60) % 24


def _sun_elevation_sine(site: Site, solar_hour: float, sun: _SunDay) -> float:
    lat = math.radians(site.latitude)
    hour_angle = math.radians(15 * (solar_hour - 12))
    return math.sin(lat) * math.sin(sun.declination) + math.cos(lat) * math.cos(
        sun.declination
    ) * math.cos(hour_angle)


# --- Humidity -------------------------------------------------------------------------------


def _saturation_vapour_pressure(temp_c: float) -> float:
    """Magnus formula over water (WMO-No. 8, 2018 edition), hPa."""
    return 6.112 * math.exp(17.62 * temp_c / (243.12 + temp_c))


def _saturation_absolute_humidity(temp_c: float) -> float:
    """Water vapour density at saturation, g/m3 (ideal gas: 216.7 g K / (hPa m3))."""
    return 216.7 * _saturation_vapour_pressure(temp_c) / (273.15 + temp_c)


# --- Formatting and validation --------------------------------------------------------------


def _require_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _require_days(days: int) -> None:
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise ValueError(f"days must be a positive integer, got {days!r}")


def _iso_millis(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_seconds(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


# --- Weather --------------------------------------------------------------------------------

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
    """A site's climatology (fitted by eye to Madrid, Luton, Edinburgh and Oslo normals)."""

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
    sun = _sun_day(site, day)
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
    shape = _diurnal_shape(_solar_hour(site, utc_hours, sun), dawn)
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
    humidity = (
        100 * _saturation_vapour_pressure(dew_point) / _saturation_vapour_pressure(temperature)
    )
    wind = max(0.2, 3.5 + 2.0 * low + 1.3 * _lerp(synoptic.wind, i, frac)) * (1 + 0.15 * shape)
    direction = (235 + 60 * _lerp(synoptic.direction, i, frac) + 20 * low) % 360

    noon = datetime.combine(day, time(), UTC) + timedelta(minutes=sun.noon_utc_min)
    return {
        "temperature": round(temperature, 2),
        "humidity": float(round(min(100.0, humidity))),
        "pressure": float(round(1013 - 9 * low)),
        "wind_direction": float(round(direction)),
        "wind_speed": round(wind, 2),
        "sunrise": _iso_seconds(noon - timedelta(minutes=sun.half_day_min)),
        "sunset": _iso_seconds(noon + timedelta(minutes=sun.half_day_min)),
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
    start = _require_utc(start, "start")
    _require_days(days)
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
            {"day": polled.date().isoformat(), "timestamp": _iso_millis(polled), "data": data}
        )
    return rows


# --- Homes ----------------------------------------------------------------------------------

ARCHETYPES: Final[tuple[str, ...]] = (
    "insulated heated flat",
    "cold damp house",
    "typical semi",
    "overheated new-build",
    "poorly ventilated flat",
    "draughty period house",
)

# Ranges each home draws its parameters from. Thermal terms are in K/h so the model needs no
# heat capacity: tau is the time constant of heat loss (fabric + ventilation), heater and gains
# are the warming rates they give. Moisture sources are g/h of water vapour released indoors.
_PARAMETER_NAMES: Final[tuple[str, ...]] = (
    "tau_hours",
    "heater_k_per_hour",
    "internal_gain_k_per_hour",
    "solar_gain_k_per_hour",
    "setpoint_c",
    "setback_c",
    "volume_m3",
    "air_changes_per_hour",
    "moisture_buffer",
    "occupant_moisture_g_per_hour",
    "cooking_moisture_g_per_hour",
    "shower_moisture_g",
    "laundry_moisture_g_per_hour",
    "wind_sensitivity",
)
# Columns in the order of _PARAMETER_NAMES:
#  tau h  heater K/h  gains K/h  solar K/h  setpoint C  setback C  volume m3
#  air changes/h  buffer  people g/h  cooking g/h  shower g  laundry g/h  wind sensitivity
# People's vapour covers breathing, washing up and plants: BS 5250 puts a household's total at
# 7-14 kg/day.
_ARCHETYPE_RANGES: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    # Well insulated, steady 20-21 C, moderate moisture: the platform's best case.
    "insulated heated flat": (
        (35, 50), (1.5, 2.5), (0.12, 0.2), (0.2, 0.5), (20.6, 21.4), (19.2, 19.8), (120, 180),
        (0.45, 0.65), (2, 3), (110, 170), (150, 300), (150, 300), (0, 20), (0, 0.1),
    ),
    # Leaky and barely heated, little ventilation, laundry dried indoors: cold and damp.
    "cold damp house": (
        (9, 13), (1.2, 1.8), (0.1, 0.2), (0.1, 0.3), (16.5, 17.5), (14, 15.5), (180, 250),
        (0.2, 0.35), (2, 3), (150, 220), (300, 500), (200, 350), (40, 90), (0.1, 0.3),
    ),
    "typical semi": (
        (18, 28), (2.0, 3.0), (0.12, 0.2), (0.2, 0.4), (19.5, 21), (16, 17.5), (200, 280),
        (0.4, 0.6), (2, 3), (150, 220), (200, 400), (200, 350), (0, 60), (0.1, 0.2),
    ),
    # Airtight, heating left on high, mechanical ventilation: too warm and too dry.
    "overheated new-build": (
        (50, 80), (1.5, 2.5), (0.15, 0.25), (0.4, 0.8), (25, 27), (24, 25), (180, 260),
        (0.6, 0.9), (1.5, 2.5), (80, 120), (100, 200), (100, 200), (0, 0), (0, 0.05),
    ),
    # Warm, but moisture has nowhere to go.
    "poorly ventilated flat": (
        (30, 45), (1.5, 2.5), (0.2, 0.3), (0.2, 0.4), (21, 22.5), (19, 20), (110, 140),
        (0.15, 0.25), (1.5, 2.5), (120, 170), (250, 450), (250, 400), (20, 60), (0, 0.05),
    ),
    # Big heater, big losses: warm when the heating runs, cold soon after; wind makes it worse.
    "draughty period house": (
        (5, 8), (3, 5), (0.1, 0.2), (0.2, 0.4), (20, 21.5), (14, 16), (300, 400),
        (1.2, 1.8), (2, 3), (120, 200), (200, 400), (200, 350), (0, 40), (0.3, 0.6),
    ),
}  # fmt: skip
# When the heating runs at its setpoint (local solar hours); every home shifts these a little.
_HEATING_WINDOWS: Final[dict[str, tuple[tuple[float, float], ...]]] = {
    "insulated heated flat": ((6.0, 9.5), (16.0, 23.0)),
    "cold damp house": ((6.5, 9.0), (16.5, 22.5)),
    "typical semi": ((6.5, 8.5), (16.5, 22.5)),
    "overheated new-build": ((5.5, 23.5),),
    "poorly ventilated flat": ((6.0, 9.5), (15.5, 23.5)),
    "draughty period house": ((6.0, 9.5), (16.0, 23.0)),
}


@dataclass(frozen=True)
class Home:
    """One home with one ThermoBeacon, and the physics that drive its readings."""

    home_id: int
    mac: int
    archetype: str
    site: Site
    tau_hours: float
    heater_k_per_hour: float
    internal_gain_k_per_hour: float
    solar_gain_k_per_hour: float
    setpoint_c: float
    setback_c: float
    volume_m3: float
    air_changes_per_hour: float
    moisture_buffer: float  # furnishings soak up and release vapour: slows humidity changes
    occupant_moisture_g_per_hour: float
    cooking_moisture_g_per_hour: float
    shower_moisture_g: float
    laundry_moisture_g_per_hour: float  # clothes dried indoors
    wind_sensitivity: float  # extra infiltration per 5 m/s of wind
    heating_windows: tuple[tuple[float, float], ...]
    away_on_weekdays: bool
    sensor_temperature_offset_c: float
    sensor_humidity_offset_rh: float
    dropout_rate: float  # share of readings lost to BLE
    outage_hours: float  # one gateway outage per simulated period; 0 for none


def make_home(home_id: int, archetype: str, site: Site, seed: int, mac: int | None = None) -> Home:
    """One home of ``archetype`` at ``site``, its parameters drawn from the archetype's ranges."""
    ranges = _ARCHETYPE_RANGES.get(archetype)
    if ranges is None:
        raise ValueError(f"archetype must be one of {ARCHETYPES}, got {archetype!r}")
    rng = random.Random(f"{seed}:{home_id}:home")  # noqa: S311 - simulation, not crypto
    params = {
        name: rng.uniform(lo, hi) for name, (lo, hi) in zip(_PARAMETER_NAMES, ranges, strict=True)
    }
    windows = tuple(
        (on + rng.gauss(0, 0.3), off + rng.gauss(0, 0.3)) for on, off in _HEATING_WINDOWS[archetype]
    )
    drawn_mac = rng.getrandbits(48)
    return Home(
        home_id=home_id,
        mac=drawn_mac if mac is None else mac,
        archetype=archetype,
        site=site,
        heating_windows=windows,
        away_on_weekdays=rng.random() < 0.5,
        sensor_temperature_offset_c=rng.uniform(-0.2, 0.2),
        sensor_humidity_offset_rh=rng.uniform(-1.5, 1.5),
        dropout_rate=0.0 if rng.random() < 0.5 else rng.uniform(0.002, 0.03),
        outage_hours=0.0 if rng.random() < 0.65 else rng.uniform(2.0, 12.0),
        **params,
    )


def make_homes(count: int, seed: int) -> list[Home]:
    """Homes 1..count; archetypes cycle so any four span good and bad homes; unique MACs."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    rng = random.Random(f"{seed}:homes")  # noqa: S311 - simulation, not crypto
    sites = list(SITES)
    rng.shuffle(sites)
    homes: list[Home] = []
    macs: set[int] = set()
    for index in range(count):
        home = make_home(
            index + 1, ARCHETYPES[index % len(ARCHETYPES)], sites[index % len(sites)], seed
        )
        while home.mac in macs:  # a 48-bit collision is unlikely, but the contract is unique
            home = make_home(home.home_id, home.archetype, home.site, seed, rng.getrandbits(48))
        macs.add(home.mac)
        homes.append(home)
    return homes


# --- Indoor simulation ----------------------------------------------------------------------

_STEP_MINUTES: Final = 5
_STEPS_PER_READING: Final = 2  # a ThermoBeacon is read every 10 minutes
_SPIN_UP_STEPS: Final = 24 * 60 // _STEP_MINUTES  # one day to forget the initial state
_CONTROL_GAIN_PER_HOUR: Final = 2.0  # proportional thermostat: full power 0.5 K below setpoint
_DEFAULT_CLOUDS: Final = 75.0
_DEFAULT_WIND_SPEED: Final = 4.0
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_EPOCH_WEEKDAY: Final = date(1970, 1, 1).weekday()


class _Series:
    """Linear interpolation in time, holding the first and last value outside the data.

    Lookups are expected in increasing time, so a cursor makes each one O(1) amortised.
    """

    def __init__(self, points: list[tuple[float, float]], default: float | None = None) -> None:
        if not points and default is not None:
            points = [(0.0, default)]
        self._times = [t for t, _ in points]
        self._values = [v for _, v in points]
        self._cursor = 0

    def at(self, moment: float) -> float:
        times, values = self._times, self._values
        if moment <= times[0]:
            return values[0]
        if moment >= times[-1]:
            return values[-1]
        if times[self._cursor] > moment:
            self._cursor = 0
        while times[self._cursor + 1] < moment:
            self._cursor += 1
        i = self._cursor
        t0, t1 = times[i], times[i + 1]
        return values[i] + (values[i + 1] - values[i]) * (moment - t0) / (t1 - t0)


class _Outdoor(NamedTuple):
    temperature: float  # C
    vapour: float  # g/m3
    wind_speed: float  # m/s
    clouds: float  # percent


class _Weather:
    """Outdoor conditions at any time, from weather rows (nullable fields skipped)."""

    def __init__(self, weather: list[dict[str, Any]]) -> None:
        if not weather:
            raise ValueError("weather must hold at least one observation, got none")
        points: dict[str, list[tuple[float, float]]] = {
            "temperature": [],
            "humidity": [],
            "clouds": [],
            "wind_speed": [],
        }
        for index, row in enumerate(weather):
            try:
                moment = datetime.fromisoformat(row["timestamp"])
                data = row["data"]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"weather[{index}] is not a weather row ({exc!r}): {row!r}"
                ) from exc
            when = _require_utc(moment, f"weather[{index}].timestamp").timestamp()
            for field, series in points.items():
                value = data.get(field)
                if value is not None:
                    series.append((when, float(value)))
        for field in ("temperature", "humidity"):
            if not points[field]:
                raise ValueError(f"weather has no {field} observations ({len(weather)} rows)")
        for series in points.values():
            series.sort()
        self._temperature = _Series(points["temperature"])
        self._humidity = _Series(points["humidity"])
        self._clouds = _Series(points["clouds"], _DEFAULT_CLOUDS)
        self._wind_speed = _Series(points["wind_speed"], _DEFAULT_WIND_SPEED)

    def at(self, moment: float) -> _Outdoor:
        temperature = self._temperature.at(moment)
        return _Outdoor(
            temperature=temperature,
            vapour=self._humidity.at(moment) / 100 * _saturation_absolute_humidity(temperature),
            wind_speed=self._wind_speed.at(moment),
            clouds=self._clouds.at(moment),
        )


@dataclass(frozen=True)
class _Routine:
    """One day's habits, so days differ: when the shower runs, how much cooking."""

    shower_hour: float
    dinner_hour: float
    cooking_factor: float


class _Moment(NamedTuple):
    hour: float  # local solar time
    away: bool  # occupants out at work
    routine: _Routine
    sun_sine: float  # sine of the sun's elevation; negative at night


class _Calendar:
    """What time it is in the home: solar hour, weekday, the day's routine, the sun."""

    def __init__(self, home: Home, rng: random.Random) -> None:
        self._home = home
        self._rng = rng
        self._suns: dict[int, _SunDay] = {}
        self._routines: dict[int, _Routine] = {}

    def at(self, moment: float) -> _Moment:
        site = self._home.site
        utc_day = math.floor(moment / 86400)
        sun = self._suns.get(utc_day)
        if sun is None:
            sun = self._suns[utc_day] = _sun_day(site, date.fromordinal(_EPOCH_ORDINAL + utc_day))
        hour = _solar_hour(site, (moment / 3600) % 24, sun)
        local_day = math.floor(moment / 86400 + site.longitude / 360)
        routine = self._routines.get(local_day)
        if routine is None:
            routine = self._routines[local_day] = _Routine(
                shower_hour=7.0 + self._rng.gauss(0, 0.4),
                dinner_hour=18.0 + self._rng.gauss(0, 0.5),
                cooking_factor=self._rng.uniform(0.5, 1.5),
            )
        weekday = (local_day + _EPOCH_WEEKDAY) % 7 < 5
        return _Moment(
            hour=hour,
            away=self._home.away_on_weekdays and weekday and 8.5 <= hour < 17.5,
            routine=routine,
            sun_sine=_sun_elevation_sine(site, hour, sun),
        )


def _moisture_source(home: Home, moment: _Moment) -> float:
    """Water vapour released indoors, g/h: people, showers, cooking, laundry drying."""
    hour, away, routine = moment.hour, moment.away, moment.routine
    source = home.laundry_moisture_g_per_hour + home.occupant_moisture_g_per_hour * (
        0.2 if away else 1.0
    )
    if routine.shower_hour <= hour < routine.shower_hour + 0.25:
        source += home.shower_moisture_g / 0.25
    cooking = home.cooking_moisture_g_per_hour * routine.cooking_factor
    if 7.5 <= hour < 8.0:
        source += 0.4 * cooking
    if not away and 12.5 <= hour < 13.0:
        source += 0.5 * cooking
    if routine.dinner_hour <= hour < routine.dinner_hour + 1.0:
        source += cooking
    return source


@dataclass
class _Indoor:
    """State of the single-zone model: air temperature (C) and water vapour density (g/m3)."""

    temperature: float
    vapour: float

    def step(self, home: Home, outdoor: _Outdoor, moment: _Moment, dt_h: float) -> None:
        """Explicit Euler; stable because dt_h is far below tau and 1/air changes."""
        leak = 1 + home.wind_sensitivity * outdoor.wind_speed / 5
        heating = any(on <= moment.hour < off for on, off in home.heating_windows)
        setpoint = home.setpoint_c if heating else home.setback_c
        demand = _CONTROL_GAIN_PER_HOUR * (setpoint - self.temperature)
        heat = min(home.heater_k_per_hour, max(0.0, demand))
        solar = max(0.0, moment.sun_sine) * (1 - 0.75 * outdoor.clouds / 100)
        self.temperature += dt_h * (
            (outdoor.temperature - self.temperature) * leak / home.tau_hours
            + heat
            + home.internal_gain_k_per_hour * (0.5 if moment.away else 1.0)
            + home.solar_gain_k_per_hour * solar
        )
        exchange = home.air_changes_per_hour * leak * (outdoor.vapour - self.vapour)
        source = _moisture_source(home, moment) / home.volume_m3
        self.vapour += dt_h * (exchange + source) / home.moisture_buffer
        # Vapour beyond saturation condenses on the coldest surfaces.
        self.vapour = min(self.vapour, _saturation_absolute_humidity(self.temperature))

    @property
    def relative_humidity(self) -> float:
        return 100 * self.vapour / _saturation_absolute_humidity(self.temperature)


def sensor_rows(
    home: Home,
    weather: list[dict[str, Any]],
    start: datetime,
    days: int,
    seed: int,
) -> list[dict[str, Any]]:
    """ThermoBeacon readings in ``home`` every 10 minutes from ``start`` for ``days`` days.

    ``weather`` gives the outdoor conditions (interpolated between observations and held
    beyond them); it is normally ``weather_rows(home.site, ...)`` over the same period.
    Some homes lose readings to BLE dropouts and a gateway outage, as real ones do.
    """
    start = _require_utc(start, "start")
    _require_days(days)
    outdoor = _Weather(weather)
    rng = random.Random(f"{seed}:{home.home_id}")  # noqa: S311 - simulation, not crypto
    calendar = _Calendar(home, random.Random(f"{seed}:{home.home_id}:routine"))  # noqa: S311

    readings = days * 24 * 60 // (_STEP_MINUTES * _STEPS_PER_READING)
    outage = (0.0, 0.0)
    if home.outage_hours > 0:
        begin = rng.uniform(0, readings)
        outage = (begin, begin + home.outage_hours * 60 / (_STEP_MINUTES * _STEPS_PER_READING))

    start_s = start.timestamp()
    first = outdoor.at(start_s - _SPIN_UP_STEPS * _STEP_MINUTES * 60)
    indoor = _Indoor(
        temperature=(home.setpoint_c + home.setback_c) / 2,
        vapour=first.vapour
        + home.occupant_moisture_g_per_hour / (home.air_changes_per_hour * home.volume_m3),
    )
    rows: list[dict[str, Any]] = []
    for step in range(-_SPIN_UP_STEPS, readings * _STEPS_PER_READING):
        now = start_s + step * _STEP_MINUTES * 60
        if step >= 0 and step % _STEPS_PER_READING == 0:
            index = step // _STEPS_PER_READING
            lost = outage[0] <= index < outage[1] or rng.random() < home.dropout_rate
            if not lost:
                rows.append(_reading(home, rng, start=start, index=index, indoor=indoor))
        indoor.step(home, outdoor.at(now), calendar.at(now), _STEP_MINUTES / 60)
    return rows


def _reading(
    home: Home, rng: random.Random, *, start: datetime, index: int, indoor: _Indoor
) -> dict[str, Any]:
    """One ThermoBeacon message: sensor noise and calibration offset, 2-decimal rounding."""
    humidity = indoor.relative_humidity + home.sensor_humidity_offset_rh + rng.gauss(0, 0.5)
    temperature = indoor.temperature + home.sensor_temperature_offset_c + rng.gauss(0, 0.05)
    # The gateway polls a few seconds late, never early.
    taken = start + timedelta(seconds=index * 600 + rng.uniform(0.0, 4.0))
    return {
        "day": taken.date().isoformat(),
        "timestamp": _iso_millis(taken),
        "data": {
            "mac": home.mac,
            "home_id": home.home_id,
            "temperature": round(temperature, 2),
            "humidity": round(min(100.0, max(0.0, humidity)), 2),
            "location": home.site.wkt,
        },
    }
