"""History backfill over GATT: what the sensor logged while the gateway was not listening.

Connect (bleak, through bleak-retry-connector's `establish_connection`), subscribe to
notifications on 0xFFF3, write commands to 0xFFF5: `01 00 00 00 00` answers the number of
stored records, `07` + offset + count answers up to three records (`thermobeacon.HistoryPage`).

The records carry no time. The logging interval is not documented either, so it is derived:
the advertisement carries the sensor's uptime, and records are logged every interval since
power-on, so `interval ≈ uptime / count`, snapped to whole minutes (WatchFlower measured 10
minutes). The newest record was logged at `power-on + floor(uptime / interval) * interval`
and each earlier one an interval before, which holds also once the sensor's memory wraps.
Power-on (gateway time at the advertisement minus its uptime) is kept per sensor boot, so
the same record always gets the same timestamp and therefore the same row id; a cursor
(the next record index of that boot) makes sure no record is taken twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edge.thermobeacon import (
    COUNT_COMMAND,
    PAGE_SIZE,
    RX_CHARACTERISTIC,
    TX_CHARACTERISTIC,
    HistoryPage,
    NotAReading,
    count_from,
    history_command,
)

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = 10.0  # seconds for a notification after a command
# A reboot shows as a power-on estimate that moved more than this.
SAME_BOOT = timedelta(minutes=5)


class BackfillError(RuntimeError):
    """The sensor could not be reached or answered what no ThermoBeacon would."""


@dataclass(frozen=True)
class Record:
    index: int
    timestamp: datetime
    temperature: float
    humidity: float


def derive_interval(uptime_s: int, count: int, fallback: int) -> int:
    """The logging interval in seconds from uptime and record count, or `fallback`."""
    if count < 2 or uptime_s <= 0:
        return fallback
    snapped = round(uptime_s / count / 60) * 60
    return snapped if 60 <= snapped <= 3600 else fallback


def record_times(boot_at: datetime, uptime_s: int, count: int, interval_s: int) -> list[datetime]:
    """When records 0..count-1 were logged: the newest at the last whole interval since boot."""
    newest = boot_at + timedelta(seconds=(uptime_s // interval_s) * interval_s)
    return [newest - timedelta(seconds=(count - 1 - i) * interval_s) for i in range(count)]


class Session:
    """One connection's command/answer exchange, answers taken from the notify queue."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._answers: asyncio.Queue[bytes] = asyncio.Queue()

    async def __aenter__(self) -> Session:
        await self._client.start_notify(RX_CHARACTERISTIC, self._notified)
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await self._client.stop_notify(RX_CHARACTERISTIC)
        finally:
            await self._client.disconnect()

    def _notified(self, _characteristic: Any, data: bytearray) -> None:
        self._answers.put_nowait(bytes(data))

    async def ask(self, command: bytes) -> bytes:
        await self._client.write_gatt_char(TX_CHARACTERISTIC, command, response=True)
        try:
            return await asyncio.wait_for(self._answers.get(), ANSWER_TIMEOUT)
        except TimeoutError:
            raise BackfillError(f"no answer to {command.hex()} within {ANSWER_TIMEOUT} s") from None

    async def count(self) -> int:
        try:
            return count_from(await self.ask(COUNT_COMMAND))
        except NotAReading as err:
            raise BackfillError(str(err)) from None

    async def page(self, offset: int, count: int) -> HistoryPage:
        answer = await self.ask(history_command(offset, count))
        try:
            page = HistoryPage.parse(answer)
        except NotAReading as err:
            raise BackfillError(str(err)) from None
        if page.offset != offset or len(page.records) != count:
            raise BackfillError(
                f"asked records {offset}+{count}, got {page.offset}+{len(page.records)}"
            )
        return page


async def connect(client_class: type[Any], device: Any, name: str) -> Any:
    """A connected client, retried as bleak-retry-connector does for flaky BlueZ links."""
    from bleak_retry_connector import establish_connection

    return await establish_connection(client_class, device, name, max_attempts=3)


async def backfill(
    client_class: type[Any],
    device: Any,
    *,
    name: str,
    uptime_s: int,
    seen_at: datetime,
    after: datetime,
    before: datetime,
    known_boot: datetime | None,
    next_index: int | None,
    fallback_interval: int,
    clock: Callable[[], datetime],
) -> tuple[list[Record], datetime, int, int]:
    """Records logged strictly between `after` and `before` not taken before.

    `uptime_s` is the sensor's uptime in an advertisement received at `seen_at` (gateway
    time); `clock` gives gateway time now. Returns the records, the boot time used, the
    next record index and the interval.
    """
    boot_at = seen_at - timedelta(seconds=uptime_s)
    if known_boot is not None and abs(boot_at - known_boot) <= SAME_BOOT:
        boot_at = known_boot  # same boot: keep the times already used
    else:
        next_index = None  # a new boot: its records are new
    client = await connect(client_class, device, name)
    async with Session(client) as session:
        count = await session.count()
        # The uptime when the sensor counted, not when it advertised: it may have logged since.
        uptime_now = int((clock() - boot_at).total_seconds())
        interval = derive_interval(uptime_now, count, fallback_interval)
        times = record_times(boot_at, uptime_now, count, interval)
        wanted = [
            i
            for i, t in enumerate(times)
            if after < t < before and (next_index is None or i >= next_index)
        ]
        records: list[Record] = []
        if wanted:
            first, last = wanted[0], wanted[-1]
            for offset in range(first, last + 1, PAGE_SIZE):
                size = min(PAGE_SIZE, last + 1 - offset)
                page = await session.page(offset, size)
                records += [
                    Record(offset + k, times[offset + k], t, h)
                    for k, (t, h) in enumerate(page.records)
                ]
    taken = records[-1].index + 1 if records else max(next_index or 0, _first_after(times, after))
    log.info(
        "history backfilled",
        extra={
            "sensor": name,
            "records": len(records),
            "stored": count,
            "interval_s": interval,
            "from": after.isoformat(),
            "to": before.isoformat(),
        },
    )
    return records, boot_at, taken, interval


def _first_after(times: list[datetime], moment: datetime) -> int:
    """Index of the first record after `moment` (records up to it need never be taken)."""
    return next((i for i, t in enumerate(times) if t > moment), len(times))
