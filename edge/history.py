"""History backfill: which boot each sensor is on, and filling a gap from its memory.

A sensor's boot is followed by its advertised uptime (`gatt.same_boot`), never by the
gateway's wall clock, and its power-on (UTC) is fixed once per boot from a trustworthy
time; so a record keeps its timestamp and row id, and the cursor (next record number of
that boot, kept in the outbox) means no record is ever sent twice, whatever the clock did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edge import gatt
from edge.clock import Timekeeper
from edge.config import Sensor
from edge.outbox import Note, Outbox
from edge.readings import Counters, Heard, reading_row
from edge.sender import TABLE
from schemas.validation import RowError

log = logging.getLogger(__name__)


@dataclass
class _Boot:
    """One sensor's boot as followed: its power-on once fixed, its last uptime heard."""

    boot_at: datetime | None  # None until fixed from a trustworthy time
    uptime_s: int
    at: float  # monotonic


class History:
    """Sensor boots and backfill tasks, for the agent."""

    def __init__(
        self,
        outbox: Outbox,
        timekeeper: Timekeeper,
        *,
        client_class: type[Any],
        interval: int,
        enabled: bool,
        monotonic: Callable[[], float],
        utc_now: Callable[[], datetime],
        stored: Callable[[], None],
        counters: Counters,
    ) -> None:
        self.heard: dict[int, Heard] = {}
        self._counters = counters
        self._outbox = outbox
        self._time = timekeeper
        self._client_class = client_class
        self._interval = interval
        self._enabled = enabled
        self._monotonic = monotonic
        self._utc_now = utc_now
        self._stored = stored
        self._boots: dict[int, _Boot] = {}
        self._backfills: dict[int, asyncio.Task[None]] = {}

    async def settle(self) -> None:
        """Wait for the backfills under way (at the end of a run)."""
        for task in list(self._backfills.values()):
            await asyncio.gather(task, return_exceptions=True)

    def track(self, mac: int) -> None:
        """Follow the sensor's boot by its uptime; fix its power-on once time is known."""
        heard = self.heard.get(mac)
        if heard is None:
            return
        track = self._boots.get(mac)
        if track is None:
            track = self._boots[mac] = self._boot_from_outbox(mac, heard)
        elif not gatt.same_boot(heard.uptime_s, track.uptime_s, heard.at - track.at):
            track.boot_at = None
        track.uptime_s, track.at = heard.uptime_s, heard.at
        if track.boot_at is None and self._time.trusted:
            power_on = self._time.utc(heard.at) - timedelta(seconds=heard.uptime_s)
            track.boot_at = power_on.replace(microsecond=0)
            self._outbox.note_history(mac, track.boot_at, None, None)

    def _boot_from_outbox(self, mac: int, heard: Heard) -> _Boot:
        state = self._outbox.sensor(mac)
        if state is None or state.boot_at is None or state.uptime_s is None:
            return _Boot(None, heard.uptime_s, heard.at)
        elapsed = None
        if self._time.trusted and state.uptime_at is not None:
            elapsed = (self._time.utc(heard.at) - state.uptime_at).total_seconds()
        same = gatt.same_boot(heard.uptime_s, state.uptime_s, elapsed)
        return _Boot(state.boot_at if same else None, heard.uptime_s, heard.at)

    def start(self, sensor: Sensor, after: datetime, before: datetime) -> None:
        if not self._enabled or sensor.mac in self._backfills:
            return
        task = asyncio.get_running_loop().create_task(self._fill(sensor, after, before))
        self._backfills[sensor.mac] = task
        task.add_done_callback(lambda _t: self._backfills.pop(sensor.mac, None))

    async def _fill(self, sensor: Sensor, after: datetime, before: datetime) -> None:
        heard, track = self.heard.get(sensor.mac), self._boots.get(sensor.mac)
        if heard is None or track is None or track.boot_at is None:
            return
        boot_at = track.boot_at
        state = self._outbox.sensor(sensor.mac)
        half = timedelta(seconds=self._interval / 2)
        try:
            records, next_record, interval = await gatt.backfill(
                self._client_class,
                heard.device,
                name=sensor.address,
                uptime_s=heard.uptime_s,
                heard_at=heard.at,
                monotonic=self._monotonic,
                boot_at=boot_at,
                next_record=state.history_next if state else None,
                # Strictly inside the gap: half a window from the readings on either side.
                after=after + half,
                before=before - half,
                fallback_interval=(state.interval_s if state and state.interval_s else 600),
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
            try:
                self._outbox.put(TABLE, rows, self._utc_now(), [note])
            except RowError as err:  # an uptime no real sensor has: times out of the contract
                log.warning(
                    "history refused by the contract",
                    extra={"sensor": sensor.address, "error": str(err)},
                )
                return
        self._outbox.note_history(sensor.mac, boot_at, next_record, interval)
        self._counters.backfilled += len(rows)
        self._stored()


def _bleak_error() -> type[Exception]:
    from bleak.exc import BleakError

    return BleakError
