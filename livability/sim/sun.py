"""The sun over a site: declination, equation of time, sunrise and sunset, elevation.

Textbook approximations, good to a few minutes, which is all a demo's days need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Final

from livability.sim.sites import Site

__all__ = ["SunDay", "solar_hour", "sun_day", "sun_elevation_sine"]

# Sun's upper limb on the horizon with standard refraction (NOAA convention).
_SUNRISE_ALTITUDE_DEG: Final = -0.833
_OBLIQUITY_DEG: Final = 23.44


@dataclass(frozen=True)
class SunDay:
    declination: float  # radians
    equation_of_time_min: float  # apparent minus mean solar time
    noon_utc_min: float  # minutes after 00:00 UTC
    half_day_min: float  # sunrise to solar noon, minutes (0 in polar night, 720 in polar day)


def sun_day(site: Site, day: date) -> SunDay:
    """Cooper's declination and a Spencer-style equation of time for `day` at `site`."""
    n = day.timetuple().tm_yday
    declination = math.radians(_OBLIQUITY_DEG * math.sin(2 * math.pi * (284 + n) / 365))
    b = 2 * math.pi * (n - 81) / 364
    eot = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
    lat = math.radians(site.latitude)
    cos_h = (
        math.sin(math.radians(_SUNRISE_ALTITUDE_DEG)) - math.sin(lat) * math.sin(declination)
    ) / (math.cos(lat) * math.cos(declination))
    half_day = 4 * math.degrees(math.acos(max(-1.0, min(1.0, cos_h))))
    return SunDay(declination, eot, 720 - 4 * site.longitude - eot, half_day)


def solar_hour(site: Site, utc_hours: float, sun: SunDay) -> float:
    """Local apparent solar time in hours, 0-24."""
    return (utc_hours + site.longitude / 15 + sun.equation_of_time_min / 60) % 24


def sun_elevation_sine(site: Site, solar_hour: float, sun: SunDay) -> float:
    """Sine of the sun's elevation at `solar_hour`; negative at night."""
    lat = math.radians(site.latitude)
    hour_angle = math.radians(15 * (solar_hour - 12))
    return math.sin(lat) * math.sin(sun.declination) + math.cos(lat) * math.cos(
        sun.declination
    ) * math.cos(hour_angle)
