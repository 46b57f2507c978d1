"""The gateway agent: passive scan → one reading per sensor and window → outbox → sink.

Passive mode: a `BleakScanner` detection callback receives every advertisement of the
configured sensors (no connection, many sensors at once: a sensor spends nothing beyond its
own advertising). Each window of `interval` seconds (aligned to the epoch, so windows are
the same after a restart) gives one reading per sensor: the median temperature and humidity
of the window's reading packets, the battery from their median voltage, timestamped by the
gateway (UTC) at the window's end. Min/max packets and damaged packets are counted, not used.

Every reading is committed to the outbox before anything is sent. The drain sends the
oldest `batch_size` readings once a batch is full or the oldest has waited `send_every`
seconds, deletes them when the sink acknowledges, and after a failure waits with
exponential backoff and jitter (1 s doubling to 5 min, each wait drawn from its upper half).

When a sensor comes back after missing windows (or the gateway after being down), the gap
is filled from the sensor's stored history over GATT (`edge.gatt`).

The BLE classes (`BleakScanner`, `BleakClient`) and the clock are parameters, so a test or
the demo runs this code unchanged with a simulated radio and simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from edge import gatt
from edge.config import Config, Sensor
from edge.outbox import Note, Outbox
from edge.sinks import Sink, SinkError
from edge.thermobeacon import SERVICE_UUID, Advert, MinMax, NotAReading, decode

log = logging.getLogger(__name__)

TABLE = "sensor_thermo_beacon"
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Window:
    adverts: list[Advert] = field(default_factory=list)
    minmax: int = 0
    rejected: int = 0


@dataclass
class Counters:
    adverts: int = 0  # reading packets of configured sensors
    minmax: int = 0
    rejected: int = 0  # damaged packets and other companies' data
    readings: int = 0
    backfilled: int = 0
    sends: int = 0
    failures: int = 0


@dataclass(frozen=True)
class Reading:
    sensor: Sensor
    timestamp: datetime
    temperature: float
    humidity: float
    battery: int | None
    samples: int

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


def median_reading(sensor: Sensor, adverts: list[Advert], end: datetime) -> Reading:
    from edge.thermobeacon import battery_percent

    return Reading(
        sensor,
        end,
        round(statistics.median(a.temperature for a in adverts), 4),
        round(statistics.median(a.humidity for a in adverts), 4),
        battery_percent(round(statistics.median(a.voltage_mv for a in adverts))),
        len(adverts),
    )


def window_start(moment: datetime, interval_s: int) -> datetime:
    seconds = math.floor(moment.timestamp() / interval_s) * interval_s
    return datetime.fromtimestamp(seconds, UTC)


class Agent:
    def __init__(
        self,
        config: Config,
        outbox: Outbox,
        sink: Sink,
        *,
        scanner_class: type[Any] | None = None,
        client_class: type[Any] | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        if scanner_class is None or client_class is None:
            from bleak import BleakClient, BleakScanner

            scanner_class = scanner_class or BleakScanner
            client_class = client_class or BleakClient
        self.config = config
        self.outbox = outbox
        self.sink = sink
        self.counters = Counters()
        self._scanner_class = scanner_class
        self._client_class = client_class
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._interval = config.gateway.interval
        self._sensors = {s.address: s for s in config.sensors}
        self._windows: dict[int, _Window] = {}
        self._current = window_start(clock(), self._interval)
        self._last_advert: dict[int, tuple[Any, Advert, datetime]] = {}
        self._failures = 0
        self._retry_at: datetime | None = None
        self._backfills: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._flush = False  # send all that is stored, due or not (the end of a simulation)

    # --- passive scan ---

    def on_advertisement(self, device: Any, advertisement: Any) -> None:
        """bleak's detection callback: decode and keep in the sensor's current window."""
        sensor = self._sensors.get(str(device.address).upper())
        if sensor is None:
            return
        window = self._windows.setdefault(sensor.mac, _Window())
        for company, payload in advertisement.manufacturer_data.items():
            try:
                packet = decode(company, payload)
            except NotAReading as err:
                window.rejected += 1
                self.counters.rejected += 1
                log.debug("not a reading", extra={"sensor": sensor.address, "reason": str(err)})
                continue
            if isinstance(packet, MinMax):
                window.minmax += 1
                self.counters.minmax += 1
                continue
            window.adverts.append(packet)
            self.counters.adverts += 1
            self._last_advert[sensor.mac] = (device, packet, self._clock())

    def close_window(self, end: datetime) -> list[Reading]:
        """One reading per sensor heard in the window ending at `end`, committed."""
        windows, self._windows = self._windows, {}
        readings = []
        for sensor in self.config.sensors:
            window = windows.get(sensor.mac)
            if window is None or not window.adverts:
                continue
            readings.append(median_reading(sensor, window.adverts, end))
        if readings:
            gaps = [self._gap_before(r) for r in readings]
            notes = [
                Note(r.sensor.mac, r.timestamp, r.temperature, r.humidity, r.battery)
                for r in readings
            ]
            self.outbox.put(TABLE, [r.row() for r in readings], self._clock(), notes)
            for reading, gap in zip(readings, gaps, strict=True):
                if gap is not None:
                    self._start_backfill(reading.sensor, gap, reading.timestamp)
            self.counters.readings += len(readings)
            self._wake.set()
        return readings

    def _gap_before(self, reading: Reading) -> datetime | None:
        """The last reading before this one if whole windows are missing in between."""
        state = self.outbox.sensor(reading.sensor.mac)
        if state is None or state.last_timestamp is None:
            return None
        missing = reading.timestamp - state.last_timestamp
        return state.last_timestamp if missing > timedelta(seconds=1.5 * self._interval) else None

    # --- backfill ---

    def _start_backfill(self, sensor: Sensor, after: datetime, before: datetime) -> None:
        if not self.config.gateway.backfill or sensor.mac in self._backfills:
            return
        task = asyncio.get_running_loop().create_task(self._backfill(sensor, after, before))
        self._backfills[sensor.mac] = task
        task.add_done_callback(lambda _t: self._backfills.pop(sensor.mac, None))

    async def _backfill(self, sensor: Sensor, after: datetime, before: datetime) -> None:
        heard = self._last_advert.get(sensor.mac)
        if heard is None:
            return
        device, advert, seen_at = heard
        state = self.outbox.sensor(sensor.mac)
        try:
            records, boot_at, next_index, interval = await gatt.backfill(
                self._client_class,
                device,
                name=sensor.address,
                uptime_s=advert.uptime_s,
                seen_at=seen_at,
                # Strictly inside the gap: half a window from the readings on either side.
                after=after + timedelta(seconds=self._interval / 2),
                before=before - timedelta(seconds=self._interval / 2),
                known_boot=state.boot_at if state else None,
                next_index=state.history_next if state else None,
                fallback_interval=(state.interval_s if state and state.interval_s else 600),
                clock=self._clock,
            )
        except (gatt.BackfillError, OSError, TimeoutError, _bleak_error()) as err:
            # Out of reach or not answering: the gap stays; the next gap tries again.
            log.warning(
                "history backfill failed", extra={"sensor": sensor.address, "error": str(err)}
            )
            return
        rows = [reading_row(sensor, r.timestamp, r.temperature, r.humidity, None) for r in records]
        if records:
            newest = records[-1]
            note = Note(sensor.mac, newest.timestamp, newest.temperature, newest.humidity, None)
            self.outbox.put(TABLE, rows, self._clock(), [note])
        self.outbox.note_history(sensor.mac, boot_at, next_index, interval)
        self.counters.backfilled += len(rows)
        self._wake.set()

    # --- drain ---

    def _due(self, now: datetime) -> bool:
        if self._retry_at is not None and now < self._retry_at:
            return False
        depth = self.outbox.depth()
        if depth == 0:
            return False
        if depth >= self.config.gateway.batch_size or self._flush:
            return True
        oldest = self.outbox.oldest_stored()
        wait = timedelta(seconds=self.config.gateway.send_every)
        return oldest is not None and now - oldest >= wait

    async def drain(self) -> int:
        """Send batches while due; the number of readings acknowledged."""
        sent = 0
        loop = asyncio.get_running_loop()
        while self._due(self._clock()):
            batch = self.outbox.batch(self.config.gateway.batch_size)
            rows = [p.row for p in batch]
            try:
                await loop.run_in_executor(None, self.sink.send, TABLE, rows)
            except SinkError as err:
                self._failures += 1
                self.counters.failures += 1
                delay = self.backoff(self._failures)
                self._retry_at = self._clock() + timedelta(seconds=delay)
                log.warning(
                    "send failed; readings kept in the outbox",
                    extra={"error": str(err), "retry_in_s": round(delay, 1), "depth": len(batch)},
                )
                return sent
            self.outbox.ack(batch, self._clock())
            self._failures, self._retry_at = 0, None
            self.counters.sends += 1
            sent += len(batch)
        return sent

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: the upper half of 1 s · 2^(n-1), at most 5 min."""
        ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)

    # --- the loop ---

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self, until: datetime | None = None) -> None:
        """Scan, close windows, drain; until `stop()`, or until the clock reaches `until`
        (then everything stored is sent, due or not: the end of a simulation)."""
        scanner = self._scanner_class(
            detection_callback=self.on_advertisement, service_uuids=[SERVICE_UUID]
        )
        self._current = window_start(self._clock(), self._interval)
        self._stopping.clear()
        await scanner.start()
        log.info(
            "gateway started",
            extra={"sensors": len(self.config.sensors), "depth": self.outbox.depth()},
        )
        try:
            while not self._stopping.is_set():
                now = self._clock()
                end = self._current + timedelta(seconds=self._interval)
                if now >= end:
                    self.close_window(end)
                    self._current = end
                    continue
                if until is not None and now >= until:
                    break
                await self.drain()
                await self._sleep(self._next_wake(end, until))
        finally:
            await scanner.stop()
            for task in list(self._backfills.values()):
                await asyncio.gather(task, return_exceptions=True)
            # A stop (SIGTERM) leaves at once: what is stored stays stored for the next start.
            # The end of a simulated run (`until`) sends everything it has.
            self._flush = until is not None and not self._stopping.is_set()
            self._stopping.set()
            await self.drain()
            self._flush = False

    def _next_wake(self, window_end: datetime, until: datetime | None) -> datetime:
        wake = window_end
        if self._retry_at is not None and self.outbox.depth():
            wake = min(wake, self._retry_at)
        elif self.outbox.depth():
            oldest = self.outbox.oldest_stored()
            if oldest is not None:
                wake = min(wake, oldest + timedelta(seconds=self.config.gateway.send_every))
        if until is not None:
            wake = min(wake, until)
        return wake

    async def _sleep(self, wake: datetime) -> None:
        seconds = (wake - self._clock()).total_seconds()
        self._wake.clear()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)


def _bleak_error() -> type[Exception]:
    from bleak.exc import BleakError

    return BleakError
