"""A simulated BLE radio for the demo and the tests: bleak's classes, with no radio behind.

`Radio.scanner_class()` and `Radio.client_class()` stand in for `bleak.BleakScanner` and
`bleak.BleakClient` at the library boundary: the scanner calls the agent's detection
callback with real `BLEDevice` and `AdvertisementData` objects carrying ThermoBeacon
advertisement bytes; the client answers GATT history commands through the notify callback
as a sensor does. Everything above them (`edge.agent`, `edge.gatt`, bleak-retry-connector)
runs unchanged.

`VirtualTimeLoop` is an asyncio event loop whose clock jumps to the next timer whenever
nothing is ready and no executor job is in flight, so two weeks of a gateway's life take
seconds; `virtual_clock(loop, start)` is the matching clock (`edge.clock.Clock`, and called
it gives UTC as a datetime). It can be stepped and its kernel flag set, as NTP or a stale
RTC would, to test the gateway against a wrong clock while the radio keeps true time.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import selectors
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future as ConcurrentFuture
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge import config as edge_config
from edge.agent import utc_now
from edge.thermobeacon import (
    COUNT_COMMAND,
    HISTORY_COMMAND,
    RX_CHARACTERISTIC,
    SERVICE_UUID,
    TX_CHARACTERISTIC,
    VOLTAGE_RANGE_MV,
    Advert,
    HistoryPage,
    MinMax,
    encode,
    encode_minmax,
)
from livability.sim.homes import ARCHETYPES, make_home
from livability.sim.readings import sensor_rows
from livability.sim.sites import Site
from livability.sim.weather import weather_rows

LOG_INTERVAL_S = 600  # what a ThermoBeacon does (WatchFlower); the gateway derives it
ADVERTS_PER_READING = 3


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """Virtual time: `time()` advances only when the loop would otherwise wait.

    By default virtual time stands still while an executor job (a sink's send) is in
    flight. With `threads_take_time`, it goes on to the next timer (or by a minute, if
    there is none) when a job has not answered within a few real milliseconds: a slow sink
    then takes virtual time, and the rest of the loop (windows closing) lives through it.
    """

    def __init__(self, *, threads_take_time: bool = False) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now = 0.0
        self._in_flight = 0
        selector = self._selector  # type: ignore[attr-defined]
        real_select = selector.select

        def select(timeout: float | None = None) -> list[Any]:
            if self._in_flight and threads_take_time:
                ready: list[Any] = real_select(0.005 if timeout is None else min(timeout, 0.005))
                if not ready:  # to the next timer; with none, a minute per wait
                    self._now += 60.0 if timeout is None else max(0.0, timeout)
                return ready
            if self._in_flight:  # a thread works in real time: wait for it for real
                wait = None if timeout is None else min(timeout, 1.0)
                return real_select(wait)  # type: ignore[no-any-return]
            ready = real_select(0)
            if ready:
                return ready
            if timeout is None:  # no timer at all: only another thread can wake the loop
                return real_select(None)  # type: ignore[no-any-return]
            self._now += max(0.0, timeout)
            return []

        selector.select = select

    def time(self) -> float:
        return self._now

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        self._in_flight += 1
        future = super().run_in_executor(executor, func, *args)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: asyncio.Future[Any] | ConcurrentFuture[Any]) -> None:
        self._in_flight -= 1


class VirtualClock:
    """`edge.clock.Clock` on a loop's virtual time: monotonic = loop time, wall = `start` at
    loop time 0 plus every `step`; `synchronised` is the kernel flag to report."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: datetime) -> None:
        self._loop = loop
        self._start = start.timestamp()
        self.offset = 0.0  # seconds the wall clock is off true time
        self.synced: bool | None = True

    def monotonic(self) -> float:
        return self._loop.time()

    def wall(self) -> float:
        return self._start + self._loop.time() + self.offset

    def synchronised(self) -> bool | None:
        return self.synced

    def step(self, seconds: float, *, synced: bool | None = None) -> None:
        """Step the wall clock (as NTP or `date -s` does), and optionally the flag."""
        self.offset += seconds
        if synced is not None:
            self.synced = synced

    def set_wall(self, moment: datetime, *, synced: bool | None = None) -> None:
        self.step(moment.timestamp() - self.wall(), synced=synced)

    def __call__(self) -> datetime:
        """The wall time as UTC (the true time unless stepped)."""
        return datetime.fromtimestamp(self.wall(), UTC)


def virtual_clock(loop: asyncio.AbstractEventLoop, start: datetime) -> VirtualClock:
    """The clock of `loop`: `start` at loop time 0, synchronised."""
    return VirtualClock(loop, start)


@dataclass
class SimulatedSensor:
    """One ThermoBeacon: what it measured when, and its memory of it."""

    mac: int
    boot_at: datetime
    readings: Sequence[tuple[datetime, float, float]]  # what it advertises, in time order
    model: int = 0x11
    voltage_mv: int = 3010  # at boot
    reachable: bool = True  # answers GATT connections
    drain_mv_per_day: float = 0.0  # a dying battery loses this much a day from boot
    _times: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._times = [t.timestamp() for t, _, _ in self.readings]

    @property
    def address(self) -> str:
        return ":".join(f"{b:02X}" for b in self.mac.to_bytes(6, "big"))

    def uptime(self, moment: datetime) -> int:
        return int((moment - self.boot_at).total_seconds())

    def voltage(self, moment: datetime) -> int:
        """The coin cell's voltage at `moment`, in the advert's range (edge.thermobeacon)."""
        drained = self.drain_mv_per_day * self.uptime(moment) / 86400
        return max(VOLTAGE_RANGE_MV[0], round(self.voltage_mv - drained))

    def measured(self, moment: datetime) -> tuple[float, float]:
        """Temperature and humidity at `moment`, between the advertised ones (1/16 steps)."""
        times, at = self._times, moment.timestamp()
        i = bisect.bisect_left(times, at)
        if i == 0:
            _, t, h = self.readings[0]
        elif i >= len(times):
            _, t, h = self.readings[-1]
        else:
            (t0, a0, b0), (t1, a1, b1) = self.readings[i - 1], self.readings[i]
            share = (at - t0.timestamp()) / max(1e-9, (t1 - t0).total_seconds())
            t, h = a0 + (a1 - a0) * share, b0 + (b1 - b0) * share
        return _sixteenth(t), _sixteenth(min(100.0, max(0.0, h)))

    def stored(self, moment: datetime) -> int:
        """Records in its memory at `moment`: one every LOG_INTERVAL_S since power-on."""
        return self.uptime(moment) // LOG_INTERVAL_S

    def record(self, index: int) -> tuple[float, float]:
        return self.measured(self.boot_at + timedelta(seconds=(index + 1) * LOG_INTERVAL_S))


def _sixteenth(value: float) -> float:
    return round(value * 16) / 16


def _advert(sensor: SimulatedSensor, moment: datetime, t: float, h: float) -> Advert:
    return Advert(
        sensor.model, sensor.mac, t, h, sensor.voltage(moment), 100, sensor.uptime(moment), False
    )


Event = tuple[datetime, SimulatedSensor, int, bytes]


class Radio:
    """The sensors within reach, and the advertisements they send.

    By default each sensor sends, per reading, ADVERTS_PER_READING reading packets a second
    apart and one min/max packet, as a ThermoBeacon interleaves them. With `every`, each
    sensor instead advertises a reading packet every `every` seconds (what it measures
    then) and a min/max packet every tenth time: the load of a busy radio.
    """

    def __init__(
        self,
        sensors: Sequence[SimulatedSensor],
        clock: Callable[[], datetime],
        *,
        every: float | None = None,
    ) -> None:
        self.sensors = {s.address: s for s in sensors}
        self.clock = clock
        self.every = every
        self.connections = 0

    def events(self, since: datetime | None = None) -> Iterator[Event]:
        """Every advertisement from `since` in time order: (when, sensor, company id,
        payload). Generated as they are needed: a month of adverts is not held in memory."""
        streams = [
            self._steady(s, since) if self.every else self._readings(s, since)
            for s in self.sensors.values()
        ]
        return heapq.merge(*streams, key=lambda e: (e[0], e[1].mac))

    def _readings(self, sensor: SimulatedSensor, since: datetime | None) -> Iterator[Event]:
        low = high = None
        for when, temperature, humidity in sensor.readings:
            t, h = _sixteenth(temperature), _sixteenth(min(100.0, max(0.0, humidity)))
            low = min(low if low is not None else t, t)
            high = max(high if high is not None else t, t)
            if since is not None and when + timedelta(seconds=ADVERTS_PER_READING) < since:
                continue
            for k in range(ADVERTS_PER_READING):
                moment = when + timedelta(seconds=k)
                yield (moment, sensor, *encode(_advert(sensor, moment, t, h)))
            moment = when + timedelta(seconds=ADVERTS_PER_READING)
            up = sensor.uptime(moment)
            yield (
                moment,
                sensor,
                *encode_minmax(MinMax(sensor.model, sensor.mac, high, up, low, up)),
            )

    def _steady(self, sensor: SimulatedSensor, since: datetime | None) -> Iterator[Event]:
        assert self.every is not None
        moment = since or sensor.readings[0][0]
        last = sensor.readings[-1][0]
        sent = 0
        while moment <= last:
            t, h = sensor.measured(moment)
            yield (moment, sensor, *encode(_advert(sensor, moment, t, h)))
            sent += 1
            if sent % 10 == 0:
                up = sensor.uptime(moment)
                minmax = MinMax(sensor.model, sensor.mac, t, up, t, up)
                yield (moment, sensor, *encode_minmax(minmax))
            moment += timedelta(seconds=self.every)

    def scanner_class(self) -> type[Any]:
        radio = self

        class SimulatedScanner:
            """`bleak.BleakScanner` as the agent uses it."""

            def __init__(
                self,
                detection_callback: Callable[[BLEDevice, AdvertisementData], None] | None = None,
                service_uuids: list[str] | None = None,
                **_: Any,
            ) -> None:
                self._callback = detection_callback
                self._task: asyncio.Task[None] | None = None

            async def start(self) -> None:
                self._task = asyncio.get_running_loop().create_task(self._emit())

            async def stop(self) -> None:
                if self._task is not None:
                    self._task.cancel()
                    await asyncio.gather(self._task, return_exceptions=True)

            async def _emit(self) -> None:
                now = radio.clock()
                for when, sensor, company, payload in radio.events(now):
                    if when < now:
                        continue
                    wait = (when - radio.clock()).total_seconds()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    device = BLEDevice(sensor.address, "ThermoBeacon", {})
                    data = AdvertisementData(
                        local_name="ThermoBeacon",
                        manufacturer_data={company: payload},
                        service_data={},
                        service_uuids=[SERVICE_UUID],
                        tx_power=None,
                        rssi=-60,
                        platform_data=(),
                    )
                    if self._callback is not None:
                        self._callback(device, data)

        return SimulatedScanner

    def client_class(self) -> type[Any]:
        radio = self

        class SimulatedClient:
            """`bleak.BleakClient` as bleak-retry-connector and `edge.gatt` use it."""

            def __init__(self, device: BLEDevice, *_: Any, **__: Any) -> None:
                self.address = device.address
                self._sensor = radio.sensors.get(device.address.upper())
                self._notify: Callable[[Any, bytearray], None] | None = None
                self._connected = False

            @property
            def is_connected(self) -> bool:
                return self._connected

            async def connect(self, **_: Any) -> bool:
                from bleak.exc import BleakDeviceNotFoundError

                await asyncio.sleep(1.5)  # a BLE connection takes a moment
                if self._sensor is None or not self._sensor.reachable:
                    raise BleakDeviceNotFoundError(self.address)
                radio.connections += 1
                self._connected = True
                return True

            async def disconnect(self) -> bool:
                self._connected = False
                return True

            async def start_notify(
                self, characteristic: str, callback: Callable[[Any, bytearray], None], **_: Any
            ) -> None:
                assert characteristic == RX_CHARACTERISTIC, characteristic
                self._notify = callback

            async def stop_notify(self, characteristic: str) -> None:
                self._notify = None

            async def write_gatt_char(
                self, characteristic: str, data: bytes, response: bool | None = None
            ) -> None:
                assert characteristic == TX_CHARACTERISTIC, characteristic
                assert self._sensor is not None
                assert self._notify is not None
                await asyncio.sleep(0.05)
                stored = self._sensor.stored(radio.clock())
                if bytes(data) == COUNT_COMMAND:
                    answer = bytes([1]) + stored.to_bytes(2, "little") + b"\x00\x00"
                elif data[0] == HISTORY_COMMAND:
                    offset, n = int.from_bytes(data[1:5], "little"), data[5]
                    wanted = range(offset, min(offset + n, stored))
                    records = tuple(self._sensor.record(k) for k in wanted)
                    answer = HistoryPage(offset, records).encode()
                else:
                    return  # a sensor ignores what it does not know
                self._notify(None, bytearray(answer))

        return SimulatedClient


def homes_sensors(
    homes: Sequence[tuple[Any, Sequence[dict[str, Any]]]], boot_at: datetime
) -> list[SimulatedSensor]:
    """Simulated ThermoBeacons for `livability.sim.homes` homes and their rows."""
    sensors = []
    for home, rows in homes:
        points = [
            (
                datetime.fromisoformat(r["timestamp"]).astimezone(UTC),
                float(r["data"]["temperature"]),
                float(r["data"]["humidity"]),
            )
            for r in rows
        ]
        # Batteries differ a little from home to home; all are healthy.
        voltage = 2950 + home.home_id % 7 * 20
        sensors.append(SimulatedSensor(home.mac, boot_at, points, voltage_mv=voltage))
    return sensors


def simulated_sensors(config: edge_config.Config, now: datetime) -> list[Any]:
    """The configured sensors as simulated homes of every kind, two days around `now`."""
    start = datetime.combine(now.date(), time(), UTC) - timedelta(days=1)
    sensors = []
    for index, sensor in enumerate(config.sensors):
        site = Site(f"site-{index}", sensor.latitude, sensor.longitude)
        home = make_home(
            sensor.home_id, ARCHETYPES[index % len(ARCHETYPES)], site, seed=7, mac=sensor.mac
        )
        weather = weather_rows(site, start, 3, seed=7)
        # One home's rows at a time: only what each sensor advertises is kept, so the
        # simulator's memory stays small beside the gateway's with many sensors.
        rows = sensor_rows(home, weather, start, 3, seed=7)
        sensors += homes_sensors([(home, rows)], boot_at=start - timedelta(days=2))
    return sensors


def configured_radio(config: edge_config.Config) -> tuple[type[Any], type[Any]]:
    """bleak's scanner and client classes on a radio where the configured sensors advertise
    simulated homes' readings, in real time (`livability edge run --simulate`)."""
    radio = Radio(simulated_sensors(config, utc_now()), utc_now)
    return radio.scanner_class(), radio.client_class()
