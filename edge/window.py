"""One sensor's window: a bounded summary of its adverts, and a reading robust to forgeries.

Memory: a window keeps at most `SAMPLES` reading packets per sensor, a uniform sample of
all it heard (reservoir sampling), as 16-bit integers, plus counters: about 1 KB per sensor
whether the sensor advertises once a minute or ten times a second.

The estimate: BLE advertisements are unauthenticated, so anyone nearby can send packets
that claim to be a configured sensor. The gateway refuses those whose payload MAC is not
the sender's address (`edge.agent`); for the rest, the reading is the median of the
largest group of samples that agree with one another (within `AGREE_TEMPERATURE` and
`AGREE_HUMIDITY` of one sample), and only if that group is a strict majority of the window.
So a minority of forged or damaged packets cannot move the reading outside what the real
sensor sent, and a window split evenly between two stories gives no reading (counted as
contested) rather than a value in between that nobody sent. A median with MAD rejection
would not do: with three packets at 20 °C and three at 85 °C the MAD is as wide as the gap
and nothing is rejected. The widths leave room for a room that really changes within a
window (a 2 °C swing in 10 minutes still forms a majority).
"""

from __future__ import annotations

import bisect
import random
import statistics
from array import array
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from edge.thermobeacon import Advert, battery_percent

SAMPLES = 64  # per sensor per window; exact below it, a uniform sample above
AGREE_TEMPERATURE = 1.0  # °C either side of a sample
AGREE_HUMIDITY = 5.0  # %RH either side of a sample
_SIXTEENTHS = 16  # the sensor's resolution: values are whole sixteenths


class Summary:
    """What a window keeps of one sensor: bounded, whatever the advert rate."""

    __slots__ = ("heard", "humidities", "minmax", "rejected", "temperatures", "voltages")

    def __init__(self) -> None:
        self.heard = 0  # reading packets accepted into the window
        self.minmax = 0
        self.rejected = 0  # damaged packets
        self.temperatures = array("h")  # sixteenths of a degree
        self.humidities = array("h")  # sixteenths of a percent
        self.voltages = array("H")  # millivolts

    def add(self, advert: Advert, rng: random.Random) -> None:
        """Keep `advert` in the sample (Vitter's algorithm R: each packet equally likely)."""
        self.heard += 1
        values = (
            round(advert.temperature * _SIXTEENTHS),
            round(advert.humidity * _SIXTEENTHS),
            advert.voltage_mv,
        )
        if len(self.temperatures) < SAMPLES:
            self.temperatures.append(values[0])
            self.humidities.append(values[1])
            self.voltages.append(values[2])
            return
        slot = rng.randrange(self.heard)
        if slot < SAMPLES:
            self.temperatures[slot], self.humidities[slot], self.voltages[slot] = values


@dataclass(frozen=True)
class Estimate:
    temperature: float
    humidity: float
    battery: int
    agreeing: int  # samples in the majority group
    sampled: int  # samples kept of the window
    heard: int  # reading packets heard in the window


@dataclass(frozen=True)
class Contested:
    """No strict majority agrees: the window gives no reading."""

    largest: int
    sampled: int
    heard: int


def estimate(summary: Summary) -> Estimate | Contested | None:
    """The window's reading, a contested verdict, or None when nothing was heard."""
    n = len(summary.temperatures)
    if n == 0:
        return None
    group = _largest_agreeing(summary)
    if 2 * len(group) <= n:
        return Contested(len(group), n, summary.heard)
    temperatures = [summary.temperatures[i] / _SIXTEENTHS for i in group]
    humidities = [summary.humidities[i] / _SIXTEENTHS for i in group]
    voltage = round(statistics.median(summary.voltages[i] for i in group))
    return Estimate(
        round(statistics.median(temperatures), 4),
        round(statistics.median(humidities), 4),
        battery_percent(voltage),
        len(group),
        n,
        summary.heard,
    )


def _largest_agreeing(summary: Summary) -> list[int]:
    """Indices of the largest group within the agreement widths of one of its samples."""
    width_t = round(AGREE_TEMPERATURE * _SIXTEENTHS)
    width_h = round(AGREE_HUMIDITY * _SIXTEENTHS)
    order = sorted(range(len(summary.temperatures)), key=lambda i: summary.temperatures[i])
    by_t = [summary.temperatures[i] for i in order]
    best: list[int] = []
    for i in order:
        t, h = summary.temperatures[i], summary.humidities[i]
        low = bisect.bisect_left(by_t, t - width_t)
        high = bisect.bisect_right(by_t, t + width_t)
        group = [j for j in order[low:high] if abs(summary.humidities[j] - h) <= width_h]
        if len(group) > len(best):
            best = group
    return best


class Throttle:
    """At most one log line per key every `every` seconds (monotonic), so a flood of forged
    adverts cannot flood the log: `__call__` says how many were held back since the last
    line, or None when this one is held back too. Bounded by the keys (sensor, reason)."""

    def __init__(self, every: float, monotonic: Callable[[], float]) -> None:
        self._every = every
        self._monotonic = monotonic
        self._state: dict[Hashable, tuple[float, int]] = {}

    def __call__(self, key: Hashable) -> int | None:
        now = self._monotonic()
        last = self._state.get(key)
        if last is not None and now - last[0] < self._every:
            self._state[key] = (last[0], last[1] + 1)
            return None
        self._state[key] = (now, 0)
        return last[1] if last is not None else 0
