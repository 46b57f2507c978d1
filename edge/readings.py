"""What a window gives: a reading, its row in the contract's format, the gateway's counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from edge.config import Sensor
from edge.sender import SendCounters
from edge.window import Estimate


@dataclass
class Counters(SendCounters):
    adverts: int = 0  # reading packets of configured sensors, accepted
    minmax: int = 0
    rejected: int = 0  # damaged packets and other companies' data
    refused: int = 0  # payload MAC not the sender's: forged or misrouted
    contested: int = 0  # windows without an agreeing majority
    outliers: int = 0  # samples left out of a window's agreeing majority
    readings: int = 0
    held: int = 0  # readings closed before the time was trustworthy
    dropped_untimed: int = 0  # held readings dropped (hold full, or stopped first)
    stale: int = 0  # readings whose timestamp was not after their sensor's last
    backfilled: int = 0


@dataclass(frozen=True)
class Reading:
    sensor: Sensor
    timestamp: datetime
    temperature: float
    humidity: float
    battery: int | None
    samples: int
    at: float | None = None  # monotonic end of its window

    def row(self) -> dict[str, Any]:
        return reading_row(
            self.sensor, self.timestamp, self.temperature, self.humidity, self.battery
        )


def reading_row(
    sensor: Sensor,
    timestamp: datetime,
    temperature: float,
    humidity: float,
    battery: int | None,
) -> dict[str, Any]:
    """A `sensor_thermo_beacon` row in the reference's message format."""
    stamp = timestamp.astimezone(UTC)
    return {
        "day": stamp.date().isoformat(),
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {
            "mac": sensor.mac,
            "home_id": sensor.home_id,
            "temperature": temperature,
            "humidity": humidity,
            "location": sensor.wkt,
        },
        "battery": battery,
        "room": sensor.room,  # the configured room type (edge/config.py), NULL if none
    }


class Heard(NamedTuple):
    """A sensor's newest accepted advert: who sent it, its uptime, when (monotonic)."""

    device: Any
    uptime_s: int
    at: float  # monotonic


class Held(NamedTuple):
    """A reading closed before the time was trustworthy, stamped later from `end`."""

    sensor: Sensor
    end: float  # monotonic
    estimate: Estimate
