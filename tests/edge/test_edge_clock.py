"""The gateway against a wrong clock: boot at 1970 then NTP sync, steps back and forward by
hours, a restart with the clock behind, a clock outside the contract's years.

The simulated radio (`livability.sim.radio.Radio`: bleak's scanner at the library boundary, real
advertisement bytes) keeps true time; the gateway reads a `VirtualClock` on the same loop
whose wall time and kernel flag the test steps, as NTP, `date -s` or a stale RTC would.
Each simulated reading carries a temperature unique to its true time, so every stored row
can be checked against when it was really measured. The outbox is a real SQLite file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.agent import HOLD_WINDOWS
from edge.clock import BUILD_FLOOR, SystemClock, TimeCounters, Timekeeper
from edge.config import Config, Sensor
from livability.sim.radio import (
    Radio,
    SimulatedSensor,
    VirtualClock,
    VirtualTimeLoop,
    virtual_clock,
)
from tests.edge.support import START, RecordingSink, Simulation, gateway, hours

WINDOW = 600
MACS = (0xA4C138000001, 0xA4C138000002)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def measured(mac: int, k: int) -> tuple[float, float]:
    """What sensor `mac` measures in its k-th reading: unique per (mac, k) for k < 2800."""
    return 10.0 + (k % 400) / 16 + (mac & 1) * 30.0, 20.0 + (k // 400) * 10.0


def true_times(duration: timedelta) -> dict[tuple[int, float, float], datetime]:
    """(mac, temperature, humidity) → when it was measured: every window, mid-window."""
    count = int(duration.total_seconds() // WINDOW) + 1
    return {
        (mac, *measured(mac, k)): START + timedelta(seconds=k * WINDOW + 300)
        for mac in MACS
        for k in range(count)
    }


def radio(clock: VirtualClock, duration: timedelta) -> Radio:
    sensors = [
        SimulatedSensor(
            mac,
            START - timedelta(days=2),
            sorted(
                (when, temperature, humidity)
                for (m, temperature, humidity), when in true_times(duration).items()
                if m == mac
            ),
        )
        for mac in MACS
    ]
    return Radio(sensors, clock)


def config(tmp_path: Path, *, backfill: bool = False) -> Config:
    sensors = tuple(Sensor("thermobeacon", mac, 7, 51.87833, -0.41472) for mac in MACS)
    return Config(gateway(tmp_path, send_every=0, backfill=backfill), sensors)


def stamped(rows: list[dict[str, Any]]) -> list[tuple[int, datetime, float, float]]:
    return [
        (
            r["data"]["mac"],
            datetime.fromisoformat(r["timestamp"]),
            r["data"]["temperature"],
            r["data"]["humidity"],
        )
        for r in rows
    ]


def assert_each_once_and_on_time(
    rows: list[dict[str, Any]], duration: timedelta, *, within: float = WINDOW
) -> None:
    """No (sensor, timestamp) twice, each reading at most `within` s from when it was taken,
    inside the contract's years."""
    keys = [(mac, when) for mac, when, _, _ in stamped(rows)]
    assert len(keys) == len(set(keys)), "a (sensor, timestamp) stored twice"
    truth = true_times(duration)
    for mac, when, temperature, humidity in stamped(rows):
        off = abs((when - truth[mac, temperature, humidity]).total_seconds())
        assert off <= within, f"{mac:X} {temperature} stamped {when}, {off:.0f} s off"
        assert BUILD_FLOOR <= when <= START + duration


@pytest.fixture
def world(tmp_path: Path, loop: VirtualTimeLoop) -> Iterator[tuple[VirtualClock, Any]]:
    """The gateway's clock and a factory of simulations on one loop; the radio on truth."""
    made: list[Simulation] = []
    truth = virtual_clock(loop, START)

    def simulate(duration: timedelta, **settings: Any) -> Simulation:
        air = radio(truth, duration)
        sim = Simulation(
            config(tmp_path, **settings),
            RecordingSink(),
            air.scanner_class(),
            air.client_class(),
            loop,
        )
        made.append(sim)
        return sim

    yield truth, simulate
    for sim in made[:-1]:
        sim.outbox.close()
    if made:
        made[-1].close()


def test_boot_at_1970_holds_readings_until_ntp_syncs_then_stamps_them(world: Any) -> None:
    _, simulate = world
    duration = hours(3)
    sim = simulate(duration)
    sim.clock.set_wall(EPOCH, synced=False)
    # NTP syncs 25 minutes after boot: the clock jumps 55 years and the flag is set.
    sim.loop.call_at(
        25 * 60, lambda: sim.clock.set_wall(START + timedelta(minutes=25), synced=True)
    )
    sim.run_for(duration.total_seconds())
    rows = sim.agent.sink.rows
    counters = sim.agent.counters
    status = sim.outbox.status()
    assert_each_once_and_on_time(rows, duration)
    assert counters.held >= 2 * 2  # two windows of two sensors closed before the sync
    assert (counters.dropped_untimed, counters.stale) == (0, 0)
    # Every reading taken was stored: 18 windows of each sensor.
    assert len(rows) == 2 * 18
    assert status.sensors[0].counts["held"] >= 2


@pytest.mark.parametrize("step", [-3 * 3600, 3 * 3600, -15 * 60, 55 * 60])
def test_a_step_while_synchronised_keeps_monotonic_time(world: Any, step: int) -> None:
    _, simulate = world
    duration = hours(5)
    sim = simulate(duration)
    sim.loop.call_at(65 * 60, sim.clock.step, step)  # mid-window, after an hour
    sim.run_for(duration.total_seconds())
    rows = sim.agent.sink.rows
    counters, steps = sim.agent.counters, sim.agent.time.counters
    windows_open = sim.agent.windows_open
    assert_each_once_and_on_time(rows, duration)
    assert len(rows) == 2 * 30  # every window closed, none merged, none lost
    assert (steps.steps_ignored, steps.steps_followed, counters.stale) == (1, 0, 0)
    assert windows_open <= len(MACS)


def test_a_resynchronised_clock_is_followed_and_history_is_not_sent_again(world: Any) -> None:
    """No kernel flag (trust_clock = "sane"): a stale clock, sane but two hours behind, is
    used until NTP steps it forward; the step is followed from then on, and the jump is not
    taken for a sensor reboot: no history is fetched again under later timestamps."""
    _, simulate = world
    duration = hours(5)
    sim = simulate(duration, backfill=True)
    sim.clock.synced = None  # the kernel's flag not read
    sim.clock.step(-2 * 3600)
    sim.loop.call_at(95 * 60, sim.clock.step, 2 * 3600)
    sim.run_for(duration.total_seconds())
    rows = sim.agent.sink.rows
    steps = sim.agent.time.counters
    passive = [r for r in rows if r["battery"] is not None]
    history = [r for r in rows if r["battery"] is None]
    keys = [(r["data"]["mac"], r["timestamp"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert steps.steps_followed == 1
    after_step = [r for r in passive if r["timestamp"] >= "2025-01-06T01:40"]
    assert_each_once_and_on_time(after_step, duration)
    # The two hours the stale clock claims were skipped are no gap: the monotonic clock
    # says no window was missed, so nothing is fetched from the sensors' memory.
    assert history == []
    assert len(passive) == 2 * 30


def test_a_restart_with_the_clock_behind_waits_for_ntp(world: Any) -> None:
    _, simulate = world
    duration = hours(4)
    first = simulate(duration)
    first.run_for(2 * 3600)
    before = list(first.agent.sink.rows)
    # Power cut: the gateway comes back 10 minutes later with fake-hwclock's time, an hour
    # behind, not synchronised; NTP syncs it 20 minutes later.
    first.loop.run_until_complete(asyncio.sleep(600))
    second = simulate(duration)
    second.clock.step(-3600, synced=False)
    second.loop.call_at(second.loop.time() + 1200, lambda: second.clock.step(3600, synced=True))
    second.run_for(2 * 3600 - 600)
    after = second.agent.sink.rows
    held = second.agent.counters.held
    assert_each_once_and_on_time(before + after, duration)
    assert held > 0
    assert min(r["timestamp"] for r in after) > max(r["timestamp"] for r in before)


def test_a_restart_behind_on_a_clock_that_claims_sync_never_restamps_a_sent_reading(
    world: Any,
) -> None:
    """The flag lies (a bad NTP source): the gateway cannot know the time is wrong, but no
    timestamp already stored is used again, and nothing crashes."""
    _, simulate = world
    duration = hours(5)
    first = simulate(duration)
    first.run_for(2 * 3600)
    before = list(first.agent.sink.rows)
    second = simulate(duration)
    second.clock.step(-90 * 60, synced=True)
    second.run_for(3 * 3600)
    after = second.agent.sink.rows
    keys = [(r["data"]["mac"], r["timestamp"]) for r in before + after]
    assert len(keys) == len(set(keys))
    assert min(r["timestamp"] for r in after) > max(r["timestamp"] for r in before)
    assert second.agent.counters.held > 0  # behind its newest stamp: not trusted until past it


@pytest.mark.parametrize(
    ("wall", "synced"),
    [
        (datetime(2150, 1, 1, tzinfo=UTC), True),  # a bad RTC beyond the contract's years
        (EPOCH, None),  # no NTP and no flag: the sanity rule alone refuses 1970
        (START, False),  # a right time the kernel never calls synchronised
    ],
)
def test_an_untrustworthy_clock_holds_a_bounded_number_then_drops_with_a_count(
    world: Any, wall: datetime, synced: bool | None
) -> None:
    _, simulate = world
    duration = hours(26)
    sim = simulate(duration)
    sim.clock.set_wall(wall, synced=synced)
    sim.run_for(duration.total_seconds())
    rows = sim.agent.sink.rows
    counters = sim.agent.counters
    status = sim.outbox.status()
    windows = int(duration.total_seconds() // WINDOW)
    assert rows == []
    assert counters.held == len(MACS) * windows
    # At most a day per sensor is held; the rest, and what is held at the stop, is counted.
    assert counters.dropped_untimed == len(MACS) * windows
    assert status.counts["dropped_untimed"] == len(MACS) * windows
    assert status.depth == 0
    assert len(MACS) * HOLD_WINDOWS < len(MACS) * windows


def test_the_held_readings_never_exceed_the_bound(world: Any) -> None:
    _, simulate = world
    sim = simulate(hours(30))
    sim.clock.set_wall(EPOCH, synced=False)
    peak = 0

    def watch() -> None:
        nonlocal peak
        peak = max(peak, sim.agent.held)
        sim.loop.call_later(WINDOW, watch)

    sim.loop.call_soon(watch)
    sim.run_for(hours(30).total_seconds())
    counts = sim.outbox.status().counts
    assert peak == len(MACS) * HOLD_WINDOWS
    assert counts["dropped_untimed"] == len(MACS) * 180


def test_a_fortnight_of_windows_all_close(world: Any) -> None:
    """Far from loop time 0 a window's end carries float rounding: the loop must neither
    spin on an end a few nanoseconds away nor skip it."""
    _, simulate = world
    duration = timedelta(days=14)
    sim = simulate(duration)
    sim.run_for(duration.total_seconds())
    rows = sim.agent.sink.rows
    assert_each_once_and_on_time(rows, duration)
    assert len(rows) == 2 * 14 * 144


# --- the trust rule, through the library boundary (time.monotonic, time.time, the flag) ---


class Boundary:
    """What `SystemClock` reads, patched: monotonic and wall seconds, the kernel's flag."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mono, self.wall, self.flag = 1000.0, START.timestamp(), True
        monkeypatch.setattr("time.monotonic", lambda: self.mono)
        monkeypatch.setattr("time.time", lambda: self.wall)
        monkeypatch.setattr("edge.clock.kernel_synchronised", lambda: self.flag)

    def tick(self, seconds: float, *, step: float = 0.0, flag: bool | None = None) -> None:
        self.mono += seconds
        self.wall += seconds + step
        if flag is not None:
            self.flag = flag


def test_the_trust_rule_on_the_system_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    host = Boundary(monkeypatch)
    host.wall, host.flag = EPOCH.timestamp(), False
    keeper = Timekeeper(SystemClock())
    assert (keeper.observe(), keeper.trusted) == (False, False)  # 1970, not synchronised
    host.tick(60, step=START.timestamp() - EPOCH.timestamp() - 60, flag=True)
    assert (keeper.observe(), keeper.trusted) == (True, True)  # NTP synced: anchored
    assert keeper.utc(host.mono) == START
    host.tick(600, step=0.3)  # NTP's slew: followed
    assert (keeper.observe(), keeper.utc(host.mono)) == (False, START + timedelta(seconds=600.3))
    host.tick(600, step=-3 * 3600)  # a step while synchronised: kept monotonic time
    assert keeper.observe() is False
    assert keeper.utc(host.mono) == START + timedelta(seconds=1200.3)
    assert keeper.counters == TimeCounters(steps_followed=0, steps_ignored=1)
    host.tick(600, flag=False)  # the kernel lost sync, then NTP re-synchronised it
    keeper.observe()
    host.tick(600, step=3 * 3600 + 7, flag=True)
    assert keeper.observe() is True
    assert keeper.utc(host.mono) == START + timedelta(seconds=2400.3 + 7)
    assert keeper.counters == TimeCounters(steps_followed=1, steps_ignored=1)


@pytest.mark.parametrize(
    ("wall", "flag", "floor", "trusted"),
    [
        (START.timestamp(), True, None, True),
        (START.timestamp(), None, None, True),  # no flag to read: the sanity rule alone
        (START.timestamp(), False, None, False),
        (datetime(2000, 1, 1, tzinfo=UTC).timestamp(), True, None, False),  # a default RTC
        (datetime(2100, 1, 1, tzinfo=UTC).timestamp(), True, None, False),  # past the contract
        (START.timestamp(), True, START + timedelta(hours=1), False),  # behind its last stamp
    ],
)
def test_what_a_first_reading_of_the_clock_trusts(
    monkeypatch: pytest.MonkeyPatch,
    wall: float,
    flag: bool | None,
    floor: datetime | None,
    trusted: bool,
) -> None:
    host = Boundary(monkeypatch)
    host.wall, host.flag = wall, flag  # type: ignore[assignment]
    keeper = Timekeeper(SystemClock(), floor)
    keeper.observe()
    assert keeper.trusted is trusted


def test_trust_clock_sane_does_not_read_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    host = Boundary(monkeypatch)
    host.flag = False
    keeper = Timekeeper(SystemClock(read_flag=False))
    keeper.observe()
    assert keeper.trusted


class Broken:
    """A clock no kernel gives, but a bad driver might: not even a number."""

    def __init__(self, wall: float) -> None:
        self._wall = wall

    def monotonic(self) -> float:
        return 5.0

    def wall(self) -> float:
        return self._wall

    def synchronised(self) -> bool | None:
        return None


@pytest.mark.parametrize("wall", [float("nan"), float("inf"), -1e300, 1e300])
def test_a_wall_time_that_is_no_time_is_not_trusted_and_raises_nothing(wall: float) -> None:
    keeper = Timekeeper(Broken(wall))
    assert keeper.observe() is False
    assert not keeper.trusted
