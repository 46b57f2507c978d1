"""ThermoBeacon readings in a simulated home: the indoor model stepped every five minutes and
sampled every ten, with sensor noise, calibration offsets, BLE dropouts and gateway outages.

Pure standard library and deterministic (seeded `random.Random`, never the clock). Rows are
`sensor_thermo_beacon` messages (field names of `schemas/sensor_thermo_beacon.json`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Final

from livability.sim.homes import Home
from livability.sim.indoor import Calendar, Indoor
from livability.sim.outdoor import OutdoorConditions
from livability.sim.timestamps import iso_millis, require_days, require_utc

__all__ = ["sensor_rows"]

_STEP_MINUTES: Final = 5
_STEPS_PER_READING: Final = 2  # a ThermoBeacon is read every 10 minutes
_SPIN_UP_STEPS: Final = 24 * 60 // _STEP_MINUTES  # one day to forget the initial state


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
    start = require_utc(start, "start")
    require_days(days)
    outdoor = OutdoorConditions(weather)
    rng = random.Random(f"{seed}:{home.home_id}")  # noqa: S311 - simulation, not crypto
    calendar = Calendar(home, random.Random(f"{seed}:{home.home_id}:routine"))  # noqa: S311

    readings = days * 24 * 60 // (_STEP_MINUTES * _STEPS_PER_READING)
    outage = (0.0, 0.0)
    if home.outage_hours > 0:
        begin = rng.uniform(0, readings)
        outage = (begin, begin + home.outage_hours * 60 / (_STEP_MINUTES * _STEPS_PER_READING))

    start_s = start.timestamp()
    first = outdoor.at(start_s - _SPIN_UP_STEPS * _STEP_MINUTES * 60)
    indoor = Indoor(
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
    home: Home, rng: random.Random, *, start: datetime, index: int, indoor: Indoor
) -> dict[str, Any]:
    """One ThermoBeacon message: sensor noise and calibration offset, 2-decimal rounding."""
    humidity = indoor.relative_humidity + home.sensor_humidity_offset_rh + rng.gauss(0, 0.5)
    temperature = indoor.temperature + home.sensor_temperature_offset_c + rng.gauss(0, 0.05)
    # The gateway polls a few seconds late, never early.
    taken = start + timedelta(seconds=index * 600 + rng.uniform(0.0, 4.0))
    return {
        "day": taken.date().isoformat(),
        "timestamp": iso_millis(taken),
        "data": {
            "mac": home.mac,
            "home_id": home.home_id,
            "temperature": round(temperature, 2),
            "humidity": round(min(100.0, max(0.0, humidity)), 2),
            "location": home.site.wkt,
        },
        "room": home.room,
    }
