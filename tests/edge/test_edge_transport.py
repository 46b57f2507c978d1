"""The gateway's BLE transport with substitutes at the bleak boundary only: a scanner that
calls the agent's detection callback with real `BLEDevice`/`AdvertisementData` objects
carrying advertisement bytes from public captures (see test_edge_decoder.py for sources),
and a GATT client that answers the history protocol through the notify callback; the
connection goes through the real bleak-retry-connector. Time is virtual
(`livability.sim.radio.VirtualTimeLoop`); the outbox is a real SQLite file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge import gatt
from edge.config import Config
from edge.thermobeacon import (
    COUNT_COMMAND,
    RX_CHARACTERISTIC,
    SERVICE_UUID,
    TX_CHARACTERISTIC,
    Advert,
    decode,
    encode,
)
from livability.sim.radio import VirtualTimeLoop, virtual_clock
from tests.edge.support import START, RecordingSink, Simulation, gateway, hours, sensor
from tests.edge.test_edge_decoder import (
    HA_BAD,
    HA_MFR_48,
    THEENGS_1,
    THEENGS_2,
    THEENGS_MINMAX_3,
)

SENSOR_A = "70:F7:00:00:11:1A"  # THEENGS_1's device
SENSOR_B = "DC:23:00:00:0A:AE"  # THEENGS_2's and THEENGS_MINMAX_3's device
STRANGER = "44:5D:00:00:01:8B"  # HA_MFR_48's device, not configured
IBEACON = (0x4C, bytes.fromhex("0215426c7565436861726d426561636f6e730efe1355c5"))

Emission = tuple[datetime, str, dict[int, bytes]]


def scanner_replaying(emissions: list[Emission], clock: Callable[[], datetime]) -> type[Any]:
    """A `BleakScanner` stand-in that delivers `emissions` at their (virtual) times."""

    class ReplayScanner:
        def __init__(self, detection_callback: Any = None, service_uuids: Any = None) -> None:
            assert service_uuids == [SERVICE_UUID]
            self._callback = detection_callback
            self._task: asyncio.Task[None] | None = None

        async def start(self) -> None:
            self._task = asyncio.get_running_loop().create_task(self._replay())

        async def stop(self) -> None:
            assert self._task is not None
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

        async def _replay(self) -> None:
            for when, address, manufacturer_data in sorted(emissions, key=lambda e: e[0]):
                if when < clock():
                    continue  # before this scan started
                await asyncio.sleep(max(0.0, (when - clock()).total_seconds()))
                self._callback(
                    BLEDevice(address, "ThermoBeacon", {}),
                    AdvertisementData(
                        local_name="ThermoBeacon",
                        manufacturer_data=manufacturer_data,
                        service_data={},
                        service_uuids=[SERVICE_UUID],
                        tx_power=None,
                        rssi=-70,
                        platform_data=(),
                    ),
                )

    return ReplayScanner


def variant(packet: tuple[int, bytes], **changes: Any) -> dict[int, bytes]:
    """A captured packet with some values changed (re-encoded), as the next advert would be."""
    advert = decode(*packet)
    assert isinstance(advert, Advert)
    company, payload = encode(dataclasses.replace(advert, **changes))
    return {company: payload}


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


class NoClient:
    def __init__(self, *_: Any, **__: Any) -> None:
        raise AssertionError("no GATT connection expected")


def test_one_median_reading_per_sensor_per_window_from_real_adverts(
    tmp_path: Path, loop: VirtualTimeLoop
) -> None:
    clock = virtual_clock(loop, START)
    emissions: list[Emission] = [
        # Window 00:00-00:10. Sensor A: the capture, twice, and a spike; a damaged packet.
        (at(1), SENSOR_A, dict([THEENGS_1])),
        (at(2), SENSOR_A, variant(THEENGS_1, temperature=35.0, voltage_mv=3100)),
        (at(3), SENSOR_A, dict([THEENGS_1])),
        (at(4), SENSOR_A, dict([HA_BAD])),
        (at(5), SENSOR_A, dict([IBEACON])),
        # Sensor B: its reading and its min/max packet, as the real device interleaves them.
        (at(1.5), SENSOR_B, dict([THEENGS_2])),
        (at(2.5), SENSOR_B, dict([THEENGS_MINMAX_3])),
        # A ThermoBeacon nearby that is not ours.
        (at(3.5), STRANGER, dict([HA_MFR_48])),
        # Window 00:10-00:20: sensor B only, colder.
        (at(12), SENSOR_B, variant(THEENGS_2, temperature=-2.5, humidity=80.0)),
    ]
    config = Config(
        gateway(tmp_path, send_every=0), (sensor(SENSOR_A, 1), sensor(SENSOR_B, 2, "bedroom"))
    )
    sink = RecordingSink()
    sim = Simulation(config, sink, scanner_replaying(emissions, clock), NoClient, loop)
    try:
        sim.run(until=at(25))
        counters = sim.agent.counters
    finally:
        sim.close()
    location = "POINT(-0.41472 51.87833)"
    assert [(r["timestamp"], r["data"], r["battery"], r["room"]) for r in sink.rows] == [
        (
            "2025-01-06T00:10:00.000000Z",
            {
                "mac": 0x70F70000111A,
                "home_id": 1,
                "temperature": 31.3125,
                "humidity": 70.75,
                "location": location,
            },
            100,
            None,
        ),
        (
            "2025-01-06T00:10:00.000000Z",
            {
                "mac": 0xDC2300000AAE,
                "home_id": 2,
                "temperature": 25.125,
                "humidity": 55.75,
                "location": location,
            },
            100,
            "bedroom",
        ),
        (
            "2025-01-06T00:20:00.000000Z",
            {
                "mac": 0xDC2300000AAE,
                "home_id": 2,
                "temperature": -2.5,
                "humidity": 80.0,
                "location": location,
            },
            100,
            "bedroom",
        ),
    ]
    assert all(len(r["row_id"]) == 32 and r["home_id"] == r["data"]["home_id"] for r in sink.rows)
    assert (counters.adverts, counters.minmax, counters.rejected, counters.readings) == (5, 1, 2, 3)


# --- GATT history ---


class HistorySensor:
    """A ThermoBeacon's memory: records logged every `interval` s since `boot_at`."""

    def __init__(self, boot_at: datetime, interval: int = 600) -> None:
        self.boot_at = boot_at
        self.interval = interval
        self.commands: list[bytes] = []

    def stored(self, now: datetime) -> int:
        return int((now - self.boot_at).total_seconds()) // self.interval

    @staticmethod
    def record(index: int) -> tuple[int, int]:
        """Raw int16 values (1/16 units): 20.0 °C + index/16, 50 %RH."""
        return 320 + index % 64, 800


def client_for(memory: HistorySensor, clock: Callable[[], datetime]) -> type[Any]:
    """A `BleakClient` stand-in: answers the history protocol through the notify callback."""

    class HistoryClient:
        def __init__(self, device: BLEDevice, **_: Any) -> None:
            self._notify: Callable[[Any, bytearray], None] | None = None
            self.is_connected = False

        async def connect(self, **_: Any) -> bool:
            await asyncio.sleep(2.0)
            self.is_connected = True
            return True

        async def disconnect(self) -> bool:
            self.is_connected = False
            return True

        async def start_notify(self, uuid: str, callback: Any, **_: Any) -> None:
            assert uuid == RX_CHARACTERISTIC
            self._notify = callback

        async def stop_notify(self, uuid: str) -> None:
            self._notify = None

        async def write_gatt_char(self, uuid: str, data: bytes, response: bool = False) -> None:
            assert uuid == TX_CHARACTERISTIC
            assert self._notify is not None
            memory.commands.append(bytes(data))
            stored = memory.stored(clock())
            if bytes(data) == COUNT_COMMAND:
                answer = b"\x01" + stored.to_bytes(2, "little") + b"\x00\x00"
            else:  # 07 offset(4) n: n temperatures, then n humidities
                offset, n = int.from_bytes(data[1:5], "little"), data[5]
                values = [memory.record(k) for k in range(offset, offset + n)]
                temps, hums = [t for t, _ in values], [h for _, h in values]
                answer = data[:6] + struct.pack(f"<{2 * n}h", *temps, *hums)
            self._notify(None, bytearray(answer))

    return HistoryClient


def test_a_gap_is_filled_from_the_sensor_history_with_derived_times(
    tmp_path: Path, loop: VirtualTimeLoop
) -> None:
    clock = virtual_clock(loop, START)
    boot = START - timedelta(days=2, seconds=137)  # not on a window boundary
    memory = HistorySensor(boot)

    def reading(minutes: float) -> Emission:
        uptime = int((at(minutes) - boot).total_seconds())
        return (at(minutes), SENSOR_A, variant(THEENGS_1, uptime_s=uptime))

    # Heard at 00:05, then nothing until 03:05: windows 00:10-03:00 are missing.
    emissions = [reading(5), reading(185)]
    config = Config(gateway(tmp_path, send_every=0), (sensor(SENSOR_A),))
    sink = RecordingSink()
    sim = Simulation(
        config, sink, scanner_replaying(emissions, clock), client_for(memory, clock), loop
    )
    try:
        sim.run(until=at(200))
        state = sim.outbox.sensor(0x70F70000111A)
    finally:
        sim.close()
    passive = [r["timestamp"] for r in sink.rows if r["battery"] is not None]
    history = [
        (r["timestamp"], r["data"]["temperature"]) for r in sink.rows if r["battery"] is None
    ]
    assert passive == ["2025-01-06T00:10:00.000000Z", "2025-01-06T03:10:00.000000Z"]
    # Records every 600 s since boot, so at hh:m7:43; those more than half a window from
    # both passive readings (00:15 < t < 03:05): 00:17:43 … 02:57:43, 17 records.
    assert len(history) == 17
    assert history[0][0] == "2025-01-06T00:17:43.000000Z"
    assert history[-1][0] == "2025-01-06T02:57:43.000000Z"
    first_index = int((at(17 + 43 / 60) - boot).total_seconds()) // 600 - 1
    assert history[0][1] == (320 + first_index % 64) / 16
    assert state is not None
    # The cursor is the next record number since the sensor's power-on (index + 1).
    assert (state.interval_s, state.history_next) == (600, first_index + 1 + 17)
    # Asked in pages of at most three records, after the count.
    assert memory.commands[0] == COUNT_COMMAND
    assert all(c[0] == 7 and 1 <= c[5] <= 3 for c in memory.commands[1:])


def test_record_times_intervals_and_reboots_follow_the_sensor_uptime() -> None:
    assert gatt.record_time(START, 1, 600) == START + timedelta(minutes=10)
    assert gatt.record_time(START, 36, 600) == START + timedelta(hours=6)
    assert gatt.derive_interval(6 * 3600 + 59, 36, fallback=900) == 600
    assert gatt.derive_interval(100, 1, fallback=900) == 900  # too few records to tell
    assert gatt.derive_interval(36 * 86400, 6, fallback=600) == 600  # wrapped memory: implausible
    # Same boot: the uptime went on as time did (a little drift and a late advert allowed).
    assert gatt.same_boot(7200, 3600, elapsed_s=3600)
    assert gatt.same_boot(7200, 3600, elapsed_s=3700)
    assert gatt.same_boot(7200, 3600, elapsed_s=None)
    # The gateway's wall clock is not consulted: a wall step cannot make a reboot.
    assert gatt.same_boot(3600 + 600, 3600, elapsed_s=600)
    # Rebooted: the uptime went back, or advanced far less than the time elapsed.
    assert not gatt.same_boot(500, 3600, elapsed_s=600)
    assert not gatt.same_boot(4000, 3600, elapsed_s=86400)


def test_backfill_resumes_from_its_cursor(tmp_path: Path, loop: VirtualTimeLoop) -> None:
    clock = virtual_clock(loop, START)
    memory = HistorySensor(START - timedelta(days=1))
    client = client_for(memory, clock)
    device = BLEDevice(SENSOR_A, "ThermoBeacon", {})

    async def twice() -> tuple[list[gatt.Record], list[gatt.Record]]:
        await asyncio.sleep(4 * 3600)
        uptime = int((clock() - memory.boot_at).total_seconds())
        first, next_record, interval = await gatt.backfill(
            client,
            device,
            name=SENSOR_A,
            uptime_s=uptime,
            heard_at=loop.time(),
            monotonic=loop.time,
            boot_at=memory.boot_at,
            next_record=None,
            after=START,
            before=clock() + timedelta(seconds=1),
            fallback_interval=600,
        )
        # Heard an hour later: the cursor of that boot goes on from where it was.
        await asyncio.sleep(3600)
        uptime = int((clock() - memory.boot_at).total_seconds())
        heard = loop.time()
        await asyncio.sleep(2)  # the connection starts a little after the advert
        second, _, _ = await gatt.backfill(
            client,
            device,
            name=SENSOR_A,
            uptime_s=uptime,
            heard_at=heard,
            monotonic=loop.time,
            boot_at=memory.boot_at,
            next_record=next_record,
            after=START,  # an overlapping gap
            before=clock() + timedelta(seconds=1),
            fallback_interval=interval,
        )
        return first, second

    first, second = loop.run_until_complete(twice())
    loop.close()
    assert [r.timestamp for r in first] == [START + timedelta(minutes=10 * k) for k in range(1, 25)]
    assert first[0].temperature == (320 + (6 * 24 + 0) % 64) / 16  # record 145: 1 day + 10 min
    assert first[0].number == 145
    assert [r.timestamp for r in second] == [
        START + timedelta(minutes=10 * k) for k in range(25, 31)
    ]
    assert {r.number for r in first}.isdisjoint(r.number for r in second)


def test_an_unreachable_sensor_leaves_the_gap_and_the_gateway_running(
    tmp_path: Path, loop: VirtualTimeLoop
) -> None:
    clock = virtual_clock(loop, START)

    class Unreachable:
        def __init__(self, *_: Any, **__: Any) -> None:
            pass

        async def connect(self, **_: Any) -> bool:
            from bleak.exc import BleakDeviceNotFoundError

            raise BleakDeviceNotFoundError(SENSOR_A)

        async def disconnect(self) -> bool:
            return True

    emissions = [(at(5), SENSOR_A, dict([THEENGS_1])), (at(65), SENSOR_A, dict([THEENGS_1]))]
    config = Config(gateway(tmp_path, send_every=0), (sensor(SENSOR_A),))
    sink = RecordingSink()
    sim = Simulation(config, sink, scanner_replaying(emissions, clock), Unreachable, loop)
    try:
        sim.run(until=at(80))
    finally:
        sim.close()
    assert [r["timestamp"] for r in sink.rows] == [
        "2025-01-06T00:10:00.000000Z",
        "2025-01-06T01:10:00.000000Z",
    ]


@pytest.mark.parametrize("hours_offline", [1, 6])
def test_readings_wait_in_the_outbox_while_the_sink_is_down(
    tmp_path: Path, loop: VirtualTimeLoop, hours_offline: int
) -> None:
    clock = virtual_clock(loop, START)
    emissions = [
        (at(10 * k + 1), SENSOR_A, variant(THEENGS_1, temperature=20 + k / 16))
        for k in range(6 * (hours_offline + 1))
    ]
    config = Config(gateway(tmp_path, send_every=0), (sensor(SENSOR_A),))
    sink = RecordingSink()
    sink.down = True
    sim = Simulation(config, sink, scanner_replaying(emissions, clock), NoClient, loop)
    try:
        sim.run(until=START + hours(hours_offline))
        assert sink.rows == []
        assert sim.outbox.depth() == 6 * hours_offline
        sink.down = False
        sim.run(until=START + hours(hours_offline + 1.2))
    finally:
        sim.close()
    temperatures = [r["data"]["temperature"] for r in sink.rows]
    assert temperatures == [20 + k / 16 for k in range(6 * (hours_offline + 1))]
