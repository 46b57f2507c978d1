"""The drain: outbox → sink, in its own task, so sending and sensing never wait on each other.

The agent's windows commit readings to the outbox and wake the sender; the sender sends the
oldest `batch_size` readings once a batch is full or the oldest has waited `send_every`
seconds, deletes them when the sink acknowledges, and after a failure waits (monotonic
time) with exponential backoff and jitter (1 s doubling to 5 min, each wait drawn from its
upper half), or as long as the sink's `Retry-After` asks if that is longer (at most
`sinks.RETRY_AFTER_MAX`). The sink's blocking call runs in a worker thread; a slow sink or
a long backlog delays only this task.

A batch the sink refuses for good (`SinkError.permanent`: HTTP 400, 413, 422...) is split:
the next attempts send halves until the refused readings are alone. A reading refused
`SET_ASIDE_AFTER` times on its own is suspect: the sends go on without it, and once the
sink takes another batch (so it is the reading, not the sink, that is refused) it is moved
to the outbox's `set_aside` table (counted, shown by `edge status`, put back by `edge
requeue`), so the readings behind it flow. A sink that refuses every reading (a broken
deployment answering 400 to all) sets nothing aside: after `SUSPECTS_MAX` suspects and no
batch taken, the sink is blamed, the suspects are released, and it is retried as an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from edge.clock import TICK, Clock
from edge.config import Gateway
from edge.outbox import GATEWAY, Outbox, Pending
from edge.sinks import RETRY_AFTER_MAX, Sink, SinkError

log = logging.getLogger(__name__)

TABLE = "sensor_thermo_beacon"
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
SET_ASIDE_AFTER = 3  # refusals of one reading sent alone
SUSPECTS_MAX = 16  # readings refused alone while the sink took nothing: the sink is at fault


@dataclass
class SendCounters:
    sends: int = 0
    failures: int = 0
    refused_batches: int = 0  # permanent refusals
    set_aside: int = 0


class Sender:
    def __init__(
        self,
        outbox: Outbox,
        sink: Sink,
        gateway: Gateway,
        *,
        clock: Clock,
        utc_now: Callable[[], datetime],
        rng: random.Random,
        counters: SendCounters | None = None,
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.counters = counters or SendCounters()
        self.retry_at: float | None = None  # monotonic
        self.flush = False  # send all that is stored, due or not (the end of a simulation)
        self._gateway = gateway
        self._clock = clock
        self._utc_now = utc_now
        self._rng = rng
        self._failures = 0
        # What was stored before this start has waited long enough: due at once.
        self._pending_since: float | None = -math.inf if outbox.depth() else None
        self._limit: int | None = None  # batch size while finding the refused readings
        self._suspects: set[int] = set()  # seqs of the refused batch not yet acknowledged
        self._refusals: dict[str, int] = {}  # row_id → refusals while sent alone
        # Refused alone SET_ASIDE_AFTER times: left out of batches, set aside once the sink
        # takes another batch.
        self._condemned: dict[int, tuple[Pending, str]] = {}  # seq → (reading, refusal)
        self._wake = asyncio.Event()

    def stored(self) -> None:
        """The agent committed readings: note when the outbox stopped being empty."""
        if self._pending_since is None and self.outbox.depth():
            self._pending_since = self._clock.monotonic()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def due(self, now: float) -> bool:
        if self.retry_at is not None and now < self.retry_at - TICK:
            return False
        depth = self.outbox.depth() - len(self._condemned)
        if depth <= 0:  # nothing, or only suspects: they wait for another reading to probe
            return False
        if depth >= self._gateway.batch_size or self.flush:
            return True
        if self._pending_since is None:  # stored by someone who did not say: from now
            self._pending_since = now
        return now - self._pending_since >= self._gateway.send_every - TICK

    def next_due(self) -> float | None:
        """When (monotonic) the next send is due, if anything is stored."""
        if self.outbox.depth() <= len(self._condemned):
            return None
        if self.retry_at is not None:
            return self.retry_at
        if self._pending_since is None:
            self._pending_since = self._clock.monotonic()
        return self._pending_since + self._gateway.send_every

    async def run(self, stopping: asyncio.Event) -> None:
        """Drain whenever due, until `stopping`."""
        while not stopping.is_set():
            await self.drain()
            due = self.next_due()
            self._wake.clear()
            if stopping.is_set():
                return
            wait = None if due is None else max(0.0, due - self._clock.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def drain(self) -> int:
        """Send batches while due; the number of readings acknowledged."""
        sent = 0
        loop = asyncio.get_running_loop()
        while self.due(self._clock.monotonic()):
            batch = self.outbox.batch(
                min(self._limit or self._gateway.batch_size, self._gateway.batch_size),
                skip=self._condemned,
            )
            if not batch:  # the rest changed under us (evicted): look again when woken
                return sent
            rows = [p.row for p in batch]
            try:
                await loop.run_in_executor(None, self.sink.send, TABLE, rows)
            except SinkError as err:
                self._failed(batch, err)
                return sent
            self.outbox.ack(batch, self._utc_now())
            self._succeeded(batch)
            sent += len(batch)
        return sent

    def _succeeded(self, batch: list[Pending]) -> None:
        self._failures, self.retry_at = 0, None
        self.counters.sends += 1
        for pending in batch:
            self._refusals.pop(pending.row_id, None)
        self._suspects.difference_update(p.seq for p in batch)
        if not self._suspects:  # past the refused readings: full batches again
            self._limit = None
        if self._condemned:  # the sink takes others: those it refused are the problem
            self._set_aside()
        if not self.outbox.depth():
            self._pending_since = None

    def _failed(self, batch: list[Pending], err: SinkError) -> None:
        if err.permanent and self._refused(batch, err):
            return
        self._failures += 1
        self.counters.failures += 1
        delay = self.backoff(self._failures)
        if err.retry_after is not None:  # never sooner than the sink asked
            delay = max(delay, min(err.retry_after, RETRY_AFTER_MAX))
        self.retry_at = self._clock.monotonic() + delay
        log.warning(
            "send failed; readings kept in the outbox",
            extra={
                "error": str(err),
                "retry_in_s": round(delay, 1),
                "batch": len(batch),
                "permanent": err.permanent,
            },
        )

    def _refused(self, batch: list[Pending], err: SinkError) -> bool:
        """A permanent refusal: split the batch, or set a lone reading aside. Whether the
        reading was set aside (then the rest goes on at once)."""
        self.counters.refused_batches += 1
        self.outbox.count({(GATEWAY, "refused_batches"): 1})
        if len(batch) > 1:  # halve it: a binary search for what the sink refuses
            self._suspects = {p.seq for p in batch}
            self._limit = max(1, len(batch) // 2)
            return False
        (pending,) = batch
        refusals = self._refusals.get(pending.row_id, 0) + 1
        if refusals < SET_ASIDE_AFTER:
            self._refusals[pending.row_id] = refusals
            return False
        self._refusals.pop(pending.row_id, None)
        self._suspects.discard(pending.seq)
        if not self._suspects:
            self._limit = None
        self._condemned[pending.seq] = (pending, str(err))
        if len(self._condemned) < SUSPECTS_MAX:
            self.retry_at = None  # go on at once with the others (the backoff keeps growing)
            return True
        log.error(
            "the sink refuses every reading it is sent; blaming the sink, setting nothing aside",
            extra={"refused_alone": len(self._condemned), "error": str(err)},
        )
        self._condemned.clear()
        return False

    def _set_aside(self) -> None:
        """The sink took a batch: the readings it refused alone are set aside."""
        condemned, self._condemned = list(self._condemned.values()), {}
        for pending, why in condemned:
            self.outbox.set_aside([pending], why, self._utc_now())
            log.error(
                "the sink refuses a reading it takes others beside; set aside "
                "(edge requeue puts it back)",
                extra={"row_id": pending.row_id, "attempts": SET_ASIDE_AFTER, "error": why},
            )
        self.counters.set_aside += len(condemned)

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter: the upper half of 1 s · 2^(n-1), at most 5 min."""
        ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)
