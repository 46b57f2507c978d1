"""Archiving a week of the raw (ingest) tables: its files, then its manifest, then a check.

A week is the 7 days from its start (`day BETWEEN start AND start + 6`); the scheduled job
(schedule.py) archives Monday weeks. The rows are those of the `<table>_dedup` views: one
per `row_id`. Files and names are format.py's; the manifest is manifest.py's.

Two writers, one layout, chosen by asking the warehouse (`Warehouse.exports_to`):
- **query and upload** (any warehouse, any bucket; the embedded default): the week is read
  through the Warehouse port, written in BigQuery's export format, gzipped deterministically
  and put through the Bucket port.
- **export** (a warehouse that can write the bucket itself: BigQuery into gs://, with
  EXPORT DATA): `Warehouse.export_week` writes the files; they are then read back through
  the Bucket port for the manifest.

Idempotent: a rerun overwrites the week's objects under the same names and writes the
manifest last; before it rewrites anything it marks the week unverified, so a crash mid-way
leaves a week that the next run archives again, never one that passes for verified. A week
whose warehouse partitions hold fewer rows than its archive (expired or deleted) is never
rewritten: the archive is kept. The manifest is authoritative: readers take only the files
it lists, so a file an earlier run left behind (the port has no delete) is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from livability.archive import ArchiveError
from livability.archive.format import (
    archived_tables,
    count_lines,
    export_line,
    gzip_bytes,
    is_shard_name,
    shard_name,
    week_name,
)
from livability.archive.manifest import (
    FileEntry,
    Manifest,
    ManifestError,
    TableEntry,
    read_manifest_if_any,
    write_manifest,
)
from livability.archive.verify import is_verified, mark_unverified, verify_week
from livability.ports import Bucket, Warehouse
from livability.weeks import last_day
from schemas import ROW_ID, Table

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

SHARD_ROWS = 200_000  # rows per file of the query-and-upload writer
QUERY_UPLOAD = "query-upload"


@dataclass
class WeekOutcome:
    week: date
    action: str  # "archived", "unchanged", "empty", "kept" (or "failed", in the expiry gate)
    tables: dict[str, int] = field(default_factory=dict)  # rows per table in the archive
    verified: bool = False
    writer: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _count_sql(warehouse: Warehouse, table: Table) -> str:
    return (
        f"SELECT COUNT(*) AS n FROM {warehouse.dataset}.{table.name} "  # noqa: S608 - names from schemas/
        f"WHERE {table.partition} BETWEEN @first AND @last"
    )


def source_rows(warehouse: Warehouse, table: Table, week: date) -> int:
    """Rows the raw table holds for the week (duplicates included): cheap on BigQuery,
    which reads only the partition column of the week's partitions."""
    result = warehouse.query(_count_sql(warehouse, table), {"first": week, "last": last_day(week)})
    return int(result.column(0)[0].as_py() or 0)


def week_rows_sql(warehouse: Warehouse, table: Table, *, order: bool = True) -> str:
    """The week's de-duplicated rows, every column."""
    sql = (
        f"SELECT * FROM {warehouse.dataset}.{table.name}_dedup "  # noqa: S608 - names from schemas/
        f"WHERE {table.partition} BETWEEN @first AND @last"
    )
    if order:
        sql += f" ORDER BY {table.partition}, timestamp, {ROW_ID}"
    return sql


def choose_writer(warehouse: Warehouse, bucket: Bucket) -> str:
    """The warehouse's own export where it can write the bucket itself, else query and upload.

    The name goes into the manifest: "bigquery-export-data" for BigQuery's EXPORT DATA.
    """
    if warehouse.exports_to(bucket.url):
        return f"{warehouse.dialect}-export-data"
    return QUERY_UPLOAD


def archive_week(
    warehouse: Warehouse,
    bucket: Bucket,
    week: date,
    *,
    source: str = "",
    force: bool = False,
    writer: str | None = None,
    on_rows: Callable[[int], None] = lambda _: None,
) -> WeekOutcome:
    """Archive the 7 days from `week`, then verify them; see the module docstring."""
    began = time.perf_counter()
    outcome = WeekOutcome(week, "archived")
    try:
        previous = read_manifest_if_any(bucket, week)
    except ManifestError as err:
        outcome.notes.append(f"{err}: rewritten")
        previous = None
    tables = archived_tables()
    counts = {t.name: source_rows(warehouse, t, week) for t in tables}
    if previous is not None:
        if _keep(bucket, week, previous, counts, outcome, force=force):
            outcome.seconds = time.perf_counter() - began
            return outcome
    elif not any(counts.values()):
        outcome.action = "empty"
        outcome.seconds = time.perf_counter() - began
        return outcome
    outcome.writer = writer or choose_writer(warehouse, bucket)
    if previous is not None:
        mark_unverified(bucket, week, "being rewritten")
    entries: dict[str, TableEntry] = {}
    for table in tables:
        if outcome.writer == QUERY_UPLOAD:
            entry = _query_upload(
                warehouse, bucket, table, week, counts[table.name], on_rows=on_rows
            )
        else:
            entry = _export(warehouse, bucket, table, week, counts[table.name])
            on_rows(entry.rows)
        entries[table.name] = entry
    manifest = Manifest(
        week_start=week,
        last_day=last_day(week),
        created_at=datetime.now(UTC),
        writer=outcome.writer,
        source=source,
        tables=entries,
    )
    write_manifest(bucket, manifest)
    check = verify_week(bucket, week)
    outcome.tables = {n: e.rows for n, e in entries.items()}
    outcome.verified, outcome.problems = check.ok, check.problems
    outcome.notes += check.notes
    outcome.seconds = time.perf_counter() - began
    log.info(
        "week archived",
        extra={
            "week": week_name(week),
            "tables": outcome.tables,
            "verified": outcome.verified,
            "writer": outcome.writer,
            "seconds": round(outcome.seconds, 3),
        },
    )
    return outcome


def _keep(
    bucket: Bucket,
    week: date,
    previous: Manifest,
    counts: Mapping[str, int],
    outcome: WeekOutcome,
    *,
    force: bool,
) -> bool:
    """Whether the week's archive stays as it is ("unchanged" or "kept", in `outcome`)."""
    shrunk = [
        f"{name}: the warehouse holds {counts.get(name, 0)} rows for the week, its archive "
        f"{entry.source_rows}"
        for name, entry in previous.tables.items()
        if counts.get(name, 0) < entry.source_rows
    ]
    if shrunk:
        # Partitions expired or deleted: rewriting would lose rows. The archive stays.
        outcome.action = "kept"
        outcome.notes += shrunk
    elif not force and all(
        name in previous.tables and previous.tables[name].source_rows == n
        for name, n in counts.items()
    ):
        outcome.action = "unchanged"
    else:
        return False
    outcome.tables = {n: e.rows for n, e in previous.tables.items()}
    outcome.verified = is_verified(bucket, week, previous)
    if not outcome.verified:
        check = verify_week(bucket, week)
        outcome.verified, outcome.problems = check.ok, check.problems
    if outcome.verified or outcome.action == "kept":
        return True
    # Damaged, but the warehouse still holds the whole week: write it again.
    outcome.notes += [f"{p}: rewritten" for p in outcome.problems]
    outcome.action, outcome.problems = "archived", []
    return False


def _shards(table: Table, rows: Iterator[Mapping[str, Any]]) -> Iterator[tuple[bytes, int]]:
    """Gzipped files of at most SHARD_ROWS lines each, with their line counts."""
    lines: list[bytes] = []
    for row in rows:
        lines.append(export_line(table, row))
        if len(lines) == SHARD_ROWS:
            yield gzip_bytes(b"".join(lines)), len(lines)
            lines = []
    if lines:
        yield gzip_bytes(b"".join(lines)), len(lines)


def _arrow_rows(result: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in result.to_batches(max_chunksize=10_000):
        yield from batch.to_pylist()


def _table_entry(table: Table, rows: int, count: int, files: list[FileEntry]) -> TableEntry:
    return TableEntry(
        schema_version=table.version,
        rows=rows,
        source_rows=count,
        files=tuple(files),
        columns=tuple(f.name for f in table.fields),
    )


def _query_upload(
    warehouse: Warehouse,
    bucket: Bucket,
    table: Table,
    week: date,
    count: int,
    *,
    on_rows: Callable[[int], None],
) -> TableEntry:
    result = warehouse.query(
        week_rows_sql(warehouse, table), {"first": week, "last": last_day(week)}
    )
    files = []
    for index, (data, rows) in enumerate(_shards(table, _arrow_rows(result))):
        name = shard_name(index)
        bucket.put(f"{week_name(week)}/{table.name}/{name}", data, "application/gzip")
        files.append(FileEntry(name, len(data), rows, hashlib.sha256(data).hexdigest()))
        on_rows(rows)
    return _table_entry(table, result.num_rows, count, files)


def _export(
    warehouse: Warehouse, bucket: Bucket, table: Table, week: date, count: int
) -> TableEntry:
    """The warehouse writes the week's files itself; they are read back for the checksums."""
    prefix = f"{week_name(week)}/{table.name}/"
    uri = f"{bucket.url}/{prefix}*.gz"
    try:
        exported = warehouse.export_week(table.name, week, last_day(week), uri)
    except ValueError as err:  # a URI the warehouse cannot take
        raise ArchiveError(str(err)) from None
    files = []
    for key in bucket.list(prefix):
        name = key.removeprefix(prefix)
        if not is_shard_name(name):
            continue
        data = bucket.get(key)
        files.append(
            FileEntry(name, len(data), count_lines(data), hashlib.sha256(data).hexdigest())
        )
    in_files = sum(f.rows for f in files)
    if in_files != exported:
        # Files of an earlier export that this one did not overwrite: keep only as many as
        # hold the rows the warehouse reports (it numbers its files from 000000000000).
        kept, total = [], 0
        for f in files:
            if total >= exported:
                break
            kept.append(f)
            total += f.rows
        if total != exported:
            raise ArchiveError(
                f"EXPORT DATA of {table.name} reported {exported} rows but {prefix} holds "
                f"{in_files}"
            )
        files = kept
    return _table_entry(table, exported, count, files)
