"""The embedded default warehouse: one DuckDB file, one schema per dataset.

Exact in storage: `row_id` is the primary key, so a re-insert adds nothing on either path.

Two processes may use the file in turn (DuckDB lets one process hold it): the file is open
only while there is work, and a process that finds it locked retries for `lock_timeout`
seconds. A long-lived writer (`livability serve`) closes it once it has been idle for
`linger` seconds, so a `score` or a notebook gets in between bursts of messages.

Group commit: concurrent `insert_rows` calls of one process are written in one transaction
by whichever caller gets there first, and each returns only once that transaction is
durable. A small commit costs a few milliseconds on this disk; 8 concurrent messages share it.

The tables' DDL and their evolution are `duckdb_schema.py`. DuckDB has not the port's
optional `export_week`: the archive reads a week with `query` and uploads it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from livability.adapters.duckdb_schema import create_tables, table_exists
from livability.ports import (
    InsertResult,
    MissingTableError,
    NotSupportedError,
    ParamValue,
    RowFailure,
    TableChange,
    WarehouseError,
    param_type,
)
from schemas import ROW_ID, Registry
from schemas.arrow import arrow_schema, with_utc

# What pyarrow raises for a value that does not fit its column's type.
_CONVERSION_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_LOCKED = "lock"  # DuckDB's IOException text when another process holds the file
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    """One caller's insert, waiting for a group commit."""

    table: str
    batch: pa.Table
    positions: list[int]  # each batch row's index in the caller's rows
    failed: list[RowFailure]
    done: bool = False
    inserted: int = 0
    error: BaseException | None = None


class DuckDBWarehouse:
    """The embedded default: one DuckDB file, one schema per dataset."""

    dialect = "duckdb"

    def __init__(
        self,
        path: Path,
        registry: Registry,
        dataset: str,
        *,
        lock_timeout: float = 30.0,
        linger: float = 0.2,
        threads: int | None = None,
        memory_mb: int | None = None,
    ) -> None:
        self.path = path
        self.registry = registry
        self.dataset = dataset
        self.lock_timeout = lock_timeout
        self.linger = linger
        self.threads = threads
        self.memory_mb = memory_mb  # None: DuckDB's default, 80 % of the machine's memory
        self._arrow = {t.name: arrow_schema(t, utc=False) for t in registry}
        self._state = threading.Lock()  # guards the fields below
        self._con: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        self._last_used = 0.0
        self._closer: threading.Timer | None = None
        self._write = threading.Lock()  # one group commit at a time
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._known_tables: set[str] = set()
        self._closed = False

    # --- connection: open while there is work, retry while another process holds it ---

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WarehouseError(f"cannot open the warehouse at {self.path}: {err}") from err
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            try:
                con = duckdb.connect(str(self.path))
            except duckdb.IOException as err:
                if _LOCKED not in str(err).lower() or time.monotonic() >= deadline:
                    raise WarehouseError(
                        f"cannot open the warehouse at {self.path}: {err}"
                    ) from err
            except duckdb.Error as err:
                raise WarehouseError(f"cannot open the warehouse at {self.path}: {err}") from err
            else:
                if self.threads is not None:
                    con.execute(f"SET threads = {int(self.threads)}")
                if self.memory_mb is not None:
                    con.execute(f"SET memory_limit = '{int(self.memory_mb)}MB'")
                return con
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    @contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._state:
            if self._closed:
                raise WarehouseError(f"the warehouse at {self.path} was closed")
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            if self._con is None:
                self._con = self._open()
            self._users += 1
            con = self._con
        cursor = con.cursor()  # one cursor per thread: a DuckDB connection is not thread-safe
        try:
            yield cursor
        finally:
            cursor.close()
            with self._state:
                self._users -= 1
                self._last_used = time.monotonic()
                if self._users == 0:
                    self._schedule_close()

    def _schedule_close(self) -> None:
        if self.linger <= 0:
            self._close_now()
            return
        timer = threading.Timer(self.linger, self._close_if_idle)
        timer.daemon = True
        self._closer = timer
        timer.start()

    def _close_if_idle(self) -> None:
        with self._state:
            if self._users == 0 and time.monotonic() - self._last_used >= self.linger * 0.9:
                self._close_now()

    def _close_now(self) -> None:  # with self._state held
        if self._con is not None:
            self._con.close()
            self._con = None

    def close(self) -> None:
        with self._state:
            self._closed = True
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            self._close_now()

    def _run(self, work: Callable[[duckdb.DuckDBPyConnection], T], what: str) -> T:
        with self._connection() as con:
            try:
                return work(con)
            except duckdb.CatalogException as err:
                missing = self._missing_table(str(err))
                if missing is not None:
                    raise MissingTableError(missing, str(self.path)) from err
                raise WarehouseError(f"{what} failed: {err}") from err
            except duckdb.Error as err:
                raise WarehouseError(f"{what} failed: {err}") from err

    def _missing_table(self, message: str) -> str | None:
        for table in self.registry:
            if f"{table.name}" in message and "does not exist" in message:
                return f"{self.dataset}.{table.name}"
        return None

    # --- schema ---

    def init(self, registry: Registry | None = None) -> list[TableChange]:
        """Create the schema, every table and its `_dedup` view (duckdb_schema.py)."""
        registry = registry or self.registry

        def create(con: duckdb.DuckDBPyConnection) -> list[TableChange]:
            return create_tables(con, registry, self.dataset, self.path)

        with self._write:  # no insert of this process between the DDL statements
            return self._run(create, f"creating the tables in {self.path}")

    # --- writes ---

    def _batch(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> _Pending:
        """The caller's rows as Arrow, the first of each id only; rows Arrow cannot take fail."""
        if len(rows) != len(row_ids):
            raise ValueError(f"{len(rows)} rows but {len(row_ids)} row ids")
        schema = self._arrow[self.registry[table].name]
        first: dict[str, int] = {}
        for index, rid in enumerate(row_ids):
            first.setdefault(rid, index)
        records = [{**rows[index], ROW_ID: rid} for rid, index in first.items()]
        positions = list(first.values())
        try:
            return _Pending(table, pa.Table.from_pylist(records, schema=schema), positions, [])
        except _CONVERSION_ERRORS:
            pass  # find the rows at fault, keep the rest
        kept: list[dict[str, Any]] = []
        kept_positions: list[int] = []
        failed: list[RowFailure] = []
        for record, index in zip(records, positions, strict=True):
            try:
                pa.Table.from_pylist([record], schema=schema)
            except _CONVERSION_ERRORS as err:
                failed.append(RowFailure(index, f"invalid: {err}"))
            else:
                kept.append(record)
                kept_positions.append(index)
        return _Pending(table, pa.Table.from_pylist(kept, schema=schema), kept_positions, failed)

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> InsertResult:
        if not rows:
            return InsertResult(0)
        pending = self._batch(table, rows, row_ids)
        with self._queue_lock:
            self._queue.append(pending)
        # Whoever holds the write lock commits everything queued, ours included or not.
        while not pending.done:
            with self._write:
                if pending.done:
                    break
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if pending.error is not None:
            raise pending.error
        return InsertResult(pending.inserted, tuple(sorted(pending.failed, key=lambda f: f.index)))

    def load_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> InsertResult:
        # The primary key makes the streaming path exact already.
        return self.insert_rows(table, rows, row_ids)

    def _commit_group(self, group: list[_Pending]) -> None:
        def write(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
            # Optimistic first: a plain INSERT costs a quarter of INSERT OR IGNORE here, and
            # a key seen before (a redelivery) is rare. On a conflict the transaction is
            # void, so the group is written again, skipping the known keys.
            for careful in (False, True):
                con.execute("BEGIN TRANSACTION")
                try:
                    counts = self._insert_group(con, group, careful=careful)
                    con.execute("COMMIT")
                except duckdb.ConstraintException:
                    con.execute("ROLLBACK")
                    if careful:
                        raise
                    continue
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                return counts
            raise AssertionError("unreachable")  # pragma: no cover

        try:
            counts = self._run(write, f"insert into {self.dataset}")
        except WarehouseError as err:
            if len(group) > 1:
                # One bad member must not fail the others: write each on its own.
                for p in group:
                    self._commit_group([p])
                return
            if isinstance(err.__cause__, duckdb.ConstraintException) and len(group[0].batch) > 1:
                self._isolate(group[0])  # a row breaks a constraint: find it, keep the rest
                return
            if isinstance(err.__cause__, duckdb.ConstraintException):
                pending = group[0]
                pending.failed.append(RowFailure(pending.positions[0], f"invalid: {err.__cause__}"))
                pending.done = True
                return
            group[0].error = err
            group[0].done = True
            return
        for p in group:
            p.inserted, p.done = counts[id(p)], True

    def _isolate(self, pending: _Pending) -> None:
        """Write a batch row by row: the rows the table refuses fail with DuckDB's reason."""
        for position in range(len(pending.batch)):
            single = _Pending(
                pending.table,
                pending.batch.slice(position, 1),
                [pending.positions[position]],
                [],
            )
            self._commit_group([single])
            if single.error is not None:
                pending.error = single.error
                break
            pending.inserted += single.inserted
            pending.failed += single.failed
        pending.done = True

    def _insert_group(
        self, con: duckdb.DuckDBPyConnection, group: list[_Pending], *, careful: bool
    ) -> dict[int, int]:
        """One INSERT per table for the whole group; each member counts the ids it added."""
        counts = {id(p): 0 for p in group}
        tables: dict[str, list[_Pending]] = {}
        for p in group:
            tables.setdefault(p.table, []).append(p)
        for table, members in tables.items():
            if table not in self._known_tables:
                if not table_exists(con, self.dataset, table):
                    raise MissingTableError(f"{self.dataset}.{table}", str(self.path))
                self._known_tables.add(table)
            owner: dict[str, int] = {}  # row id -> the member that brought it first
            parts = []
            for p in members:
                ids = p.batch.column(ROW_ID).to_pylist()
                keep = [rid not in owner for rid in ids]
                for rid in ids:
                    owner.setdefault(rid, id(p))
                parts.append(p.batch.filter(pa.array(keep)))
            # DuckDB finds `batch` by its name in this frame (a replacement scan): cheaper
            # than registering it, and a key conflict comes back as ConstraintException.
            batch = pa.concat_tables(parts)  # noqa: F841
            # Both names are checked identifiers: the table comes from the registry, the
            # dataset from the settings.
            target = f"{self.dataset}.{table}"
            if careful:
                sql = (
                    f"INSERT OR IGNORE INTO {target} BY NAME SELECT * FROM batch RETURNING {ROW_ID}"  # noqa: S608
                )
                added = [rid for (rid,) in con.execute(sql).fetchall()]
            else:
                con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM batch").fetchall()  # noqa: S608
                added = list(owner)
            for rid in added:
                counts[owner[rid]] += 1
        return counts

    # --- reads ---

    def query(self, sql: str, params: Mapping[str, ParamValue] | None = None) -> pa.Table:
        # BigQuery names parameters `@name`, DuckDB `$name`; DuckDB keeps UTC as naive.
        values: dict[str, Any] = {}
        for name, value in (params or {}).items():
            param_type(name, value)
            values[name] = (
                value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else value
            )
        translated = _PARAM.sub(r"$\1", sql)

        def run(con: duckdb.DuckDBPyConnection) -> pa.Table:
            return con.sql(translated, params=values).to_arrow_table()

        return with_utc(self._run(run, "query"))

    # --- the optional capability: none here ---

    def exports_to(self, bucket_url: str) -> bool:
        return False

    def export_week(self, table: str, first: date, last: date, uri: str) -> int:
        raise NotSupportedError(
            f"the DuckDB warehouse writes no export files itself ({table} to {uri}): "
            "read the rows with `query` and write them through the Bucket port"
        )
