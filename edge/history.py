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
    """One sensor's boot as followed: its power-on in monotonic time (frame-free), its last
    uptime heard, and whether its cursor must start over (a new boot) once time is known."""

    power_on: float  # monotonic
    uptime_s: int
    at: float  # monotonic, when that uptime was heard
    fresh: bool


# A persisted power-on this close to the one computed now is the same: kept, so a record
# keeps its timestamp (and row id) across restarts.
SAME_POWER_ON_S = 5.0


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
        """Follow the sensor's boot by its uptime (a new boot starts its cursor over)."""
        heard = self.heard.get(mac)
        if heard is None:
            return
        track = self._boots.get(mac)
        if track is None:
            track = self._boots[mac] = self._boot_from_outbox(mac, heard)
        elif not gatt.same_boot(heard.uptime_s, track.uptime_s, heard.at - track.at):
            track.power_on, track.fresh = heard.at - heard.uptime_s, True
        track.uptime_s, track.at = heard.uptime_s, heard.at
        if track.fresh and self._time.trusted:
            self._outbox.note_history(mac, self._power_on(track.power_on), None, None)
            track.fresh = False

    def _boot_from_outbox(self, mac: int, heard: Heard) -> _Boot:
        power_on = heard.at - heard.uptime_s
        state = self._outbox.sensor(mac)
        if state is None or state.boot_at is None or state.uptime_s is None:
            return _Boot(power_on, heard.uptime_s, heard.at, fresh=True)
        elapsed = None
        if self._time.trusted and state.uptime_at is not None:
            elapsed = (self._time.utc(heard.at) - state.uptime_at).total_seconds()
        same = gatt.same_boot(heard.uptime_s, state.uptime_s, elapsed)
        return _Boot(power_on, heard.uptime_s, heard.at, fresh=not same)

    def _power_on(self, monotonic: float) -> datetime:
        return self._time.utc(monotonic).replace(microsecond=0)

    def _boot_at(self, track: _Boot, known: datetime | None) -> datetime:
        """The power-on in UTC through the current anchor (so a followed clock step moves
        it too); the one stored for this boot if it agrees, for stable timestamps."""
        power_on = self._power_on(track.power_on)
        if known is not None and abs((known - power_on).total_seconds()) <= SAME_POWER_ON_S:
            return known
        return power_on

    def start(self, sensor: Sensor, after: datetime, before: datetime) -> None:
        if not self._enabled or sensor.mac in self._backfills:
            return
        task = asyncio.get_running_loop().create_task(self._fill(sensor, after, before))
        self._backfills[sensor.mac] = task
        task.add_done_callback(lambda _t: self._backfills.pop(sensor.mac, None))

    async def _fill(self, sensor: Sensor, after: datetime, before: datetime) -> None:
        heard, track = self.heard.get(sensor.mac), self._boots.get(sensor.mac)
        if heard is None or track is None or track.fresh or not self._time.trusted:
            return
        state = self._outbox.sensor(sensor.mac)
        boot_at = self._boot_at(track, state.boot_at if state else None)
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
        newest = records[-1] if records else None
        note = (
            Note(sensor.mac, newest.timestamp, newest.temperature, newest.humidity, None)
            if newest
            else None
        )
        cursor = (sensor.mac, boot_at, next_record, interval)
        try:  # the records and the cursor that says they were taken: one commit
            self._outbox.put(TABLE, rows, self._utc_now(), [note] if note else [], history=cursor)
        except RowError as err:  # an uptime no real sensor has: times out of the contract
            log.warning(
                "history refused by the contract",
                extra={"sensor": sensor.address, "error": str(err)},
            )
            return
        self._counters.backfilled += len(rows)
        self._stored()


def _bleak_error() -> type[Exception]:
    from bleak.exc import BleakError

    return BleakError
