"""The ThermoBeacon decoder (`edge.thermobeacon`) on real advertisement bytes from public
captures, with damaged and min/max packets beside them; runs against nothing but the bytes,
and against the thermobeacon-ble package as an independent decoder of the same captures.

Sources (each constant names its own):
- HA: Bluetooth-Devices/thermobeacon-ble `tests/test_parser.py` (captures from Home
  Assistant users; the manufacturer data as bleak reports it, company id as the key).
- THEENGS: theengs/decoder `tests/BLE/test_ble.cpp`, `test_mfgdata` "WS02/WS08" entries (the
  hex string starts with the company id, little-endian) and their expected JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.thermobeacon import (
    Advert,
    HistoryPage,
    MinMax,
    NotAReading,
    battery_percent,
    count_from,
    decode,
    encode,
    history_command,
)

LIVABILITY = Path(sys.executable).parent / "livability"


def theengs(hex_string: str) -> tuple[int, bytes]:
    """A Theengs test vector: company id (2 bytes LE) then the payload bleak would give."""
    raw = bytes.fromhex(hex_string)
    return int.from_bytes(raw[:2], "little"), raw[2:]


# HA MFR_16_LEN_20 (the parser test expects 24.0 °C, 43.38 %, 3.3 V, battery 100).
HA_MFR_16 = (16, bytes.fromhex("0000b002000047a4e20c8001b6024a000000"))
# HA MFR_16_LEN_18 (28.31 °C, 40.44 %, 3.14 V).
HA_MFR_16_B = (16, bytes.fromhex("00009c0d0000fe44450cc50187021700 0000".replace(" ", "")))
# HA MFR_48 (21.56 °C, 53.56 %, 3.03 V).
HA_MFR_48 = (48, bytes.fromhex("00008b0100005d44d60b590159034400 0c00".replace(" ", "")))
# HA MFR_20 (21.38 °C, 51.75 %, 3.38 V).
HA_MFR_20 = (20, bytes.fromhex("00000503000 0f5eb330d56013c034c030000".replace(" ", "")))
# HA MFR_27 (22.94 °C, 39.19 %, 3.2 V).
HA_MFR_27 = (27, bytes.fromhex("0000832c0000d063820c6f017302052300 00".replace(" ", "")))
# HA MFR_22: a 20-byte payload, which the HA parser reads as no data packet: min/max.
HA_MINMAX_21 = (21, bytes.fromhex("0000f0050000d76ebe0165000000a70100000000"))
# HA BAD_DATA and BAD_DATA_2: reading-sized, but shifted: 1136 °C, 9.7 V.
HA_BAD = (16, bytes.fromhex("610016000 0acfa2f0b26014703a7e71200c0".replace(" ", "")))
HA_BAD_2 = (16, bytes.fromhex("000016000 0acfa2f0b26014703a7e71200c0".replace(" ", "")))
# HA BAD_DATA_3: min/max sized; the HA parser ignores it.
HA_BAD_3 = (16, bytes.fromhex("000029060000456fab010a000000a201980000 00".replace(" ", "")))

# THEENGS: 31.3125 °C, 70.75 %, 3.160 V, time 2371, mac 70:F7:00:00:11:1A.
THEENGS_1 = theengs("100000001a110000f770580cf5016c0443090000")
# THEENGS: 25.125 °C, 55.75 %, 3 V, time 244685, mac DC:23:00:00:0A:AE.
THEENGS_2 = theengs("11000000ae0a000023dcb80b92017c03cdbb0300")
# THEENGS: 13.75 °C, 59.9375 %, 3.236 V, time 10034 (byte 2 is 0x25 on this unit).
THEENGS_3 = theengs("1b002500cf1d0000d063a40cdc00bf0332270000")
# THEENGS: 22.75 °C, 45.8125 %, 2.836 V, time 7525616.
THEENGS_4 = theengs("1500000010070000bb8e140b6c01dd02f0d47200")
# THEENGS min/max: max 27.25 at 3188218, min 18.375 at 6778822.
THEENGS_MINMAX_1 = theengs("1500000010070000bb8eb401faa530002601c66f6700")
# THEENGS min/max: max 29.6875 at 106359, min 24.125 at 54044.
THEENGS_MINMAX_2 = theengs("10000000fe0d00000663db01779f010082011cd30000")
# THEENGS min/max: max 27 at 175, min 24.1875 at 217757.
THEENGS_MINMAX_3 = theengs("11000000ae0a000023dcb001af00000083019d520300")


def mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


READINGS = {
    "HA 0x10": (
        HA_MFR_16,
        Advert(16, mac("A4:47:00:00:02:B0"), 24.0, 43.375, 3298, 100, 74, False),
    ),
    "HA 0x10 b": (
        HA_MFR_16_B,
        Advert(16, mac("44:FE:00:00:0D:9C"), 28.3125, 40.4375, 3141, 100, 23, False),
    ),
    "HA 0x30": (
        HA_MFR_48,
        Advert(48, mac("44:5D:00:00:01:8B"), 21.5625, 53.5625, 3030, 100, 786500, False),
    ),
    "HA 0x14": (
        HA_MFR_20,
        Advert(20, mac("EB:F5:00:00:03:05"), 21.375, 51.75, 3379, 100, 844, False),
    ),
    "HA 0x1B": (
        HA_MFR_27,
        Advert(27, mac("63:D0:00:00:2C:83"), 22.9375, 39.1875, 3202, 100, 8965, False),
    ),
    "Theengs 0x10": (
        THEENGS_1,
        Advert(16, mac("70:F7:00:00:11:1A"), 31.3125, 70.75, 3160, 100, 2371, False),
    ),
    "Theengs 0x11": (
        THEENGS_2,
        Advert(17, mac("DC:23:00:00:0A:AE"), 25.125, 55.75, 3000, 100, 244685, False),
    ),
    "Theengs 0x1B": (
        THEENGS_3,
        Advert(27, mac("63:D0:00:00:1D:CF"), 13.75, 59.9375, 3236, 100, 10034, False),
    ),
    # 2836 mV: 60 + (2836 - 2600) * 0.1 = 83.6 → 84 %.
    "Theengs 0x15": (
        THEENGS_4,
        Advert(21, mac("8E:BB:00:00:07:10"), 22.75, 45.8125, 2836, 84, 7525616, False),
    ),
}

MINMAX = {
    "HA 0x15": (HA_MINMAX_21, MinMax(21, mac("6E:D7:00:00:05:F0"), 27.875, 101, 26.4375, 0)),
    "HA bad 3": (HA_BAD_3, MinMax(16, mac("6F:45:00:00:06:29"), 26.6875, 10, 26.125, 152)),
    "Theengs 1": (
        THEENGS_MINMAX_1,
        MinMax(21, mac("8E:BB:00:00:07:10"), 27.25, 3188218, 18.375, 6778822),
    ),
    "Theengs 2": (
        THEENGS_MINMAX_2,
        MinMax(16, mac("63:06:00:00:0D:FE"), 29.6875, 106359, 24.125, 54044),
    ),
    "Theengs 3": (
        THEENGS_MINMAX_3,
        MinMax(17, mac("DC:23:00:00:0A:AE"), 27.0, 175, 24.1875, 217757),
    ),
}


@pytest.mark.parametrize(("packet", "expected"), READINGS.values(), ids=READINGS.keys())
def test_reading_packets_decode_to_whole_values(
    packet: tuple[int, bytes], expected: Advert
) -> None:
    assert decode(*packet) == expected


@pytest.mark.parametrize(("packet", "expected"), MINMAX.values(), ids=MINMAX.keys())
def test_min_max_packets_are_recognised_and_carry_no_reading(
    packet: tuple[int, bytes], expected: MinMax
) -> None:
    assert decode(*packet) == expected


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (HA_BAD, "damaged packet: temperature 1136.06 °C outside"),
        (HA_BAD_2, "damaged packet: temperature 1136.06 °C outside"),
        ((0x4C, bytes.fromhex("0215426c7565436861726d426561636f6e730efe1355c5")), "0x004C is not"),
        ((16, HA_MFR_16[1][:-1]), "17 payload bytes: a ThermoBeacon sends 18"),
        ((16, b""), "0 payload bytes"),
        ((16, HA_MINMAX_21[1][:8] + b"\xff\x7f" + HA_MINMAX_21[1][10:]), "damaged min/max"),
    ],
    ids=["HA bad data", "HA bad data 2", "iBeacon", "truncated", "empty", "min/max 2047 °C"],
)
def test_not_a_reading_says_why(packet: tuple[int, bytes], reason: str) -> None:
    with pytest.raises(NotAReading, match=reason.replace("(", r"\(")):
        decode(*packet)


def test_humidity_and_voltage_out_of_range_are_damaged() -> None:
    good = decode(*THEENGS_1)
    assert isinstance(good, Advert)
    wet = encode(Advert(**{**good.__dict__, "humidity": 100.0}))
    assert decode(*wet) == Advert(**{**good.__dict__, "humidity": 100.0})
    too_wet = bytearray(wet[1])
    too_wet[12:14] = (101 * 16).to_bytes(2, "little")
    flat = bytearray(wet[1])
    flat[8:10] = (1700).to_bytes(2, "little")
    with pytest.raises(NotAReading, match="humidity 101"):
        decode(wet[0], bytes(too_wet))
    with pytest.raises(NotAReading, match="voltage 1700 mV"):
        decode(wet[0], bytes(flat))


def test_negative_temperatures_are_signed() -> None:
    cold = decode(*THEENGS_2)
    assert isinstance(cold, Advert)
    frozen = Advert(**{**cold.__dict__, "temperature": -12.5})
    assert decode(*encode(frozen)) == frozen


@pytest.mark.parametrize(
    ("millivolts", "percent"),
    [
        (3400, 100),
        (3000, 100),
        (2999, 100),
        (2800, 80),
        (2600, 60),
        (2550, 50),
        (2470, 28),
        (2449, 0),
    ],
)
def test_battery_curve(millivolts: int, percent: int) -> None:
    assert battery_percent(millivolts) == percent


# --- the thermobeacon-ble package, as an independent decoder of the same captures ---


def library_values(company: int, payload: bytes) -> dict[str, object]:
    from bleak.backends.device import BLEDevice
    from habluetooth import BluetoothServiceInfoBleak
    from thermobeacon_ble import ThermoBeaconBluetoothDeviceData

    info = BluetoothServiceInfoBleak(
        name="ThermoBeacon",
        address="AA:BB:CC:DD:EE:FF",
        rssi=-60,
        manufacturer_data={company: payload},
        service_data={},
        service_uuids=["0000fff0-0000-1000-8000-00805f9b34fb"],
        source="local",
        device=BLEDevice("AA:BB:CC:DD:EE:FF", "ThermoBeacon", {}),
        advertisement=None,
        connectable=True,
        time=0.0,
        tx_power=None,
        raw=None,
    )
    update = ThermoBeaconBluetoothDeviceData().update(info)
    return {key.key: value.native_value for key, value in update.entity_values.items()}


@pytest.mark.parametrize(("packet", "expected"), READINGS.values(), ids=READINGS.keys())
def test_thermobeacon_ble_agrees_on_every_reading(
    packet: tuple[int, bytes], expected: Advert
) -> None:
    theirs = library_values(*packet)
    assert {k: theirs[k] for k in ("temperature", "humidity", "battery", "voltage")} == {
        "temperature": round(expected.temperature, 2),
        "humidity": round(expected.humidity, 2),
        "battery": expected.battery,
        "voltage": round(expected.voltage_mv / 1000, 2),
    }


@pytest.mark.parametrize(("packet", "_expected"), MINMAX.values(), ids=MINMAX.keys())
def test_thermobeacon_ble_also_finds_no_reading_in_min_max_packets(
    packet: tuple[int, bytes], _expected: MinMax
) -> None:
    assert "temperature" not in library_values(*packet)


def test_thermobeacon_ble_passes_a_temperature_the_sensor_cannot_measure() -> None:
    """One reason the gateway decodes itself (edge/thermobeacon.py's docstring)."""
    good = decode(*THEENGS_1)
    assert isinstance(good, Advert)
    company, payload = encode(Advert(**{**good.__dict__, "temperature": 90.0}))
    assert library_values(company, payload)["temperature"] == 90.0
    with pytest.raises(NotAReading, match="temperature 90"):
        decode(company, payload)


# --- GATT history answers ---


def test_history_page_layout_is_temperatures_then_humidities() -> None:
    answer = bytes.fromhex("070a0000000368017001f0ff8c0290020003")
    assert HistoryPage.parse(answer) == HistoryPage(10, ((22.5, 40.75), (23.0, 41.0), (-1.0, 48.0)))
    assert HistoryPage.parse(answer).encode() == answer
    assert history_command(10, 3) == bytes.fromhex("070a00000003")
    assert count_from(bytes.fromhex("01e803000000")) == 1000


@pytest.mark.parametrize(
    "answer", ["", "01e803", "070a000000036801", "0102"], ids=["empty", "count", "short", "other"]
)
def test_malformed_history_answers_are_refused(answer: str) -> None:
    with pytest.raises(NotAReading):
        HistoryPage.parse(bytes.fromhex(answer))


# --- `livability edge decode` ---


def decode_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIVABILITY), "edge", "decode", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_decode_prints_the_reading_as_json() -> None:
    result = decode_cli("--manufacturer-id", "0x11", "--payload", THEENGS_2[1].hex())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "kind": "reading",
        "mac": "DC:23:00:00:0A:AE",
        "model": 17,
        "temperature": 25.125,
        "humidity": 55.75,
        "voltage_mv": 3000,
        "battery": 100,
        "uptime_s": 244685,
        "button": False,
    }


def test_cli_decode_gives_one_line_for_what_is_no_reading() -> None:
    minmax = decode_cli("--manufacturer-id", "21", "--payload", THEENGS_MINMAX_1[1].hex())
    damaged = decode_cli("--manufacturer-id", "16", "--payload", HA_BAD[1].hex())
    assert (minmax.returncode, damaged.returncode) == (0, 0)
    assert json.loads(minmax.stdout)["kind"] == "min/max"
    assert damaged.stdout.count("\n") == 1
    assert damaged.stdout.startswith("not a reading: damaged packet: temperature 1136.06 °C")


def test_cli_decode_refuses_a_malformed_call() -> None:
    result = decode_cli("--manufacturer-id", "16", "--payload", "zz")
    assert result.returncode == 2
    assert "'zz' is not hexadecimal bytes" in result.stderr
