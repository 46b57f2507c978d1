"""The gateway agent: passive scan → one reading per sensor and window → outbox → sink.

Passive mode: a `BleakScanner` detection callback receives every advertisement of the
configured sensors (no connection, many sensors at once: a sensor spends nothing beyond its
own advertising). An advert whose payload MAC is not its sender's address is refused
(counted, logged at most once a minute per sensor and reason). Each window keeps a bounded
summary per sensor and gives one reading: the median of the largest strict majority of
samples that agree (`edge.window`), the battery from their median voltage.

Time (`edge.clock`): windows run on the monotonic clock. Once the wall time is trustworthy,
windows end on boundaries aligned to the epoch (the same after a restart) and a reading is
stamped with its window's end. Before that, readings are held with their monotonic time
(at most `HOLD_WINDOWS` windows per sensor; beyond, the oldest are dropped and counted) and
stamped from it once time is known. A reading whose timestamp is not after its sensor's
last one is dropped and counted, so one (sensor, timestamp) is stored once whatever the
clock did.

Every reading is committed to the outbox before anything is sent; the sender
(`edge.sender`) drains it in its own task. When a sensor comes back after missing windows
(or the gateway after being down), the gap is filled from the sensor's stored history over
GATT (`edge.gatt`), keyed on the sensor's record numbers and uptime.

The BLE classes (`BleakScanner`, `BleakClient`) and the clock are parameters, so a test or
the demo runs this code unchanged with a simulated radio and simulated (and stepped) time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edge.clock import TICK, Clock, SystemClock, Timekeeper, WallClockOnly, next_boundary
from edge.config import Config, Sensor
from edge.history import History
from edge.outbox import GATEWAY, Note, Outbox
from edge.readings import Counters, Heard, Held, Reading
from edge.sender import TABLE, Sender
from edge.sinks import Sink
from edge.thermobeacon import SERVICE_UUID, MinMax, NotAReading, decode, mac_text
from edge.window import Contested, Estimate, Summary, Throttle, estimate
from schemas.validation import RowError

log = logging.getLogger(__name__)

HOLD_WINDOWS = 144  # a day of 10-minute windows per sensor, held while time is unknown


def utc_now() -> datetime:
    return datetime.now(UTC)


class Agent:
    def __init__(
        self,
        config: Config,
        outbox: Outbox,
        sink: Sink,
        *,
        scanner_class: type[Any] | None = None,
        client_class: type[Any] | None = None,
        clock: Clock | Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if scanner_class is None or client_class is None:
            from bleak import BleakClient, BleakScanner

            scanner_class = scanner_class or BleakScanner
            client_class = client_class or BleakClient
        if clock is None:
            clock = SystemClock(read_flag=config.gateway.trust_clock == "synchronised")
        elif not hasattr(clock, "monotonic"):
            clock = WallClockOnly(clock)
        self.config = config
        self.outbox = outbox
        self.sink = sink
        self.clock: Clock = clock  # type: ignore[assignment]
        self.time = Timekeeper(self.clock, outbox.time_floor())
        self.counters = Counters()
        self._scanner_class = scanner_class
        self._client_class = client_class
        self._rng = rng or random.Random()  # noqa: S311 - sampling and jitter, not secrets
        self.sender = Sender(
            outbox,
            sink,
            config.gateway,
            clock=self.clock,
            utc_now=self._utc_now,
            rng=self._rng,
            counters=self.counters,
        )
        self._interval = config.gateway.interval
        self._sensors = {s.address: s for s in config.sensors}
        self._by_mac = {s.mac: s for s in config.sensors}
        self._summaries: dict[int, Summary] = {}
        self._last: dict[int, datetime | None] = {}  # newest timestamp per sensor
        self._last_at: dict[int, float] = {}  # its window's monotonic end, this run
        self._held: deque[Held] = deque(maxlen=HOLD_WINDOWS * len(config.sensors))
        self._counts: Counter[tuple[int, str]] = Counter()
        self._throttle = Throttle(60.0, self.clock.monotonic)
        self._end = 0.0  # monotonic end of the current window
        self._boundary: datetime | None = None  # its UTC end, when time is trusted
        self._steps = (0, 0)
        self.history = History(
            outbox,
            self.time,
            client_class=client_class,
            interval=self._interval,
            enabled=config.gateway.backfill,
            monotonic=self.clock.monotonic,
            utc_now=self._utc_now,
            stored=self.sender.stored,
            counters=self.counters,
        )
        self._stopping = asyncio.Event()

    @property
    def held(self) -> int:
        """Readings waiting for a trustworthy time (at most `HOLD_WINDOWS` per sensor)."""
        return len(self._held)

    @property
    def windows_open(self) -> int:
        """Sensors with a summary in the current window (at most one per sensor)."""
        return len(self._summaries)

    # --- passive scan ---

    def on_advertisement(self, device: Any, advertisement: Any) -> None:
        """bleak's detection callback: check, decode and keep in the sensor's window."""
        address = str(device.address).upper()
        sensor = self._sensors.get(address)
        for company, payload in advertisement.manufacturer_data.items():
            try:
                packet = decode(company, payload)
            except NotAReading as err:
                if sensor is not None:
                    self._summary(sensor).rejected += 1
                    self.counters.rejected += 1
                    self._counts[sensor.mac, "damaged"] += 1
                    log.debug("not a reading", extra={"sensor": address, "reason": str(err)})
                continue
            claimed = self._by_mac.get(packet.mac)
            if sensor is None or packet.mac != sensor.mac:
                if claimed is not None or sensor is not None:
                    self._refuse(sensor or claimed, address, packet.mac)
                continue
            if isinstance(packet, MinMax):
                self._summary(sensor).minmax += 1
                self.counters.minmax += 1
                continue
            self._summary(sensor).add(packet, self._rng)
            self.counters.adverts += 1
            self.history.heard[sensor.mac] = Heard(device, packet.uptime_s, self.clock.monotonic())

    def _summary(self, sensor: Sensor) -> Summary:
        summary = self._summaries.get(sensor.mac)
        if summary is None:
            summary = self._summaries[sensor.mac] = Summary()
        return summary

    def _refuse(self, sensor: Sensor | None, address: str, payload_mac: int) -> None:
        assert sensor is not None
        self._counts[GATEWAY, "refused"] += 1
        self._tally(
            sensor,
            "refused",
            "advert refused: its payload MAC is not its sender's address",
            sender=address,
            payload_mac=mac_text(payload_mac),
        )

    def _tally(self, sensor: Sensor, name: str, message: str, **extra: Any) -> None:
        """Count `name` for the gateway and the sensor; log at most once a minute per
        sensor and name, with how many were counted since the last line."""
        setattr(self.counters, name, getattr(self.counters, name) + 1)
        self._counts[sensor.mac, name] += 1
        suppressed = self._throttle((sensor.mac, name))
        if suppressed is not None:
            extra |= {"sensor": sensor.address, f"{name}_since_last_log": suppressed}
            log.warning(message, extra=extra)

    # --- windows ---

    def close_window(self, end: float, boundary: datetime | None = None) -> list[Reading]:
        """One reading per sensor heard in the window ending at monotonic `end` (its UTC
        end `boundary` when time was trusted as it began): committed, or held."""
        summaries, self._summaries = self._summaries, {}
        closed: list[tuple[Sensor, Estimate]] = []
        for sensor in self.config.sensors:
            summary = summaries.get(sensor.mac)
            found = estimate(summary) if summary is not None else None
            if isinstance(found, Contested):
                self._contested(sensor, found)
            elif found is not None:
                self.counters.outliers += found.sampled - found.agreeing
                self._counts[sensor.mac, "outliers"] += found.sampled - found.agreeing
                closed.append((sensor, found))
        for sensor, _ in closed:
            self.history.track(sensor.mac)
        if not self.time.trusted:
            self._hold(end, closed)
            self._flush_counts()
            return []
        stamp = boundary or self._stamp(end)
        readings = self._release_held() + [
            Reading(sensor, stamp, e.temperature, e.humidity, e.battery, e.agreeing, end)
            for sensor, e in closed
        ]
        return self._commit(readings)

    def _contested(self, sensor: Sensor, verdict: Contested) -> None:
        self._tally(
            sensor,
            "contested",
            "window contested: no majority of its adverts agree; no reading",
            largest_group=verdict.largest,
            samples=verdict.sampled,
        )

    def _stamp(self, end: float) -> datetime:
        """A monotonic moment's UTC time, to the millisecond (what a row carries)."""
        moment = self.time.utc(end)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def _hold(self, end: float, closed: list[tuple[Sensor, Estimate]]) -> None:
        for sensor, found in closed:
            if len(self._held) == self._held.maxlen:
                self._drop_held(1, "held too long without a trustworthy time")
            self._held.append(Held(sensor, end, found))
            self.counters.held += 1
            self._counts[sensor.mac, "held"] += 1

    def _drop_held(self, count: int, why: str) -> None:
        for _ in range(min(count, len(self._held))):
            dropped = self._held.popleft()
            self.counters.dropped_untimed += 1
            self._counts[dropped.sensor.mac, "dropped_untimed"] += 1
            self._counts[GATEWAY, "dropped_untimed"] += 1
        if self._throttle((GATEWAY, "dropped_untimed")) is not None:
            log.warning(
                "readings without a trustworthy time dropped",
                extra={"why": why, "dropped": self.counters.dropped_untimed},
            )

    def _release_held(self) -> list[Reading]:
        released = [
            Reading(h.sensor, self._stamp(h.end), *_values(h.estimate), h.end) for h in self._held
        ]
        if released:
            log.info("held readings stamped", extra={"readings": len(released)})
        self._held.clear()
        return released

    def _last_of(self, mac: int) -> datetime | None:
        if mac not in self._last:
            state = self.outbox.sensor(mac)
            self._last[mac] = state.last_timestamp if state else None
        return self._last[mac]

    def _commit(self, readings: list[Reading]) -> list[Reading]:
        fresh: list[Reading] = []
        gaps: list[tuple[Reading, datetime]] = []
        for reading in readings:
            last = self._last_of(reading.sensor.mac)
            if last is not None and reading.timestamp <= last:
                self._stale(reading, last)
                continue
            gap = self._gap(reading, last)
            if gap is not None:
                gaps.append((reading, gap))
            self._last[reading.sensor.mac] = reading.timestamp
            if reading.at is not None:
                self._last_at[reading.sensor.mac] = reading.at
            fresh.append(reading)
        if not fresh:
            self._flush_counts()
            return []
        notes = [self._note(r) for r in fresh]
        newest = max(r.timestamp for r in fresh)
        try:
            self.outbox.put(
                TABLE,
                [r.row() for r in fresh],
                self._utc_now(),
                notes,
                counts=self._take_counts(),
                floor=newest,
            )
        except RowError as err:  # a bug to see, never a reason to stop sensing
            log.error("readings refused by the contract", extra={"error": str(err)})  # noqa: TRY400
            self._counts[GATEWAY, "invalid"] += len(fresh)
            return []
        self.time.raise_floor(newest)
        for reading, last in gaps:
            self.history.start(reading.sensor, last, reading.timestamp)
        self.counters.readings += len(fresh)
        self.sender.stored()
        return fresh

    def _gap(self, reading: Reading, last: datetime | None) -> datetime | None:
        """Where a gap before `reading` begins (UTC), if whole windows are missing: measured
        on the monotonic clock within a run (a wall-clock step is no gap), else from the
        newest stored timestamp (the gateway was down)."""
        most = 1.5 * self._interval
        last_at = self._last_at.get(reading.sensor.mac)
        if last_at is not None and reading.at is not None:
            return self.time.utc(last_at) if reading.at - last_at > most else None
        if last is not None and (reading.timestamp - last).total_seconds() > most:
            return last
        return None

    def _stale(self, reading: Reading, last: datetime) -> None:
        self._tally(
            reading.sensor,
            "stale",
            "reading dropped: its timestamp is not after the sensor's last one",
            timestamp=reading.timestamp.isoformat(),
            last=last.isoformat(),
        )

    def _note(self, reading: Reading) -> Note:
        heard = self.history.heard.get(reading.sensor.mac)
        return Note(
            reading.sensor.mac,
            reading.timestamp,
            reading.temperature,
            reading.humidity,
            reading.battery,
            heard.uptime_s if heard else None,
            self.time.utc(heard.at) if heard else None,
        )

    def _utc_now(self) -> datetime:
        """For the outbox's bookkeeping (stored, sent): never an untrustworthy time."""
        if self.time.trusted:
            return self.time.utc(self.clock.monotonic())
        return self.time.floor

    def _take_counts(self) -> dict[tuple[int, str], int]:
        counts, self._counts = dict(self._counts), Counter()
        followed, ignored = (
            self.time.counters.steps_followed,
            self.time.counters.steps_ignored,
        )
        counts[GATEWAY, "clock_steps_followed"] = followed - self._steps[0]
        counts[GATEWAY, "clock_steps_ignored"] = ignored - self._steps[1]
        self._steps = (followed, ignored)
        return counts

    def _flush_counts(self) -> None:
        self.outbox.count(self._take_counts())

    # --- the loop ---

    async def drain(self) -> int:
        """Send what is due now (the sender's drain); the number acknowledged."""
        return await self.sender.drain()

    def stop(self) -> None:
        self._stopping.set()
        self.sender.wake()

    async def run(self, until: datetime | None = None, *, seconds: float | None = None) -> None:
        """Scan, close windows, drain; until `stop()`, or for `seconds` (monotonic), or
        until the wall clock as read now would reach `until`; at those ends everything
        stored is sent, due or not (the end of a simulation)."""
        scanner = self._scanner_class(
            detection_callback=self.on_advertisement, service_uuids=[SERVICE_UUID]
        )
        self._stopping.clear()
        start = self.clock.monotonic()
        end_at = start + seconds if seconds is not None else None
        if until is not None and end_at is None:
            end_at = start + (until.timestamp() - self.clock.wall())
        await scanner.start()
        log.info(
            "gateway started",
            extra={"sensors": len(self.config.sensors), "depth": self.outbox.depth()},
        )
        sender = asyncio.get_running_loop().create_task(self.sender.run(self._stopping))
        try:
            await self._windows(end_at, sender)
        finally:
            stopped = self._stopping.is_set()
            self._stopping.set()
            self.sender.wake()
            await scanner.stop()
            await self.history.settle()
            if stopped:  # SIGTERM leaves at once: what is stored stays for the next start
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if self._held:
                self._drop_held(len(self._held), "the gateway stopped before time was known")
            self._flush_counts()
        if sender.done() and not sender.cancelled() and sender.exception() is not None:
            raise sender.exception()  # type: ignore[misc]
        if not stopped:
            self.sender.flush = True
            await self.sender.drain()
            self.sender.flush = False

    async def _windows(self, end_at: float | None, sender: asyncio.Task[None]) -> None:
        self._observe()
        self._boundary = None  # a new run: the next boundary from now
        self._plan(self.clock.monotonic())
        while not self._stopping.is_set():
            if sender.done():
                sender.result()  # the sender failed (the outbox, say): stop with its error
                return
            now = self.clock.monotonic()
            if now >= self._end - TICK:
                end, boundary = self._end, self._boundary
                self._observe()
                self.close_window(end, boundary)
                self._plan(now)
                continue
            if end_at is not None and now >= end_at - TICK:
                return
            wake = self._end if end_at is None else min(self._end, end_at)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, wake - now))

    def _observe(self) -> None:
        self.time.observe()

    def _plan(self, start: float) -> None:
        """The next window from monotonic `start`: to the next aligned boundary once time is
        trusted (never at or before one already stamped), else one interval long."""
        if not self.time.trusted:
            self._boundary, self._end = None, start + self._interval
            return
        after = max(self.time.utc(start), self.time.floor)
        if self._boundary is not None:
            after = max(after, self._boundary)
        self._boundary = next_boundary(after, self._interval)
        self._end = self.time.monotonic_of(self._boundary)


def _values(found: Estimate) -> tuple[float, float, int, int]:
    return found.temperature, found.humidity, found.battery, found.agreeing
