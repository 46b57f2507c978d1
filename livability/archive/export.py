"""Period access to a raw table: recent days from the warehouse, older ones from the archive.

    import livability.archive.export as export
    frame = export.scan("sensor_thermo_beacon", date(2024, 12, 1), date(2024, 12, 7))
    frame.filter(pl.col("home_id") == 1).collect()

One row per `row_id`, whichever source it comes from. The rule, per archived week: the
warehouse is read for the whole period (it returns nothing for expired partitions); an
archived week is read as well when the warehouse holds fewer rows for its days than it held
when the week was archived (the manifest's `source_rows`: its partitions expired, or the
warehouse was rebuilt), and a
week of the reference PoC's archive (no manifest) when any of its days is missing from the
warehouse. Both may hold a row: the warehouse's copy is kept. Archived lines go through the
contract's validation, so they come out typed as the warehouse's rows and with the same
`row_id`; a line the contract refuses is skipped and counted, as ingest would have
dead-lettered it.

`scan` is lazy: nothing is read until `collect()`, then one chunk of days at a time, with
the frame's column selection and filters applied to each chunk.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from livability.archive import ArchiveError
from livability.archive.format import MANIFEST, Damage, parse_week_name, read_lines, week_name
from livability.archive.manifest import ManifestError, read_manifest_if_any
from livability.ports import Bucket, Warehouse
from schemas import ROW_ID, Table, registry
from schemas.arrow import arrow_schema
from schemas.validation import RowError, to_json, validate_row

if TYPE_CHECKING:
    import polars.expr

    from livability.settings import Settings

CHUNK = timedelta(days=7)
# A week folder without a manifest (the reference PoC's) may hold days after its 7: the
# sample's sensor file runs to the 8th day.
LEGACY_SPAN = timedelta(days=13)
Format = Literal["parquet", "csv"]


class ExportError(ArchiveError):
    """An export that cannot run as asked (a one-line message naming the option)."""


def export_table(name: str) -> Table:
    tables = registry()
    if name not in tables or not tables[name].ingest:
        raw = ", ".join(t.name for t in tables.ingest_tables())
        raise ExportError(f"--table {name!r}: not a raw table; the archived tables are {raw}")
    return tables[name]


def check_period(start: date, end: date, table: Table) -> None:
    if end < start:
        raise ExportError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    low, high = table.ranges.get(str(table.partition), (date.min, date.max))
    if start < low or end > high:
        raise ExportError(
            f"the period {start.isoformat()}..{end.isoformat()} must lie within "
            f"{low.isoformat()}..{high.isoformat()}, the plausible range in schemas/tables.toml"
        )


@dataclass(frozen=True)
class ArchivedWeek:
    week: date
    last_day: date
    keys: tuple[str, ...]
    rows: int | None  # the raw rows the week held when archived; None without a manifest


def table_weeks(bucket: Bucket, table: Table) -> list[ArchivedWeek]:
    """The archive's weeks that hold `table`, with the files to read (the manifest's)."""
    by_week: dict[date, list[str]] = {}
    manifests: set[date] = set()
    for key in bucket.list():
        parts = key.split("/")
        week = parse_week_name(parts[0])
        if week is None:
            continue
        if len(parts) == 2 and parts[1] == MANIFEST:
            manifests.add(week)
        elif len(parts) == 3 and parts[1] == table.name and parts[2].endswith(".gz"):
            by_week.setdefault(week, []).append(key)
    found = []
    for week in sorted(set(by_week) | manifests):
        if week not in manifests:
            found.append(ArchivedWeek(week, week + LEGACY_SPAN, tuple(sorted(by_week[week])), None))
            continue
        try:
            manifest = read_manifest_if_any(bucket, week)
        except ManifestError as err:
            raise ArchiveError(f"{err}: run `livability archive --verify --week {week}`") from None
        entry = None if manifest is None else manifest.tables.get(table.name)
        if manifest is None or entry is None:
            continue
        keys = tuple(f"{week_name(week)}/{table.name}/{f.name}" for f in entry.files)
        found.append(ArchivedWeek(week, manifest.last_day, keys, entry.source_rows))
    return found


@dataclass
class ExportStats:
    rows: int = 0
    warehouse_rows: int = 0
    archive_rows: int = 0  # rows read from the archive and kept
    duplicates: int = 0  # rows both sources held, or an archive held twice
    skipped: int = 0  # archived lines the contract refuses
    skipped_reasons: list[str] = field(default_factory=list)  # the first few
    archived_weeks: list[date] = field(default_factory=list)  # weeks read from the archive
    seconds: float = 0.0


def _conform(result: pa.Table, schema: pa.Schema) -> pa.Table:
    """A warehouse's result with the contract's columns, in order, typed as the contract's."""
    columns = [
        result.column(f.name) if f.name in result.column_names else pa.nulls(len(result), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, names=schema.names).cast(schema)


class PeriodReader:
    """Reads `table` for `start..end` in chunks of days, from both sources, one row per id."""

    def __init__(
        self,
        table: Table,
        start: date,
        end: date,
        warehouse: Warehouse,
        archive: Bucket | None,
        *,
        chunk: timedelta = CHUNK,
    ) -> None:
        check_period(start, end, table)
        self.table, self.start, self.end = table, start, end
        self.warehouse, self.archive, self.chunk = warehouse, archive, chunk
        self.schema = arrow_schema(table)
        self.stats = ExportStats()
        self._day_rows: dict[date, int] = {}
        self._weeks: list[ArchivedWeek] = []
        self._cache: dict[date, pa.Table] = {}

    @property
    def partition(self) -> str:
        return str(self.table.partition)

    def chunks(self) -> list[tuple[date, date]]:
        out, first = [], self.start
        while first <= self.end:
            last = min(first + self.chunk - timedelta(days=1), self.end)
            out.append((first, last))
            first = last + timedelta(days=1)
        return out

    def plan(self) -> None:
        """Which archived weeks to read: those the warehouse no longer holds in full."""
        weeks = [] if self.archive is None else table_weeks(self.archive, self.table)
        weeks = [w for w in weeks if w.week <= self.end and w.last_day >= self.start]
        low = min([self.start, *(w.week for w in weeks)])
        high = max([self.end, *(w.last_day for w in weeks)])
        sql = (
            f"SELECT {self.partition} AS d, COUNT(*) AS n FROM "  # noqa: S608 - names from schemas/
            f"{self.warehouse.dataset}.{self.table.name} WHERE {self.partition} BETWEEN @low "
            f"AND @high GROUP BY {self.partition}"
        )
        counts = self.warehouse.query(sql, {"low": low, "high": high}).to_pylist()
        self._day_rows = {row["d"]: int(row["n"]) for row in counts}
        for week in weeks:
            span = (week.last_day - week.week).days + 1
            days = [week.week + timedelta(days=n) for n in range(span)]
            held = sum(self._day_rows.get(d, 0) for d in days)
            if week.rows is not None:
                needed = held < week.rows
            else:
                needed = any(self._day_rows.get(d, 0) == 0 for d in days[:7])
            if needed:
                self._weeks.append(week)
        self.stats.archived_weeks = [w.week for w in self._weeks]

    def frames(self, on_chunk: Callable[[int], None] = lambda _: None) -> Iterator[pl.DataFrame]:
        """One de-duplicated, sorted frame per chunk of days."""
        self.plan()
        for first, last in self.chunks():
            frame = self._chunk(first, last)
            self.stats.rows += frame.height
            on_chunk(frame.height)
            yield frame

    def _chunk(self, first: date, last: date) -> pl.DataFrame:
        parts = []
        held = sum(
            self._day_rows.get(first + timedelta(days=n), 0) for n in range((last - first).days + 1)
        )
        if held:
            sql = (
                f"SELECT * FROM {self.warehouse.dataset}.{self.table.name}_dedup "  # noqa: S608
                f"WHERE {self.partition} BETWEEN @first AND @last"
            )
            rows = _conform(self.warehouse.query(sql, {"first": first, "last": last}), self.schema)
            rows = self._fill_ids(rows)
            self.stats.warehouse_rows += rows.num_rows
            parts.append(rows)
        from_archive = 0
        for week in self._weeks:
            if week.week > last or week.last_day < first:
                continue
            stored = self._read_week(week)
            days = pc.field(self.partition)
            kept = stored.filter((days >= first) & (days <= last))
            from_archive += kept.num_rows
            parts.append(kept)
        for done in [w for w in self._cache if self._week(w).last_day < last]:
            del self._cache[done]  # no later chunk needs it
        if not parts:
            return pl.from_arrow(self.schema.empty_table())  # type: ignore[return-value]
        frame = pl.from_arrow(pa.concat_tables(parts))
        assert isinstance(frame, pl.DataFrame)
        unique = frame.unique(subset=ROW_ID, keep="first", maintain_order=True)
        self.stats.duplicates += frame.height - unique.height
        self.stats.archive_rows += from_archive - (frame.height - unique.height)
        return unique.sort([self.partition, "timestamp", ROW_ID])

    def _week(self, week: date) -> ArchivedWeek:
        return next(w for w in self._weeks if w.week == week)

    def _fill_ids(self, rows: pa.Table) -> pa.Table:
        """Rows stored before `row_id` existed get theirs, computed from the content."""
        ids = rows.column(ROW_ID)
        if ids.null_count == 0:
            return rows
        filled = [
            rid if rid is not None else validate_row(self.table, to_json(row))[ROW_ID]
            for rid, row in zip(ids.to_pylist(), rows.to_pylist(), strict=True)
        ]
        return rows.set_column(
            rows.schema.get_field_index(ROW_ID), ROW_ID, pa.array(filled, pa.string())
        )

    def _read_week(self, week: ArchivedWeek) -> pa.Table:
        cached = self._cache.get(week.week)
        if cached is not None:
            return cached
        assert self.archive is not None
        rows: list[dict[str, Any]] = []
        for key in week.keys:
            data = self.archive.get(key)
            for item in read_lines(_bytes_source(data)):
                if isinstance(item, Damage):
                    raise ArchiveError(
                        f"{self.archive.url}/{key}: {item.reason} after line {item.lines}; "
                        f"run `livability archive --verify --week {week.week}`"
                    )
                if item.error is not None:
                    self._skip(f"{key} line {item.number}: {item.error}")
                    continue
                try:
                    rows.append(validate_row(self.table, item.row))
                except RowError as err:
                    self._skip(f"{key} line {item.number}: {err}")
        table = pa.Table.from_pylist(rows, schema=self.schema)
        self._cache[week.week] = table
        return table

    def _skip(self, reason: str) -> None:
        self.stats.skipped += 1
        if len(self.stats.skipped_reasons) < 5:
            self.stats.skipped_reasons.append(reason)


def _bytes_source(data: bytes) -> Callable[[], Any]:
    return lambda: io.BytesIO(data)


def polars_schema(table: Table) -> pl.Schema:
    frame = pl.from_arrow(arrow_schema(table).empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.schema


def scan(
    table: str,
    start: date,
    end: date,
    settings: Settings | None = None,
    *,
    warehouse: Warehouse | None = None,
    archive: Bucket | None = None,
) -> pl.LazyFrame:
    """`table`'s rows with `start <= day <= end` as a polars LazyFrame, for notebooks.

    The warehouse and the archive come from `settings` (default: `Settings.from_env()`,
    i.e. LIVABILITY_WAREHOUSE and LIVABILITY_ARCHIVE), opened when the frame is collected
    and closed after; or pass them open.
    """
    spec = export_table(table)
    check_period(start, end, spec)

    def source(
        with_columns: list[str] | None,
        predicate: polars.expr.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        from livability.settings import Settings

        opened = settings or Settings.from_env()
        own_warehouse = warehouse or opened.open_warehouse()
        own_archive = archive or opened.open_archive()
        left = n_rows
        try:
            reader = PeriodReader(spec, start, end, own_warehouse, own_archive)
            for chunk in reader.frames():
                frame = chunk if predicate is None else chunk.filter(predicate)
                if with_columns is not None:
                    frame = frame.select(with_columns)
                if left is not None:
                    frame = frame.head(left)
                    left -= frame.height
                yield frame
                if left is not None and left <= 0:
                    return
        finally:
            if warehouse is None:
                own_warehouse.close()
            if archive is None:
                own_archive.close()

    from polars.io.plugins import register_io_source

    return register_io_source(source, schema=polars_schema(spec))


def flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as top-level ones named `parent.child` (for CSV)."""
    while any(isinstance(dtype, pl.Struct) for dtype in frame.dtypes):
        columns = []
        for name, dtype in frame.schema.items():
            if isinstance(dtype, pl.Struct):
                columns += [
                    pl.col(name).struct.field(f.name).alias(f"{name}.{f.name}")
                    for f in dtype.fields
                ]
            else:
                columns.append(pl.col(name))
        frame = frame.select(columns)
    return frame


# CSV: timestamps in UTC with `Z`, all six fraction digits; dates ISO.
CSV_DATETIME = "%Y-%m-%dT%H:%M:%S%.6fZ"


def export(
    table: str,
    start: date,
    end: date,
    out: Path | IO[bytes],
    *,
    fmt: Format,
    warehouse: Warehouse,
    archive: Bucket | None,
    on_chunk: Callable[[int], None] = lambda _: None,
    chunks: Callable[[int], None] = lambda _: None,
) -> ExportStats:
    """Write the period to `out` (parquet, nested; or CSV, flattened) one chunk at a time.

    To a path, the file appears whole or not at all: it is written beside `out` and renamed.
    To a stream (the CLI's checked `--out`, livability/cli/outfile.py), as it comes.
    `chunks` is told how many chunks there are, `on_chunk` the rows of each one done.
    """
    spec = export_table(table)
    reader = PeriodReader(spec, start, end, warehouse, archive)
    began = time.perf_counter()
    chunks(len(reader.chunks()))
    if not isinstance(out, Path):
        _write(reader, out, fmt, on_chunk)
        reader.stats.seconds = time.perf_counter() - began
        return reader.stats
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as sink:
            _write(reader, sink, fmt, on_chunk)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    reader.stats.seconds = time.perf_counter() - began
    return reader.stats


def _write(
    reader: PeriodReader, sink: IO[bytes], fmt: Format, on_chunk: Callable[[int], None]
) -> None:
    import pyarrow.parquet as pq

    if fmt == "parquet":
        with pq.ParquetWriter(sink, reader.schema, compression="zstd") as writer:
            for frame in reader.frames(on_chunk):
                writer.write_table(_conform(frame.to_arrow(), reader.schema))
    else:
        header = True
        for frame in reader.frames(on_chunk):
            flatten(frame).write_csv(sink, include_header=header, datetime_format=CSV_DATETIME)
            header = False
