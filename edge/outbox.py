"""The durable outbox: readings are committed to SQLite before any send, deleted after ack.

SQLite in WAL mode with `synchronous = FULL`: a committed reading survives kill -9 and power
loss (the WAL is fsynced at each commit). Each reading is stored as the contract's normalised
row with its idempotency key `row_id` (UNIQUE here too), so putting the same reading twice
stores it once and re-sending it after a lost acknowledgement adds no row in the warehouse.

Bounded: beyond `limit` readings the oldest are evicted first, counted in `meta` and logged
at WARNING with how many went; nothing leaves silently. The same file keeps the gateway's
state for `livability edge status`: last reading and battery per sensor, the last
successful send, the history cursor of each sensor's GATT backfill.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import registry
from schemas.validation import to_json, validate_row

log = logging.getLogger(__name__)

_SCHEMA = """
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
    interval_s INTEGER
);
"""


@dataclass(frozen=True)
class Pending:
    seq: int
    row_id: str
    table: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Note:
    """The newest reading of a sensor, kept for `status` and to see gaps."""

    mac: int
    timestamp: datetime
    temperature: float | None
    humidity: float | None
    battery: int | None


@dataclass(frozen=True)
class SensorState:
    mac: int
    last_timestamp: datetime | None
    temperature: float | None
    humidity: float | None
    battery: int | None
    seen_at: datetime | None
    boot_at: datetime | None  # the sensor's power-on as the backfill estimated it
    history_next: int | None  # first history record not yet taken
    interval_s: int | None  # the sensor's logging interval, as derived


@dataclass(frozen=True)
class Status:
    depth: int
    oldest: datetime | None
    evicted: int
    last_send: datetime | None
    sent: int
    sensors: tuple[SensorState, ...]


class Outbox:
    """One SQLite file; use from one thread (the agent's event loop) at a time."""

    def __init__(self, path: Path, limit: int = 500_000, *, durable: bool = True) -> None:
        """`durable=False` keeps commits safe from a crash of the process (kill -9) but not
        from a power loss (no fsync per commit): for the demo's simulated weeks only."""
        self.path = path
        self.limit = limit
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA busy_timeout = 10000")  # `edge status` may read meanwhile
        self._db.executescript(_SCHEMA)
        # One agent writes an outbox: depth and the oldest's time are kept here, not counted
        # on every turn of its loop.
        self._depth = self._count()
        self._oldest = self._first_stored()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- readings ---

    def put(
        self,
        table: str,
        rows: Iterable[Mapping[str, Any]],
        now: datetime,
        notes: Sequence[Note] = (),
    ) -> int:
        """Validate and commit `rows`, and `notes` with them; the number newly stored.

        A known row_id is skipped. A row that breaks the contract raises `RowError` before
        anything is stored: the gateway builds its rows, so that is a bug to see, not data
        to drop.
        """
        spec = registry()[table]
        normalised = [to_json(validate_row(spec, row)) for row in rows]
        stamp = _text(now)
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (row_id, table_id, body, stored_at) "
                "VALUES (?, ?, ?, ?)",
                [
                    (row["row_id"], table, json.dumps(row, separators=(",", ":")), stamp)
                    for row in normalised
                ],
            )
            added = self._db.total_changes - before
            if added and not self._depth:
                self._oldest = now.astimezone(UTC)
            self._depth += added
            evicted = self._evict()
            for note in notes:
                self._note(note, stamp)
        if evicted:
            log.warning(
                "outbox full: oldest readings evicted",
                extra={"evicted": evicted, "limit": self.limit, "outbox": str(self.path)},
            )
        return added

    def _evict(self) -> int:
        excess = self._depth - self.limit
        if excess <= 0:
            return 0
        self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
            (excess,),
        )
        self._add("evicted", excess)
        self._depth = self.limit
        self._oldest = self._first_stored()
        return excess

    def batch(self, size: int) -> list[Pending]:
        """The oldest `size` readings, oldest first."""
        found = self._db.execute(
            "SELECT seq, row_id, table_id, body FROM outbox ORDER BY seq LIMIT ?", (size,)
        ).fetchall()
        return [Pending(seq, rid, table, json.loads(body)) for seq, rid, table, body in found]

    def ack(self, sent: Sequence[Pending], now: datetime) -> None:
        """The sink has them: delete them and note the send."""
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(p.seq,) for p in sent])
            self._set("last_send", _text(now))
            self._add("sent", len(sent))
        self._depth = self._count()
        self._oldest = self._first_stored()

    def depth(self) -> int:
        return self._depth

    def oldest_stored(self) -> datetime | None:
        """When the oldest pending reading was stored (gateway time)."""
        return self._oldest

    def _count(self) -> int:
        (depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(depth)

    def _first_stored(self) -> datetime | None:
        found = self._db.execute("SELECT stored_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
        return _time(found[0]) if found else None

    # --- per-sensor state ---

    def _note(self, note: Note, stamp: str) -> None:
        self._ensure(note.mac)
        self._db.execute("UPDATE sensors SET seen_at = ? WHERE mac = ?", (stamp, note.mac))
        when = _text(note.timestamp)
        self._db.execute(
            "UPDATE sensors SET last_timestamp = ?, temperature = ?, humidity = ?, "
            "battery = coalesce(?, battery) WHERE mac = ? "
            "AND (last_timestamp IS NULL OR last_timestamp < ?)",
            (when, note.temperature, note.humidity, note.battery, note.mac, when),
        )

    def note_history(self, mac: int, boot_at: datetime, next_index: int, interval_s: int) -> None:
        with self._transaction():
            self._ensure(mac)
            self._db.execute(
                "UPDATE sensors SET boot_at = ?, history_next = ?, interval_s = ? WHERE mac = ?",
                (_text(boot_at), next_index, interval_s, mac),
            )

    def sensor(self, mac: int) -> SensorState | None:
        found = self._db.execute(
            "SELECT mac, last_timestamp, temperature, humidity, battery, seen_at, boot_at, "
            "history_next, interval_s FROM sensors WHERE mac = ?",
            (mac,),
        ).fetchone()
        return _state(found) if found else None

    def status(self) -> Status:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        sensors = self._db.execute(
            "SELECT mac, last_timestamp, temperature, humidity, battery, seen_at, boot_at, "
            "history_next, interval_s FROM sensors ORDER BY mac"
        ).fetchall()
        return Status(
            depth=self._count(),
            oldest=self._first_stored(),
            evicted=int(meta.get("evicted", 0)),
            last_send=_time(meta["last_send"]) if "last_send" in meta else None,
            sent=int(meta.get("sent", 0)),
            sensors=tuple(_state(s) for s in sensors),
        )

    # --- helpers ---

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _ensure(self, mac: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO sensors (mac) VALUES (?)", (mac,))

    def _set(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _add(self, key: str, amount: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?",
            (key, str(amount), amount),
        )


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._db.execute("ROLLBACK" if kind else "COMMIT")


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _state(found: tuple[Any, ...]) -> SensorState:
    mac, last, temperature, humidity, battery, seen, boot, history_next, interval = found
    return SensorState(
        mac,
        _time(last),
        temperature,
        humidity,
        battery,
        _time(seen),
        _time(boot),
        history_next,
        interval,
    )
