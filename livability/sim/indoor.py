"""The inside of one home: a lumped (single-node) thermal model and a single-zone moisture
balance, driven by the weather, the heating, the sun and the occupants' day."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from typing import Final, NamedTuple

from livability.sim.air import saturation_absolute_humidity
from livability.sim.homes import Home
from livability.sim.outdoor import Outdoor
from livability.sim.sun import SunDay, solar_hour, sun_day, sun_elevation_sine

__all__ = ["Calendar", "Indoor", "Moment"]

_CONTROL_GAIN_PER_HOUR: Final = 2.0  # proportional thermostat: full power 0.5 K below setpoint
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_EPOCH_WEEKDAY: Final = date(1970, 1, 1).weekday()


@dataclass(frozen=True)
class Routine:
    """One day's habits, so days differ: when the shower runs, how much cooking."""

    shower_hour: float
    dinner_hour: float
    cooking_factor: float


class Moment(NamedTuple):
    hour: float  # local solar time
    away: bool  # occupants out at work
    routine: Routine
    sun_sine: float  # sine of the sun's elevation; negative at night


class Calendar:
    """What time it is in the home: solar hour, weekday, the day's routine, the sun."""

    def __init__(self, home: Home, rng: random.Random) -> None:
        self._home = home
        self._rng = rng
        self._suns: dict[int, SunDay] = {}
        self._routines: dict[int, Routine] = {}

    def at(self, moment: float) -> Moment:
        site = self._home.site
        utc_day = math.floor(moment / 86400)
        sun = self._suns.get(utc_day)
        if sun is None:
            sun = self._suns[utc_day] = sun_day(site, date.fromordinal(_EPOCH_ORDINAL + utc_day))
        hour = solar_hour(site, (moment / 3600) % 24, sun)
        local_day = math.floor(moment / 86400 + site.longitude / 360)
        routine = self._routines.get(local_day)
        if routine is None:
            routine = self._routines[local_day] = Routine(
                shower_hour=7.0 + self._rng.gauss(0, 0.4),
                dinner_hour=18.0 + self._rng.gauss(0, 0.5),
                cooking_factor=self._rng.uniform(0.5, 1.5),
            )
        weekday = (local_day + _EPOCH_WEEKDAY) % 7 < 5
        return Moment(
            hour=hour,
            away=self._home.away_on_weekdays and weekday and 8.5 <= hour < 17.5,
            routine=routine,
            sun_sine=sun_elevation_sine(site, hour, sun),
        )


def _moisture_source(home: Home, moment: Moment) -> float:
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
class Indoor:
    """State of the single-zone model: air temperature (C) and water vapour density (g/m3)."""

    temperature: float
    vapour: float

    def step(self, home: Home, outdoor: Outdoor, moment: Moment, dt_h: float) -> None:
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
        self.vapour = min(self.vapour, saturation_absolute_humidity(self.temperature))

    @property
    def relative_humidity(self) -> float:
        return 100 * self.vapour / saturation_absolute_humidity(self.temperature)
