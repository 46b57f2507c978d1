"""ThermoBeacon advertisements and GATT history records: bytes in, typed values out. No I/O.

Evidence for the formats:
- Advertisements (manufacturer specific data, company id 0x0010, 0x0011, 0x0014, 0x0015,
  0x0018, 0x001B or 0x0030, service 0xFFF0): the thermobeacon-ble parser (Bluetooth-Devices,
  MIT, itself from Ernst79/bleparser `thermoplus.py`), the Theengs decoder's `ThermoBeacon_json.h`
  and its test vectors, and emericg/WatchFlower `docs/thermobeacon-ble-api.md`. Offsets below
  count from the first byte of the company id, as those sources do.
- GATT history (write 0xFFF5, notify 0xFFF3): the reference PoC's `sensor_reader.py` and
  WatchFlower's document; the response layout is in `HistoryPage.parse`.

Why not the thermobeacon-ble package itself: it decodes the same bytes (tests/edge checks
both agree on every public capture), but it is built for Home Assistant's update model. It
needs a `habluetooth.BluetoothServiceInfoBleak` per advertisement and one parser per device,
and `update()` returns the device's accumulated state: after a min/max packet, a damaged one
or a repeat it returns the previous reading unchanged, so a window cannot count its samples
and a rejected packet has no reason to show. It passes values the sensor cannot measure (it
drops only those above 100, so 90 °C goes through). And importing it costs about 19 MB of
resident memory (habluetooth and Home Assistant's data classes) on a gateway whose budget is
60 MB. This module is 150 lines with the same battery curve.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass
from typing import Any

SERVICE_UUID = "0000fff0-0000-1000-8000-00805f9b34fb"
# GATT: commands are written to TX, answers arrive as notifications on RX.
TX_CHARACTERISTIC = "0000fff5-0000-1000-8000-00805f9b34fb"
RX_CHARACTERISTIC = "0000fff3-0000-1000-8000-00805f9b34fb"

# Company id → model, as thermobeacon-ble names them.
MODELS: dict[int, str] = {
    0x10: "Lanyard/mini hygrometer",
    0x11: "Smart hygrometer",
    0x14: "Smart hygrometer",
    0x15: "Smart hygrometer",
    0x18: "Smart hygrometer",
    0x1B: "Smart hygrometer",
    0x30: "Smart hygrometer",
}

# Reading packet, 20 bytes: id(2) ?(1) button(1) mac(6, reversed) mV(2) temp(2) rh(2) uptime(4).
_READING = struct.Struct("<2xxB6sHhHI")
# Min/max packet, 22 bytes: id(2) ?(2) mac(6) max temp(2) at(4) min temp(2) at(4).
_MINMAX = struct.Struct("<4x6shIhI")
_BUTTON = 0x80
# Physical bounds of the sensor (-40..85 °C, 0..100 %RH) and of a coin cell (a fresh CR2477
# reads up to about 3.4 V; below 1.8 V the radio stops): outside them the bytes are damaged.
TEMPERATURE_RANGE = (-40.0, 85.0)
HUMIDITY_RANGE = (0.0, 100.0)
VOLTAGE_RANGE_MV = (1800, 3800)


class NotAReading(ValueError):  # noqa: N818 - it is a verdict, not a failure
    """Bytes that carry no temperature and humidity; the message says why, in one line."""


@dataclass(frozen=True)
class Advert:
    """One reading packet."""

    model: int  # company id
    mac: int  # from the payload, 48 bits
    temperature: float  # °C, 1/16 resolution
    humidity: float  # %RH, 1/16 resolution
    voltage_mv: int
    battery: int  # percent, estimated from the voltage
    uptime_s: int  # seconds since the sensor was powered on
    button: bool

    def as_json(self) -> dict[str, Any]:
        return {"kind": "reading", "mac": mac_text(self.mac), **_without(asdict(self), "mac")}


@dataclass(frozen=True)
class MinMax:
    """The packet ThermoBeacons interleave with readings: extremes since power-on, no reading."""

    model: int
    mac: int
    max_temperature: float
    max_uptime_s: int
    min_temperature: float
    min_uptime_s: int

    def as_json(self) -> dict[str, Any]:
        return {"kind": "min/max", "mac": mac_text(self.mac), **_without(asdict(self), "mac")}


def _without(values: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != key}


def mac_text(mac: int) -> str:
    return ":".join(f"{b:02X}" for b in mac.to_bytes(6, "big"))


def battery_percent(voltage_mv: int) -> int:
    """Coin-cell level from its voltage: the piecewise curve thermobeacon-ble uses."""
    if voltage_mv >= 3000:
        level = 100.0
    elif voltage_mv >= 2600:
        level = 60 + (voltage_mv - 2600) * 0.1
    elif voltage_mv >= 2500:
        level = 40 + (voltage_mv - 2500) * 0.2
    elif voltage_mv >= 2450:
        level = 20 + (voltage_mv - 2450) * 0.4
    else:
        level = 0.0
    return round(level)


def decode(manufacturer_id: int, payload: bytes) -> Advert | MinMax:
    """The packet `payload` (what bleak gives under `manufacturer_data[manufacturer_id]`).

    Raises `NotAReading` with the reason for anything else: another company, a length no
    ThermoBeacon sends, or values outside what the sensor can measure (damaged bytes).
    """
    if manufacturer_id not in MODELS:
        raise NotAReading(
            f"manufacturer id 0x{manufacturer_id:04X} is not a ThermoBeacon "
            f"({', '.join(f'0x{m:04X}' for m in MODELS)})"
        )
    packet = manufacturer_id.to_bytes(2, "little") + bytes(payload)
    if len(packet) == _MINMAX.size:
        mac, high, high_at, low, low_at = _MINMAX.unpack(packet)
        if not TEMPERATURE_RANGE[0] <= low / 16 <= high / 16 <= TEMPERATURE_RANGE[1]:
            raise NotAReading(
                f"damaged min/max packet: min {low / 16:g} °C, max {high / 16:g} °C "
                f"(expected {TEMPERATURE_RANGE[0]:g} <= min <= max <= {TEMPERATURE_RANGE[1]:g})"
            )
        return MinMax(
            manufacturer_id, int.from_bytes(mac, "little"), high / 16, high_at, low / 16, low_at
        )
    if len(packet) != _READING.size:
        raise NotAReading(
            f"{len(payload)} payload bytes: a ThermoBeacon sends 18 (reading) or 20 (min/max)"
        )
    flags, mac, millivolts, temperature16, humidity16, uptime = _READING.unpack(packet)
    temperature, humidity = temperature16 / 16, humidity16 / 16
    problems = []
    if not TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1]:
        problems.append(f"temperature {temperature:g} °C outside {TEMPERATURE_RANGE}")
    if not HUMIDITY_RANGE[0] <= humidity <= HUMIDITY_RANGE[1]:
        problems.append(f"humidity {humidity:g} % outside {HUMIDITY_RANGE}")
    if not VOLTAGE_RANGE_MV[0] <= millivolts <= VOLTAGE_RANGE_MV[1]:
        problems.append(f"voltage {millivolts} mV outside {VOLTAGE_RANGE_MV}")
    if problems:
        raise NotAReading("damaged packet: " + "; ".join(problems))
    return Advert(
        model=manufacturer_id,
        mac=int.from_bytes(mac, "little"),
        temperature=temperature,
        humidity=humidity,
        voltage_mv=millivolts,
        battery=battery_percent(millivolts),
        uptime_s=uptime,
        button=bool(flags & _BUTTON),
    )


def encode(advert: Advert) -> tuple[int, bytes]:
    """The manufacturer data a sensor would send for `advert`: (company id, payload).

    For the simulated radio; `decode(*encode(a)) == a` for every in-range `a`.
    """
    packet = _READING.pack(
        _BUTTON if advert.button else 0,
        advert.mac.to_bytes(6, "little"),
        advert.voltage_mv,
        round(advert.temperature * 16),
        round(advert.humidity * 16),
        advert.uptime_s,
    )
    return advert.model, packet[2:]


def encode_minmax(packet: MinMax) -> tuple[int, bytes]:
    raw = _MINMAX.pack(
        packet.mac.to_bytes(6, "little"),
        round(packet.max_temperature * 16),
        packet.max_uptime_s,
        round(packet.min_temperature * 16),
        packet.min_uptime_s,
    )
    return packet.model, raw[2:]


# --- GATT history ---

COUNT_COMMAND = b"\x01\x00\x00\x00\x00"
HISTORY_COMMAND = 0x07
# Answers fit one notification of the default ATT MTU (23 bytes, 20 of payload): 6 + 4n.
PAGE_SIZE = 3


def count_from(response: bytes) -> int:
    """Stored records, from the answer to `COUNT_COMMAND` (bytes 1-2, little-endian)."""
    if len(response) < 3 or response[0] != COUNT_COMMAND[0]:
        raise NotAReading(f"not an answer to the count command: {response.hex()}")
    return int.from_bytes(response[1:3], "little")


def history_command(offset: int, count: int) -> bytes:
    """`07` + offset (4 bytes, little-endian) + count: records offset..offset+count-1."""
    if not 0 <= offset < 2**32 or not 1 <= count <= PAGE_SIZE:
        raise ValueError(f"offset {offset} or count {count} out of range")
    return bytes([HISTORY_COMMAND]) + offset.to_bytes(4, "little") + bytes([count])


@dataclass(frozen=True)
class HistoryPage:
    offset: int
    records: tuple[tuple[float, float], ...]  # (temperature, humidity), oldest first

    @classmethod
    def parse(cls, response: bytes) -> HistoryPage:
        """Byte 0 = 0x07, 1-4 the offset, 5 = n, then n temperatures then n humidities
        (T1 T2 T3 H1 H2 H3, not interleaved), each int16 little-endian / 16."""
        if len(response) < 6 or response[0] != HISTORY_COMMAND:
            raise NotAReading(f"not a history answer: {response.hex()}")
        offset, n = int.from_bytes(response[1:5], "little"), response[5]
        if len(response) < 6 + 4 * n:
            raise NotAReading(f"history answer for {n} records has {len(response)} bytes")
        values = struct.unpack_from(f"<{2 * n}h", response, 6)
        records = tuple((t / 16, h / 16) for t, h in zip(values[:n], values[n:], strict=True))
        return cls(offset, records)

    def encode(self) -> bytes:
        """The notification a sensor sends for this page (for the simulated sensor)."""
        n = len(self.records)
        temps = [round(t * 16) for t, _ in self.records]
        hums = [round(h * 16) for _, h in self.records]
        head = bytes([HISTORY_COMMAND]) + self.offset.to_bytes(4, "little") + bytes([n])
        return head + struct.pack(f"<{2 * n}h", *temps, *hums)
