"""The outbox file's tables, and the values the gateway reads back from it (`edge.outbox`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    row_id TEXT NOT NULL UNIQUE,
    table_id TEXT NOT NULL,
    body TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sensors (
    mac INTEGER PRIMARY KEY,
    last_timestamp TEXT,
    temperature REAL,
    humidity REAL,
    battery INTEGER,
    seen_at TEXT,
    boot_at TEXT,
    history_next INTEGER,
    interval_s INTEGER,
    uptime_s INTEGER,
    uptime_at TEXT
);
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    row_id TEXT NOT NULL UNIQUE,
    table_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counts (
    scope INTEGER NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
);
"""
# Columns added since the first release: an older outbox gains them when opened.
ADDED = {"sensors": {"uptime_s": "INTEGER", "uptime_at": "TEXT"}}
TABLES = {"outbox", "meta", "sensors", "set_aside", "counts"}
GATEWAY = 0  # the scope of gateway-wide counts; a sensor's counts are scoped by its MAC
REASON_CHARS = 300
RECOVERY = "see edge/README.md, 'Recovering the outbox'"


class OutboxError(RuntimeError):
    """The outbox file cannot be used; the message is one line naming the file and why."""


@dataclass(frozen=True)
class Pending:
    seq: int
    row_id: str
    table: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Note:
    """The newest reading of a sensor, kept for `status` and to see gaps; with the sensor's
    advertised uptime and when (UTC) it was heard, to tell a sensor reboot after a restart."""

    mac: int
    timestamp: datetime
    temperature: float | None
    humidity: float | None
    battery: int | None
    uptime_s: int | None = None
    uptime_at: datetime | None = None


@dataclass(frozen=True)
class SensorState:
    mac: int
    last_timestamp: datetime | None
    temperature: float | None
    humidity: float | None
    battery: int | None
    seen_at: datetime | None
    boot_at: datetime | None  # the sensor's power-on as the backfill estimated it
    history_next: int | None  # first history record (number since boot) not yet taken
    interval_s: int | None  # the sensor's logging interval, as derived
    uptime_s: int | None = None  # the sensor's last advertised uptime
    uptime_at: datetime | None = None  # when it was heard (UTC)
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Status:
    depth: int
    oldest: datetime | None
    evicted: int
    last_send: datetime | None
    sent: int
    sensors: tuple[SensorState, ...]
    set_aside: int = 0
    time_floor: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


SENSOR_SQL = (
    "SELECT mac, last_timestamp, temperature, humidity, battery, seen_at, boot_at, "
    "history_next, interval_s, uptime_s, uptime_at FROM sensors"
)


def bounded(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


def text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def moment(text: str | None) -> datetime | None:
    """A stored time; a ValueError when it is not one (a damaged value)."""
    if not text:
        return None
    found = datetime.fromisoformat(text)
    if found.tzinfo is None:
        raise ValueError(f"stored time {text!r} has no time zone")
    return found


def sensor_state(found: tuple[Any, ...], counts: Mapping[str, int]) -> SensorState:
    mac, last, temperature, humidity, battery, seen, boot, history_next, interval = found[:9]
    uptime, uptime_at = found[9:]
    return SensorState(
        mac,
        moment(last),
        temperature,
        humidity,
        battery,
        moment(seen),
        moment(boot),
        history_next,
        interval,
        uptime,
        moment(uptime_at),
        dict(counts),
    )
