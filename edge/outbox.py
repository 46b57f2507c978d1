"""The durable outbox: readings are committed to SQLite before any send, deleted after ack.

SQLite in WAL mode with `synchronous = FULL`: a committed reading survives kill -9 and power
loss (the WAL is fsynced at each commit). Each reading is stored as the contract's normalised
row with its idempotency key `row_id` (UNIQUE here too), so putting the same reading twice
stores it once and re-sending it after a lost acknowledgement adds no row in the warehouse.

Bounded: beyond `limit` readings the oldest are evicted first, counted in `meta` and logged
at WARNING with how many went; nothing leaves silently. A reading the sink refuses for good
is moved to `set_aside` (bounded the same way), counted, and kept for `edge requeue`. The
same file keeps the gateway's state for `livability edge status`: last reading and battery
per sensor, the last successful send, the history cursor of each sensor's GATT backfill, the
sensor's last advertised uptime, counters (adverts refused, windows contested, readings held
without a trustworthy time...), and the newest timestamp ever stamped (the clock's floor).

A file that is not this outbox (a directory, a damaged or foreign database) is an
`OutboxError` with one line saying what and where; edge/README.md "Recovering the outbox"
says what to do.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.outbox_model import (
    ADDED,
    GATEWAY,
    RECOVERY,
    SCHEMA,
    SENSOR_SQL,
    TABLES,
    Note,
    OutboxError,
    Pending,
    SensorState,
    Status,
    bounded,
    moment,
    sensor_state,
    text,
)
from schemas import registry
from schemas.validation import to_json, validate_row

__all__ = ["GATEWAY", "Note", "Outbox", "OutboxError", "Pending", "SensorState", "Status"]

log = logging.getLogger(__name__)


class Outbox:
    """One SQLite file; use from one thread (the agent's event loop) at a time."""

    def __init__(self, path: Path, limit: int = 500_000, *, durable: bool = True) -> None:
        """`durable=False` keeps commits safe from a crash of the process (kill -9) but not
        from a power loss (no fsync per commit): for the demo's simulated weeks only."""
        self.path = path
        self.limit = limit
        if path.is_dir():
            raise OutboxError(f"{path}: is a directory, not an outbox file; {RECOVERY}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutboxError(
                f"{path}: cannot create its folder: {err.strerror}; {RECOVERY}"
            ) from None
        self._db = self._open(durable)
        # One agent writes an outbox: depth and the oldest's time are kept here, not counted
        # on every turn of its loop.
        try:
            self._depth = self._count()
            self._oldest = self._first_stored()
            self.status()  # every stored time and count read once: a damaged value stops here
        except OutboxError:
            self._db.close()
            raise

    def _open(self, durable: bool) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as err:
            raise OutboxError(f"{self.path}: cannot open: {err}; {RECOVERY}") from None
        try:
            problem = self._prepare(db, durable)
        except sqlite3.Error as err:
            problem = f"cannot use: {err}"
        if problem:
            db.close()
            raise OutboxError(f"{self.path}: {problem}; {RECOVERY}")
        return db

    def _prepare(self, db: sqlite3.Connection, durable: bool) -> str:
        """Check the file and bring its tables up to date; what is wrong with it, or ''."""
        db.execute("PRAGMA busy_timeout = 10000")  # `edge status` may read meanwhile
        (check,) = db.execute("PRAGMA quick_check(1)").fetchone()
        if check != "ok":
            return f"damaged ({bounded(str(check))})"
        foreign = self._foreign(db)
        if foreign:
            return f"not a gateway outbox ({foreign})"
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        db.executescript(SCHEMA)
        for table, columns in ADDED.items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns.items():
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        return ""

    @staticmethod
    def _foreign(db: sqlite3.Connection) -> str:
        """Why this SQLite file is someone else's, or '' (empty, or our tables)."""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        tables.discard("sqlite_sequence")
        if not tables:
            return ""  # a new file
        if "outbox" not in tables or not tables <= TABLES:
            return f"tables {', '.join(sorted(tables)[:5])}"
        have = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
        missing = {"seq", "row_id", "table_id", "body", "stored_at"} - have
        return f"its outbox table lacks {', '.join(sorted(missing))}" if missing else ""

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
        *,
        counts: Mapping[tuple[int, str], int] | None = None,
        floor: datetime | None = None,
        history: tuple[int, datetime, int | None, int | None] | None = None,
    ) -> int:
        """Validate and commit `rows`, and `notes`, `counts` (added, by (scope, name)), the
        clock's `floor` and a sensor's `history` cursor (`note_history`'s arguments) with
        them; the number newly stored.

        A known row_id is skipped. A row that breaks the contract raises `RowError` before
        anything is stored: the gateway builds its rows, so that is a bug to see, not data
        to drop.
        """
        spec = registry()[table]
        normalised = [to_json(validate_row(spec, row)) for row in rows]
        stamp = text(now)
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
            self._count_all(counts or {})
            if floor is not None:
                self._raise_floor(floor)
            if history is not None:
                self._history(*history)
        if evicted:
            log.warning(
                "outbox full: oldest readings evicted",
                extra={"evicted": evicted, "limit": self.limit, "outbox": str(self.path)},
            )
        return added

    def count(self, counts: Mapping[tuple[int, str], int]) -> None:
        """Add to counters, (scope, name) → amount; scope `GATEWAY` or a sensor's MAC."""
        if any(counts.values()):
            with self._transaction():
                self._count_all(counts)

    def _count_all(self, counts: Mapping[tuple[int, str], int]) -> None:
        for scope in {scope for (scope, _), amount in counts.items() if amount}:
            if scope != GATEWAY:  # so `status` lists a sensor counted before any reading
                self._ensure(scope)
        self._db.executemany(
            "INSERT INTO counts (scope, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (scope, name) DO UPDATE SET value = value + excluded.value",
            [(scope, name, amount) for (scope, name), amount in counts.items() if amount],
        )

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

    def batch(self, size: int, skip: Iterable[int] = ()) -> list[Pending]:
        """The oldest `size` readings, oldest first, but those whose seq is in `skip`. A
        reading whose stored body is no longer a JSON object (damaged on disk) cannot be
        sent: it is set aside, counted."""
        skipped = json.dumps(sorted(skip))
        while True:
            with self._guard():
                found = self._db.execute(
                    "SELECT seq, row_id, table_id, body FROM outbox "
                    "WHERE seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
                    (skipped, size),
                ).fetchall()
            pending: list[Pending] = []
            damaged: list[Pending] = []
            for seq, row_id, table, body in found:
                row = _json_object(body)
                (damaged if row is None else pending).append(Pending(seq, row_id, table, row or {}))
            if not damaged:
                return pending
            self.set_aside(damaged, "damaged in the outbox: its body is not a JSON object")
            self.count({(GATEWAY, "damaged_in_outbox"): len(damaged)})
            log.error(
                "readings damaged in the outbox set aside",
                extra={"readings": len(damaged), "outbox": str(self.path)},
            )

    def ack(self, sent: Sequence[Pending], now: datetime) -> None:
        """The sink has them: delete them and note the send."""
        with self._transaction():
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(p.seq,) for p in sent])
            self._set("last_send", text(now))
            self._add("sent", len(sent))
        self._depth = self._count()
        self._oldest = self._first_stored()

    def set_aside(
        self, refused: Sequence[Pending], reason: str, now: datetime | None = None
    ) -> None:
        """The sink refuses these for good: move them out of the way of the rest, kept.
        `now` None: the time they were stored (no trustworthy time to hand)."""
        why = bounded(reason)
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO set_aside (row_id, table_id, body, reason, set_at) "
                "SELECT row_id, table_id, body, ?, coalesce(?, stored_at) FROM outbox "
                "WHERE seq = ?",
                [(why, text(now) if now else None, p.seq) for p in refused],
            )
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(p.seq,) for p in refused])
            self._add("set_aside", len(refused))
            (kept,) = self._db.execute("SELECT count(*) FROM set_aside").fetchone()
            if kept > self.limit:
                self._db.execute(
                    "DELETE FROM set_aside WHERE seq IN "
                    "(SELECT seq FROM set_aside ORDER BY seq LIMIT ?)",
                    (kept - self.limit,),
                )
                self._add("evicted", kept - self.limit)
        self._depth = self._count()
        self._oldest = self._first_stored()

    def requeue(self, now: datetime) -> int:
        """Put every set-aside reading back in the outbox (after the sink was fixed)."""
        with self._transaction():
            before = self._db.total_changes
            self._db.execute(
                "INSERT OR IGNORE INTO outbox (row_id, table_id, body, stored_at) "
                "SELECT row_id, table_id, body, ? FROM set_aside ORDER BY seq",
                (text(now),),
            )
            moved = self._db.total_changes - before
            self._db.execute("DELETE FROM set_aside")
        self._depth = self._count()
        self._oldest = self._first_stored()
        return moved

    def depth(self) -> int:
        return self._depth

    def oldest_stored(self) -> datetime | None:
        """When the oldest pending reading was stored (gateway time)."""
        return self._oldest

    def _count(self) -> int:
        with self._guard():
            (depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(depth)

    def _first_stored(self) -> datetime | None:
        with self._guard():
            found = self._db.execute("SELECT stored_at FROM outbox ORDER BY seq LIMIT 1").fetchone()
            return moment(found[0]) if found else None

    # --- the clock's floor ---

    def time_floor(self) -> datetime | None:
        """The newest timestamp this gateway ever stamped: no trustworthy clock is before it."""
        with self._guard():
            found = self._db.execute("SELECT value FROM meta WHERE key = 'time_floor'").fetchone()
            return moment(found[0]) if found else None

    def _raise_floor(self, floor: datetime) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('time_floor', ?) ON CONFLICT (key) "
            "DO UPDATE SET value = max(value, excluded.value)",
            (text(floor),),
        )

    # --- per-sensor state ---

    def _note(self, note: Note, stamp: str) -> None:
        self._ensure(note.mac)
        self._db.execute("UPDATE sensors SET seen_at = ? WHERE mac = ?", (stamp, note.mac))
        when = text(note.timestamp)
        self._db.execute(
            "UPDATE sensors SET last_timestamp = ?, temperature = ?, humidity = ?, "
            "battery = coalesce(?, battery) WHERE mac = ? "
            "AND (last_timestamp IS NULL OR last_timestamp < ?)",
            (when, note.temperature, note.humidity, note.battery, note.mac, when),
        )
        if note.uptime_s is not None and note.uptime_at is not None:
            self._db.execute(
                "UPDATE sensors SET uptime_s = ?, uptime_at = ? WHERE mac = ?",
                (note.uptime_s, text(note.uptime_at), note.mac),
            )

    def note_history(
        self, mac: int, boot_at: datetime, next_record: int | None, interval_s: int | None
    ) -> None:
        """The sensor's boot (power-on, UTC) and its history cursor for that boot."""
        with self._transaction():
            self._history(mac, boot_at, next_record, interval_s)

    def _history(
        self, mac: int, boot_at: datetime, next_record: int | None, interval_s: int | None
    ) -> None:
        self._ensure(mac)
        self._db.execute(
            "UPDATE sensors SET boot_at = ?, history_next = ?, "
            "interval_s = coalesce(?, interval_s) WHERE mac = ?",
            (text(boot_at), next_record, interval_s, mac),
        )

    def sensor(self, mac: int) -> SensorState | None:
        with self._guard():
            found = self._db.execute(SENSOR_SQL + " WHERE mac = ?", (mac,)).fetchone()
            return sensor_state(found, self._counts(mac)) if found else None

    def status(self) -> Status:
        with self._guard():
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            sensors = self._db.execute(SENSOR_SQL + " ORDER BY mac").fetchall()
            states = tuple(sensor_state(s, self._counts(s[0])) for s in sensors)
            (aside,) = self._db.execute("SELECT count(*) FROM set_aside").fetchone()
            gateway = self._counts(GATEWAY)
            return Status(
                depth=self._count(),
                oldest=self._first_stored(),
                evicted=int(meta.get("evicted", 0)),
                last_send=moment(meta.get("last_send")),
                sent=int(meta.get("sent", 0)),
                sensors=states,
                set_aside=int(aside),
                time_floor=moment(meta.get("time_floor")),
                counts=gateway,
            )

    def _counts(self, scope: int) -> dict[str, int]:
        found = self._db.execute(
            "SELECT name, value FROM counts WHERE scope = ? ORDER BY name", (scope,)
        )
        return {name: int(value) for name, value in found}

    # --- helpers ---

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite's errors as one line naming the file (a disk fault, a file damaged)."""
        try:
            yield
        except sqlite3.Error as err:
            raise OutboxError(f"{self.path}: {bounded(str(err))}; {RECOVERY}") from None
        except (ValueError, TypeError) as err:  # a stored time or count that is not one
            raise OutboxError(
                f"{self.path}: damaged value ({bounded(str(err))}); {RECOVERY}"
            ) from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an exception."""
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

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


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        found = json.loads(body)
    except (ValueError, TypeError):
        return None
    return found if isinstance(found, dict) else None
