"""The gateway's time: windows on a monotonic clock, wall time attached only when trustworthy.

A Raspberry Pi has no RTC: it boots with a stale clock (1970, or fake-hwclock's last save)
until NTP syncs, and NTP may step it later. So the gateway never measures a window with
the wall clock. It keeps three things apart, each read through a `Clock`:

- `monotonic()`: seconds that never jump (CLOCK_MONOTONIC); windows, backoff and every
  "how long since" run on it.
- `wall()`: the system's UTC time, POSIX seconds. Evidence, not a fact.
- `synchronised()`: the kernel's own verdict, read with adjtimex(2) as `timedatectl` does:
  not synchronised while STA_UNSYNC is set or the estimated error reaches 16 s; None when
  it cannot be read (not Linux), or when the configuration says to go by the sanity rule
  alone (`trust_clock = "sane"`, for a gateway with a battery-backed RTC and no NTP).

The rules (`Timekeeper`):

1. Trust: a wall time is trustworthy when it is sane (not before `floor`, the later of
   `BUILD_FLOOR` and the newest timestamp this gateway ever stamped; not after `CEILING`,
   inside the contract's years) and the kernel does not say it is unsynchronised.
2. Anchor: the first trustworthy reading fixes UTC = monotonic + offset. From then on a
   timestamp comes from the monotonic clock through the anchor, so a step of the wall clock
   moves nothing by itself. Slews (NTP's small corrections, up to `STEP_TOLERANCE`) are
   followed.
3. Steps: a wall clock that disagrees with the anchor by more than `STEP_TOLERANCE` is a
   step, counted and logged. It is followed only when the clock was re-synchronised since
   the anchor (the kernel was seen unsynchronised, and is synchronised again: how a step
   by NTP or an operator shows), or, when the kernel's flag is not read, when the new
   time is sane. Otherwise the gateway keeps its monotonic time.

Until the first anchor, readings are held with their monotonic time (bounded; see
`edge.agent`) and stamped once time is known.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)

# This code was written in 2025: a clock before 2024 is a stale RTC, 1970 or a default.
BUILD_FLOOR = datetime(2024, 1, 1, tzinfo=UTC)
# The contract's last year (schemas/tables.toml: timestamps up to 2099-12-31), less a day.
CEILING = datetime(2099, 12, 30, tzinfo=UTC)
# A moment this close counts as reached: asyncio fires a timer within its clock's resolution,
# so waiting for less would spin (the window end a few nanoseconds away after float sums).
TICK = 1e-3
# NTP slews at most 500 ppm: 0.3 s per 10-minute window. More than this is a step.
STEP_TOLERANCE = 2.0
# adjtimex(2): STA_UNSYNC in `status`; systemd also takes maxerror >= 16 s as unsynchronised.
_STA_UNSYNC = 0x0040
_MAX_ERROR_US = 16_000_000
_TIME_ERROR = 5


class Clock(Protocol):
    """What the gateway reads time from; tests and the simulator inject their own."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def synchronised(self) -> bool | None: ...


class _Timex(ctypes.Structure):
    # The head of `struct timex` (<sys/timex.h>); the buffer below leaves room for the rest.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
    )


def kernel_synchronised() -> bool | None:
    """The kernel's NTP verdict (adjtimex with modes 0 only reads); None if unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError):  # not glibc/musl on Linux
        return None
    buffer = ctypes.create_string_buffer(512)  # struct timex is 208 bytes on 64-bit Linux
    timex = _Timex.from_buffer(buffer)
    state = adjtimex(ctypes.byref(timex))
    if state < 0:  # EPERM under a strict seccomp profile: say nothing rather than guess
        return None
    return not (
        state == _TIME_ERROR or timex.status & _STA_UNSYNC or timex.maxerror >= _MAX_ERROR_US
    )


class SystemClock:
    """The host's clocks, looked up at each call (a test may patch `time` or the flag)."""

    def __init__(self, *, read_flag: bool = True) -> None:
        self._read_flag = read_flag

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def synchronised(self) -> bool | None:
        return kernel_synchronised() if self._read_flag else None


class WallClockOnly:
    """A bare `() -> datetime` clock (older callers): trusted, and its own monotonic time."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def monotonic(self) -> float:
        return self._now().timestamp()

    def wall(self) -> float:
        return self._now().timestamp()

    def synchronised(self) -> bool | None:
        return None


@dataclass
class TimeCounters:
    steps_followed: int = 0
    steps_ignored: int = 0


class Timekeeper:
    """The trust rule, the anchor and step handling of the module docstring."""

    def __init__(self, clock: Clock, floor: datetime | None = None) -> None:
        self.clock = clock
        self.floor = max(BUILD_FLOOR, floor) if floor is not None else BUILD_FLOOR
        self.anchor: float | None = None  # UTC seconds minus monotonic seconds
        self.counters = TimeCounters()
        self._resynced = False  # the kernel was seen unsynchronised since the anchor
        self._reported: float | None = None  # the last step logged, to log each once
        self._distrust_logged = False

    @property
    def trusted(self) -> bool:
        return self.anchor is not None

    def raise_floor(self, stamp: datetime) -> None:
        """A timestamp was stamped: no later wall time before it is sane."""
        self.floor = max(self.floor, stamp)

    def utc(self, monotonic: float) -> datetime:
        """The UTC time of a monotonic moment, through the anchor."""
        if self.anchor is None:
            raise RuntimeError("no trustworthy time yet")
        return datetime.fromtimestamp(monotonic + self.anchor, UTC)

    def monotonic_of(self, moment: datetime) -> float:
        if self.anchor is None:
            raise RuntimeError("no trustworthy time yet")
        return moment.timestamp() - self.anchor

    def observe(self) -> bool:
        """Read the clocks, apply the rules; whether the anchor changed."""
        mono, wall = self.clock.monotonic(), self.clock.wall()
        synced = self.clock.synchronised()
        sane = math.isfinite(wall) and self.floor.timestamp() <= wall <= CEILING.timestamp()
        trustworthy = sane and synced is not False
        offset = wall - mono
        if self.anchor is None:
            if trustworthy:
                self.anchor, self._resynced, self._reported = offset, False, None
                log.info("wall time trusted", extra={"utc": self.utc(mono).isoformat()})
                return True
            self._log_distrust(wall, synced, sane)
            return False
        if synced is False:
            self._resynced = True
        step = offset - self.anchor
        if abs(step) <= STEP_TOLERANCE:
            if trustworthy:
                self.anchor = offset  # NTP's slew: follow it
            return False
        if trustworthy and (self._resynced or synced is None):
            self.anchor, self._resynced, self._reported = offset, False, None
            self.counters.steps_followed += 1
            log.warning(
                "wall clock stepped; following the re-synchronised clock",
                extra={"step_s": round(step, 3), "utc": self.utc(mono).isoformat()},
            )
            return True
        if self._reported is None or abs(step - self._reported) > STEP_TOLERANCE:
            self._reported = step
            self.counters.steps_ignored += 1
            log.warning(
                "wall clock stepped; keeping monotonic time",
                extra={
                    "step_s": round(step, 3),
                    "synchronised": synced,
                    "sane": sane,
                    "kept_utc": self.utc(mono).isoformat(),
                },
            )
        return False

    def _log_distrust(self, wall: float, synced: bool | None, sane: bool) -> None:
        if self._distrust_logged:
            return
        self._distrust_logged = True
        log.warning(
            "wall time not trusted yet: readings are held until it is",
            extra={
                "wall": _shown(wall),
                "synchronised": synced,
                "sane": sane,
                "floor": self.floor.isoformat(),
            },
        )


def _shown(wall: float) -> str:
    try:
        return datetime.fromtimestamp(wall, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return repr(wall)


def next_boundary(moment: datetime, interval_s: int) -> datetime:
    """The first window boundary (aligned to the epoch) strictly after `moment`."""
    seconds = (math.floor(moment.timestamp() / interval_s) + 1) * interval_s
    return datetime.fromtimestamp(seconds, UTC)


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()
