"""History backfill over GATT: what the sensor logged while the gateway was not listening.

Connect (bleak, through bleak-retry-connector's `establish_connection`), subscribe to
notifications on 0xFFF3, write commands to 0xFFF5: `01 00 00 00 00` answers the number of
stored records, `07` + offset + count answers up to three records (`thermobeacon.HistoryPage`).

The records carry no time. The logging interval is not documented either, so it is derived:
the advertisement carries the sensor's uptime, and records are logged every interval since
power-on, so `interval ≈ uptime / count`, snapped to whole minutes (WatchFlower measured 10
minutes). Record number n (1, 2, ... since power-on) was logged at uptime n * interval; the
newest is number floor(uptime / interval) and memory index i holds number
newest - count + 1 + i, which holds also once the memory wraps.

Nothing here reads the wall clock. The sensor's uptime when it answers is its advertised
uptime plus the monotonic time since the advert; its boot (power-on, UTC) is fixed once per
boot by the agent from a trustworthy time and passed in, so record n always gets the
timestamp boot + n * interval (the same row id), and the cursor (the next record number of
that boot) makes sure no record is taken twice. Whether a sensor is still on the same boot
is told by its uptime (`same_boot`), never by wall-clock arithmetic: a gateway clock that
steps cannot make a sensor look rebooted.
"""

from __future__ import annotations

import asyncio
import logging
import math
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
# A sensor's uptime may lag the time elapsed by this much (its crystal drifts, an advert
# is heard late) and still be the same boot; more, and it was powered off in between.
SAME_BOOT_S = 300
DRIFT = 1e-3
UPTIME_SLACK_S = 60  # an uptime this much below the last one heard is a reboot


class BackfillError(RuntimeError):
    """The sensor could not be reached or answered what no ThermoBeacon would."""


@dataclass(frozen=True)
class Record:
    number: int  # since the sensor's power-on, from 1
    timestamp: datetime
    temperature: float
    humidity: float


def derive_interval(uptime_s: int, count: int, fallback: int) -> int:
    """The logging interval in seconds from uptime and record count, or `fallback`."""
    if count < 2 or uptime_s <= 0:
        return fallback
    snapped = round(uptime_s / count / 60) * 60
    return snapped if 60 <= snapped <= 3600 else fallback


def record_time(boot_at: datetime, number: int, interval_s: int) -> datetime:
    """When record `number` of the boot at `boot_at` was logged."""
    return boot_at + timedelta(seconds=number * interval_s)


def same_boot(uptime_s: int, last_uptime_s: int, elapsed_s: float | None) -> bool:
    """Whether a sensor now advertising `uptime_s` is on the boot that advertised
    `last_uptime_s` `elapsed_s` seconds ago (None: not known). Its uptime must not go back,
    nor advance much less than the time elapsed (it was off in between)."""
    if uptime_s < last_uptime_s - UPTIME_SLACK_S:
        return False
    if elapsed_s is not None and elapsed_s > 0:
        lag = elapsed_s - (uptime_s - last_uptime_s)
        return lag <= max(SAME_BOOT_S, DRIFT * elapsed_s)
    return True


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
    heard_at: float,
    monotonic: Callable[[], float],
    boot_at: datetime,
    next_record: int | None,
    after: datetime,
    before: datetime,
    fallback_interval: int,
) -> tuple[list[Record], int, int]:
    """Records logged strictly between `after` and `before` not taken before.

    `uptime_s` is the sensor's uptime in an advertisement heard at `heard_at` (monotonic
    seconds); `boot_at` its power-on (UTC) as the agent fixed it for this boot;
    `next_record` the cursor. Returns the records, the next cursor and the interval.
    """
    client = await connect(client_class, device, name)
    async with Session(client) as session:
        count = await session.count()
        # The uptime when the sensor counted, not when it advertised: it may have logged since.
        uptime_now = uptime_s + int(monotonic() - heard_at)
        interval = derive_interval(uptime_now, count, fallback_interval)
        newest = uptime_now // interval
        oldest = newest - count + 1  # the number at memory index 0
        low = max(1, oldest, next_record or 1)
        wanted = [
            n for n in range(low, newest + 1) if after < record_time(boot_at, n, interval) < before
        ]
        records: list[Record] = []
        if wanted:
            first, last = wanted[0] - oldest, wanted[-1] - oldest
            for offset in range(first, last + 1, PAGE_SIZE):
                size = min(PAGE_SIZE, last + 1 - offset)
                page = await session.page(offset, size)
                records += [
                    Record(
                        oldest + offset + k,
                        record_time(boot_at, oldest + offset + k, interval),
                        t,
                        h,
                    )
                    for k, (t, h) in enumerate(page.records)
                ]
    # Records up to `after` need never be taken: the cursor moves past them too.
    passed = min(newest + 1, math.floor((after - boot_at).total_seconds() / interval) + 1)
    taken = records[-1].number + 1 if records else max(next_record or 1, passed)
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
    return records, taken, interval
