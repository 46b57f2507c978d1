"""The weekly archive of the raw (ingest) tables, its manifest and its verification.

Layout, in the archive bucket (`LIVABILITY_ARCHIVE`), as the reference PoC's COLDLINE bucket
and `../shared/data` lay it out:

    <week start>/<table>/000000000000.gz   BigQuery JSON export: NDJSON, gzip
    <week start>/manifest.json              rows, files and checksums per table (written last)
    <week start>/verified.json              the outcome of the last verification

A week is the 7 days from its start (`day BETWEEN start AND start + 6`); the scheduled job
archives Monday weeks. The rows are those of the `<table>_dedup` views: one per `row_id`.

Two writers, one layout:
- **query and upload** (any warehouse, any bucket; the embedded default): the week is read
  through the Warehouse port, written in BigQuery's export format by `export_line` (INTEGER
  as a string, TIMESTAMP with `+00:00`, GEOGRAPHY as WKT, NULL omitted), gzipped
  deterministically and put through the Bucket port.
- **EXPORT DATA** (BigQuery warehouse and a gs:// archive): BigQuery writes the files itself;
  the files are then read back through the Bucket port for the manifest.

Idempotent: a rerun overwrites the week's objects under the same names and writes the
manifest last; before it rewrites anything it marks the week unverified, so a crash mid-way
leaves a week that the next run archives again, never one that passes for verified. A week
whose warehouse partitions hold fewer rows than its archive (expired or deleted) is never
rewritten: the archive is kept. The manifest is authoritative: readers take only the files
it lists, so a file an earlier run left behind (the port has no delete) is ignored.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from livability.ports import BackendError, Bucket, ObjectNotFoundError, Warehouse, WarehouseError
from livability.weeks import WEEK, last_complete_week, last_day, monday
from schemas import ROW_ID, Field, Table, registry

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

FORMAT = "livability-archive/1"
MANIFEST = "manifest.json"
VERIFIED = "verified.json"
SHARD_ROWS = 200_000  # rows per file of the query-and-upload writer
# The infra sets a 365-day partition expiry on the raw tables; a week whose first day
# expires within EXPIRY_WARNING must have a verified archive, or the job alerts.
RETENTION = timedelta(days=365)
EXPIRY_WARNING = timedelta(days=35)
LATE_WEEKS = 1  # complete weeks before the last one re-checked each run, for late rows
_WEEK_NAME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SHARD_NAME = re.compile(r"^[0-9]{12}\.gz$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ArchiveError(ValueError):
    """The archive cannot be written or read as asked (a one-line message)."""


class ManifestError(ArchiveError):
    """A manifest that is not one this code wrote."""


def archived_tables() -> tuple[Table, ...]:
    """The raw tables: those devices and pollers publish to (`ingest = true`)."""
    return registry().ingest_tables()


def week_name(week: date) -> str:
    return week.isoformat()


def parse_week_name(name: str) -> date | None:
    """The week of a `<week start>` folder name, or None if it is not a date."""
    if not _WEEK_NAME.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


# --- the BigQuery JSON export format ---


def _timestamp_text(value: datetime) -> str:
    """`2024-12-01T00:07:53.216+00:00`: as BigQuery exports a TIMESTAMP (0-6 fraction digits)."""
    value = value.astimezone(UTC) if value.tzinfo else value
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "+00:00"


def _float_value(value: float) -> float | int:
    # BigQuery writes an integral FLOAT without a fraction (`"humidity":93`); the JSON
    # number reads back as the same float.
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _export_value(f: Field, value: Any) -> Any:
    if f.type == "RECORD":
        return _export_record(f.fields, value)
    if f.type == "INTEGER":
        return str(int(value))
    if f.type == "FLOAT":
        return _float_value(float(value))
    if f.type == "TIMESTAMP":
        return _timestamp_text(value)
    if f.type == "DATE":
        return value.isoformat()
    return value  # STRING, GEOGRAPHY (WKT), BOOLEAN


def _export_record(fields: Iterable[Field], row: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: _export_value(f, row[f.name]) for f in fields if row.get(f.name) is not None}


def export_line(table: Table, row: Mapping[str, Any]) -> bytes:
    """One row as a line of BigQuery's JSON export: columns in schema order, NULLs omitted."""
    text = json.dumps(_export_record(table.fields, row), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no name, mtime 0): the same rows give the same bytes and checksum."""
    return gzip.compress(data, compresslevel=6, mtime=0)


# --- the manifest ---


@dataclass(frozen=True)
class FileEntry:
    name: str  # under <week>/<table>/
    bytes: int
    rows: int
    sha256: str


@dataclass(frozen=True)
class TableEntry:
    schema_version: int
    rows: int  # rows exported (one per row_id)
    source_rows: int  # rows the raw table held for the week when it was exported
    files: tuple[FileEntry, ...]
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    week_start: date
    last_day: date
    created_at: datetime
    writer: str  # "query-upload" or "bigquery-export-data"
    source: str  # the warehouse URL (no credentials in it)
    tables: Mapping[str, TableEntry]

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "week_start": self.week_start.isoformat(),
            "last_day": self.last_day.isoformat(),
            "created_at": self.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "writer": self.writer,
            "source": self.source,
            "tables": {
                name: {
                    "schema_version": entry.schema_version,
                    "columns": list(entry.columns),
                    "rows": entry.rows,
                    "source_rows": entry.source_rows,
                    "files": [
                        {"name": f.name, "bytes": f.bytes, "rows": f.rows, "sha256": f.sha256}
                        for f in entry.files
                    ],
                }
                for name, entry in sorted(self.tables.items())
            },
        }
        return (json.dumps(body, indent=2) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes, where: str) -> Manifest:
        """A manifest from its bytes; `ManifestError` naming the field at fault."""
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise ManifestError(f"{where}: not a JSON manifest ({err})") from None
        try:
            _check_format(raw)
            tables = {}
            for name, entry in _dict(raw, "tables").items():
                files = tuple(
                    FileEntry(
                        _shard(f.get("name"), f"tables.{name}.files.name"),
                        _count(f.get("bytes"), f"tables.{name}.files.bytes"),
                        _count(f.get("rows"), f"tables.{name}.files.rows"),
                        _checksum(f.get("sha256"), f"tables.{name}.files.sha256"),
                    )
                    for f in _list(entry, "files", name)
                )
                tables[str(name)] = TableEntry(
                    schema_version=_count(entry.get("schema_version"), f"{name}.schema_version"),
                    rows=_count(entry.get("rows"), f"tables.{name}.rows"),
                    source_rows=_count(entry.get("source_rows"), f"tables.{name}.source_rows"),
                    files=files,
                    columns=tuple(str(c) for c in entry.get("columns") or ()),
                )
            return cls(
                week_start=date.fromisoformat(str(raw["week_start"])),
                last_day=date.fromisoformat(str(raw["last_day"])),
                created_at=datetime.fromisoformat(str(raw["created_at"]).replace("Z", "+00:00")),
                writer=str(raw.get("writer", "")),
                source=str(raw.get("source", "")),
                tables=tables,
            )
        except ManifestError as err:
            raise ManifestError(f"{where}: {err}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ManifestError(f"{where}: missing or malformed field ({err})") from None


def _check_format(raw: Any) -> None:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ManifestError(f"format is not {FORMAT!r}")


def _dict(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ManifestError(f"{key}: expected an object, got {type(value).__name__}")
    return value


def _list(raw: Any, key: str, table: str) -> list[Mapping[str, Any]]:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ManifestError(f"tables.{table}.{key}: expected a list of objects")
    return value


def _count(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ManifestError(f"{where}: {value!r} is not a count")
    return value


def _shard(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SHARD_NAME.match(value):
        raise ManifestError(f"{where}: {value!r} is not a file name like 000000000000.gz")
    return value


def _checksum(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ManifestError(f"{where}: {value!r} is not a SHA-256 in hex")
    return value


def read_manifest(bucket: Bucket, week: date) -> Manifest | None:
    """The week's manifest, None if it has none; `ManifestError` if it is damaged."""
    key = f"{week_name(week)}/{MANIFEST}"
    try:
        data = bucket.get(key)
    except ObjectNotFoundError:
        return None
    return Manifest.parse(data, f"{bucket.url}/{key}")


def _verified_record(bucket: Bucket, week: date) -> Mapping[str, Any] | None:
    try:
        raw = json.loads(bucket.get(f"{week_name(week)}/{VERIFIED}"))
    except ObjectNotFoundError:
        return None
    except ValueError:
        return None  # damaged: as good as unverified
    return raw if isinstance(raw, dict) else None


def is_verified(bucket: Bucket, week: date, manifest: Manifest | None = None) -> bool:
    """Whether the last verification passed, for the manifest the week holds now."""
    manifest = manifest or read_manifest(bucket, week)
    record = _verified_record(bucket, week)
    return (
        manifest is not None
        and record is not None
        and record.get("verified") is True
        and record.get("manifest_sha256") == hashlib.sha256(manifest.to_json()).hexdigest()
    )


# --- verification ---


@dataclass
class Verification:
    week: date
    ok: bool
    tables: dict[str, int] = field(default_factory=dict)  # rows found per table
    problems: list[str] = field(default_factory=list)  # why not ok
    notes: list[str] = field(default_factory=list)  # harmless: stray files


def count_lines(data: bytes) -> int:
    """Rows of one gzipped NDJSON file; `zlib.error`/`EOFError` if the gzip is damaged."""
    lines, pending = 0, b""
    decompressor = zlib.decompressobj(31)
    view = io.BytesIO(data)
    while chunk := view.read(1 << 20):
        out = decompressor.decompress(chunk)
        while decompressor.eof and decompressor.unused_data:
            rest = decompressor.unused_data
            decompressor = zlib.decompressobj(31)
            out += decompressor.decompress(rest)
        lines += out.count(b"\n")
        if out:
            pending = out[-1:]
    if not decompressor.eof:
        raise EOFError("the gzip stream ends before its end marker")
    return lines + (1 if pending not in (b"", b"\n") else 0)


def verify_week(bucket: Bucket, week: date, *, record: bool = True) -> Verification:
    """Check every file of the week against its manifest: present, same bytes, same rows.

    With `record`, the outcome is written to `<week>/verified.json`, which the expiry gate
    reads. Reads every byte of the week (a COLDLINE retrieval); done once per archive run.
    """
    result = Verification(week, ok=False)
    try:
        manifest = read_manifest(bucket, week)
    except ManifestError as err:
        result.problems.append(str(err))
        manifest = None
    if manifest is None:
        if not result.problems:
            result.problems.append(f"{bucket.url}/{week_name(week)}: no {MANIFEST}")
        return result  # nothing recorded: no week folder appears for a week never archived
    prefix = week_name(week)
    present = set(bucket.list(f"{prefix}/"))
    for name, entry in sorted(manifest.tables.items()):
        found = 0
        listed = set()
        for f in entry.files:
            key = f"{prefix}/{name}/{f.name}"
            listed.add(key)
            if key not in present:
                result.problems.append(f"{key}: listed in the manifest but missing")
                continue
            data = bucket.get(key)
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != f.bytes or digest != f.sha256:
                result.problems.append(
                    f"{key}: {len(data)} bytes with SHA-256 {digest[:12]}…, the manifest says "
                    f"{f.bytes} bytes with {f.sha256[:12]}…"
                )
                continue
            try:
                rows = count_lines(data)
            except (zlib.error, EOFError) as err:
                result.problems.append(f"{key}: damaged gzip ({err})")
                continue
            if rows != f.rows:
                result.problems.append(f"{key}: {rows} rows, the manifest says {f.rows}")
            found += rows
        if sum(f.rows for f in entry.files) != entry.rows:
            result.problems.append(
                f"{prefix}/{name}: the manifest's files hold {sum(f.rows for f in entry.files)} "
                f"rows but its total says {entry.rows}"
            )
        result.tables[name] = found
        stray = sorted(k for k in present if k.startswith(f"{prefix}/{name}/") and k not in listed)
        result.notes += [f"{k}: not in the manifest (an earlier run's): ignored" for k in stray]
    result.ok = not result.problems
    if record:
        _record(bucket, week, manifest, result)
    return result


def _record(bucket: Bucket, week: date, manifest: Manifest, result: Verification) -> None:
    body = {
        "verified": result.ok,
        "verified_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "manifest_sha256": hashlib.sha256(manifest.to_json()).hexdigest(),
        "tables": result.tables,
        "problems": result.problems,
    }
    bucket.put(
        f"{week_name(week)}/{VERIFIED}",
        (json.dumps(body, indent=2) + "\n").encode(),
        "application/json",
    )


def _invalidate(bucket: Bucket, week: date, why: str) -> None:
    body = {"verified": False, "manifest_sha256": None, "problems": [why]}
    bucket.put(f"{week_name(week)}/{VERIFIED}", json.dumps(body).encode(), "application/json")


# --- archiving a week ---


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


def _is_bigquery(warehouse: Warehouse) -> bool:
    module = sys.modules.get("livability.adapters.bigquery")
    return module is not None and isinstance(warehouse, module.BigQueryWarehouse)


def choose_writer(warehouse: Warehouse, bucket: Bucket) -> str:
    """EXPORT DATA where BigQuery can write the bucket itself, else query and upload."""
    if _is_bigquery(warehouse) and bucket.url.startswith("gs://"):
        return "bigquery-export-data"
    return "query-upload"


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
        previous = read_manifest(bucket, week)
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
        _invalidate(bucket, week, "being rewritten")
    entries: dict[str, TableEntry] = {}
    for table in tables:
        if outcome.writer == "bigquery-export-data":
            entry = _export_data(warehouse, bucket, table, week, counts[table.name])
        else:
            entry = _query_upload(
                warehouse, bucket, table, week, counts[table.name], on_rows=on_rows
            )
        entries[table.name] = entry
        if outcome.writer == "bigquery-export-data":
            on_rows(entry.rows)
    manifest = Manifest(
        week_start=week,
        last_day=last_day(week),
        created_at=datetime.now(UTC),
        writer=outcome.writer,
        source=source,
        tables=entries,
    )
    bucket.put(f"{week_name(week)}/{MANIFEST}", manifest.to_json(), "application/json")
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
        name = f"{index:012d}.gz"
        bucket.put(f"{week_name(week)}/{table.name}/{name}", data, "application/gzip")
        files.append(FileEntry(name, len(data), rows, hashlib.sha256(data).hexdigest()))
        on_rows(rows)
    return TableEntry(
        schema_version=table.version,
        rows=result.num_rows,
        source_rows=count,
        files=tuple(files),
        columns=tuple(f.name for f in table.fields),
    )


def _export_data(
    warehouse: Warehouse, bucket: Bucket, table: Table, week: date, count: int
) -> TableEntry:
    """BigQuery EXPORT DATA into the archive bucket, then the files read back for checksums.

    The URI, dates and names are checked values (a gs:// URL the settings parsed, dates,
    names from schemas/), written into the statement as literals: EXPORT DATA takes no
    parameter in its OPTIONS.
    """
    from google.api_core import exceptions as google_exceptions
    from google.cloud import bigquery

    from livability.adapters.bigquery import BigQueryWarehouse

    assert isinstance(warehouse, BigQueryWarehouse)
    prefix = f"{week_name(week)}/{table.name}/"
    uri = f"{bucket.url}/{prefix}*.gz"
    if "'" in uri or "\\" in uri:
        raise ArchiveError(f"{uri}: not a URI EXPORT DATA can take")
    # Checked values only (see the docstring).
    sql = (
        f"EXPORT DATA OPTIONS(uri='{uri}', format='JSON', compression='GZIP', "  # noqa: S608
        f"overwrite=true) AS SELECT * FROM `{warehouse.project}.{warehouse.dataset}."
        f"{table.name}_dedup` WHERE {table.partition} BETWEEN DATE '{week.isoformat()}' "
        f"AND DATE '{last_day(week).isoformat()}'"
    )
    try:
        job = warehouse.client.query(
            sql,
            job_config=bigquery.QueryJobConfig(),
            retry=warehouse.retry,
            job_retry=None,
            timeout=warehouse.timeout,
        )
        job.result(retry=warehouse.retry, timeout=warehouse.timeout)
    except (google_exceptions.GoogleAPIError, OSError) as err:
        raise WarehouseError(f"EXPORT DATA of {table.name} to {uri} failed: {err}") from err
    stats = (job._properties.get("statistics") or {}).get("query") or {}
    exported = int((stats.get("exportDataStatistics") or {}).get("rowCount") or 0)
    files = []
    for key in bucket.list(prefix):
        name = key.removeprefix(prefix)
        if not _SHARD_NAME.match(name):
            continue
        data = bucket.get(key)
        files.append(
            FileEntry(name, len(data), count_lines(data), hashlib.sha256(data).hexdigest())
        )
    in_files = sum(f.rows for f in files)
    if in_files != exported:
        # Files of an earlier export that this one did not overwrite: keep only as many as
        # hold the rows BigQuery reports (it numbers its files from 000000000000).
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
    return TableEntry(
        schema_version=table.version,
        rows=exported,
        source_rows=count,
        files=tuple(files),
        columns=tuple(f.name for f in table.fields),
    )


# --- which weeks ---


def weeks_with_rows(warehouse: Warehouse, until: date) -> list[date]:
    """Monday weeks ending on or before `until` that hold rows in any raw table.

    Reads only the partition column (the whole plausible range: a backfill command, not
    the scheduled job).
    """
    days: set[date] = set()
    for table in archived_tables():
        low, high = table.ranges.get(str(table.partition), (date(2000, 1, 1), until))
        sql = (
            f"SELECT DISTINCT {table.partition} AS d FROM {warehouse.dataset}.{table.name} "  # noqa: S608
            f"WHERE {table.partition} BETWEEN @low AND @high"
        )
        result = warehouse.query(sql, {"low": low, "high": min(high, until)})
        days.update(d for d in result.column(0).to_pylist() if d is not None)
    return sorted({monday(d) for d in days if last_day(monday(d)) <= until})


def archived_weeks(bucket: Bucket) -> list[date]:
    """Week folders of the archive (with or without a manifest)."""
    weeks = set()
    for key in bucket.list():
        week = parse_week_name(key.split("/", 1)[0])
        if week is not None and "/" in key:
            weeks.add(week)
    return sorted(weeks)


@dataclass
class RunReport:
    """What the scheduled job did: the weeks it archived and the weeks at risk."""

    outcomes: list[WeekOutcome] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)  # an unverified week near expiry

    @property
    def ok(self) -> bool:
        return not self.at_risk and all(o.verified or o.action == "empty" for o in self.outcomes)


def weeks_near_expiry(today: date) -> list[date]:
    """Monday weeks whose first day's partition expires within EXPIRY_WARNING."""
    first = monday(today - RETENTION)
    weeks = []
    week = first
    while week - today + RETENTION <= EXPIRY_WARNING:
        if week + RETENTION > today:
            weeks.append(week)
        week += WEEK
    return weeks


def scheduled_run(
    warehouse: Warehouse, bucket: Bucket, today: date, *, source: str = ""
) -> RunReport:
    """The weekly job: archive the last complete week and the one before it (late rows),
    then gate expiry: every week whose partitions expire within EXPIRY_WARNING must have
    a verified archive; one that does not is archived now, and logged as an ERROR (the
    alert) if it still is not verified.
    """
    report = RunReport()
    latest = last_complete_week(today)
    weeks = [latest - WEEK * n for n in range(LATE_WEEKS, -1, -1)]
    for week in weeks:
        report.outcomes.append(archive_week(warehouse, bucket, week, source=source))
    for week in weeks_near_expiry(today):
        if week in weeks:
            continue
        manifest = read_manifest_or_none(bucket, week)
        if manifest is not None and is_verified(bucket, week, manifest):
            continue
        try:
            outcome = archive_week(warehouse, bucket, week, source=source)
        except (BackendError, ArchiveError) as err:
            # One failing week must not hide the others from the gate.
            outcome = WeekOutcome(week, "failed", problems=[str(err)])
        if outcome.action == "empty":
            continue  # nothing in the warehouse for that week: nothing to lose
        report.outcomes.append(outcome)
        if not outcome.verified:
            expires = week + RETENTION
            message = (
                f"week {week_name(week)}: its partitions expire from {expires.isoformat()} "
                f"and its archive is not verified: {'; '.join(outcome.problems) or 'unknown'}"
            )
            report.at_risk.append(message)
            log.error(
                "archive not verified before partition expiry",
                extra={"week": week_name(week), "expires": expires.isoformat(), "alert": True},
            )
    return report


def read_manifest_or_none(bucket: Bucket, week: date) -> Manifest | None:
    try:
        return read_manifest(bucket, week)
    except ManifestError:
        return None
