"""Archive and export benchmark, on the real week (../shared/data), against named baselines
measured in the same run on the same rows. Ratios, never absolute claims; no assertion.

1. archive: `archive_week` (query the `_dedup` views, BigQuery-format JSON lines, gzip, put,
   manifest, read-back verification) into a local archive folder, against DuckDB's own
   `COPY (SELECT ...) TO '….json.gz' (FORMAT JSON, COMPRESSION GZIP)` of the same rows.
2. export from the archive (the week expired from the warehouse): `export` to parquet
   (every line validated, typed and keyed as ingest does, de-duplicated), against a plain
   read of the same files by DuckDB's `read_json` (no checks, no keys).
3. export from the warehouse (a recent week): `export` to parquet, against DuckDB's
   `COPY (SELECT ...) TO '….parquet'`.
Each case runs REPEAT times; the best time of each counts.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.archive import export, writer
from livability.archive.loader import load_archive
from livability.archive.survey import survey
from schemas import registry

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "archive"
WEEK = date(2024, 12, 1)
LAST = date(2024, 12, 7)
TABLES = ("sensor_thermo_beacon", "weather_data")
REPEAT = 7


def best(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


# (case, our best seconds, baseline, the baseline's best seconds)
Case = tuple[str, float, str, float]


def archive_case(folder: Path, path: Path, bucket: LocalBucket) -> tuple[int, Case]:
    """Load the real week into a fresh warehouse at `path`, then time archiving it."""
    warehouse = DuckDBWarehouse(path, registry(), "sensor_data")
    warehouse.init()
    load_archive(warehouse, survey(ARCHIVE), root=ARCHIVE)
    rows = writer.archive_week(warehouse, bucket, WEEK, force=True).rows

    def ours_archive() -> None:
        writer.archive_week(warehouse, bucket, WEEK, force=True)

    def copy_archive() -> None:
        con = duckdb.connect(str(path), read_only=True)
        for table in TABLES:
            out = folder / f"copy-{table}.json.gz"
            con.execute(
                f"COPY (SELECT * FROM sensor_data.{table}_dedup WHERE day BETWEEN "
                f"'{WEEK}' AND '{LAST}') TO '{out}' (FORMAT JSON, COMPRESSION GZIP)"
            )
        con.close()

    ours = best(ours_archive)
    warehouse.close()  # DuckDB's COPY opens the file itself
    case = "archive (query, JSON, gzip, put, manifest, verify)"
    return rows, (case, ours, "DuckDB COPY … TO json.gz", best(copy_archive))


def export_cases(folder: Path, path: Path, bucket: LocalBucket) -> list[Case]:
    """Time `export` from the archive (an empty warehouse) and from the warehouse at `path`."""
    files = [str(folder / "archive" / WEEK.isoformat() / t / "000000000000.gz") for t in TABLES]
    empty = DuckDBWarehouse(folder / "empty.duckdb", registry(), "sensor_data")
    empty.init()

    def ours_export(source: DuckDBWarehouse) -> Callable[[], None]:
        def run() -> None:
            for table in TABLES:
                export.export(
                    table,
                    WEEK,
                    LAST,
                    folder / f"{table}.parquet",
                    fmt="parquet",
                    warehouse=source,
                    archive=bucket,
                )

        return run

    def plain_read() -> None:
        con = duckdb.connect()
        for name in files:
            con.sql(f"SELECT * FROM read_json('{name}')").to_arrow_table()
        con.close()

    def copy_parquet() -> None:
        con = duckdb.connect(str(path), read_only=True)
        for table in TABLES:
            con.execute(
                f"COPY (SELECT * FROM sensor_data.{table}_dedup WHERE day BETWEEN "
                f"'{WEEK}' AND '{LAST}') TO '{folder / table}-copy.parquet' (FORMAT PARQUET)"
            )
        con.close()

    export_archive = best(ours_export(empty))
    empty.close()
    export_base = best(plain_read)
    warehouse = DuckDBWarehouse(path, registry(), "sensor_data")
    export_warehouse = best(ours_export(warehouse))
    warehouse.close()
    return [
        (
            "export from the archive (validate, key, dedup) to parquet",
            export_archive,
            "DuckDB read_json of the files",
            export_base,
        ),
        (
            "export from the warehouse to parquet",
            export_warehouse,
            "DuckDB COPY … TO parquet",
            best(copy_parquet),
        ),
    ]


def main() -> None:
    console = Console(width=140)
    if not ARCHIVE.is_dir():
        console.print(f"archive benchmark skipped: the real week is not at {ARCHIVE}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "warehouse.duckdb"
        bucket = LocalBucket(folder / "archive")
        rows, archived = archive_case(folder, path, bucket)
        cases = [archived, *export_cases(folder, path, bucket)]
    table = Table(
        title=f"Archive and export, real week {WEEK} ({rows:,} rows, best of {REPEAT}), "
        f"{os.cpu_count()} cores"
    )
    for column in ("case", "ours rows/s", "baseline", "baseline rows/s", "ratio"):
        table.add_column(column, justify="left" if column in ("case", "baseline") else "right")
    for case, ours, baseline, base in cases:
        table.add_row(
            case, f"{rows / ours:,.0f}", baseline, f"{rows / base:,.0f}", f"{base / ours:.2f}x"
        )
    console.print(table)


if __name__ == "__main__":
    main()
