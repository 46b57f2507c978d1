"""Outdoor conditions at any moment, read from weather rows: interpolated between
observations, held beyond them, nullable fields skipped (a default where none is given)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from livability.sim.air import saturation_absolute_humidity
from livability.sim.timestamps import require_utc

__all__ = ["Outdoor", "OutdoorConditions"]

_DEFAULT_CLOUDS: Final = 75.0
_DEFAULT_WIND_SPEED: Final = 4.0


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


class Outdoor(NamedTuple):
    temperature: float  # C
    vapour: float  # g/m3
    wind_speed: float  # m/s
    clouds: float  # percent


class OutdoorConditions:
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
            when = require_utc(moment, f"weather[{index}].timestamp").timestamp()
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

    def at(self, moment: float) -> Outdoor:
        temperature = self._temperature.at(moment)
        return Outdoor(
            temperature=temperature,
            vapour=self._humidity.at(moment) / 100 * saturation_absolute_humidity(temperature),
            wind_speed=self._wind_speed.at(moment),
            clouds=self._clouds.at(moment),
        )
