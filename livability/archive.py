"""Load an archive of BigQuery JSON exports (`<week start>/<table>/*.gz`) into the warehouse.

Rows go through the same validation and idempotency keys as the event processor, so an
archive loaded twice adds nothing and a bad line lands in `dead_letter` with its reason.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livability.ingest import IngestResult, ingest_rows
from livability.ports import Warehouse
from schemas import registry

BATCH_ROWS = 5000
_WEEK = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ArchiveError(ValueError):
    """The archive folder is missing, unreadable or not laid out as expected."""


@dataclass(frozen=True)
class ArchiveFile:
    table: str
    path: Path


def find_files(root: Path) -> list[ArchiveFile]:
    """Every export file under `root`, which is an archive or one `<week start>` folder."""
    if not root.is_dir():
        raise ArchiveError(f"{root}: not a directory")
    weeks = (
        [root]
        if _WEEK.match(root.name)
        else sorted(d for d in root.iterdir() if d.is_dir() and _WEEK.match(d.name))
    )
    tables = registry()
    files: list[ArchiveFile] = []
    for week in weeks:
        for table_dir in sorted(d for d in week.iterdir() if d.is_dir()):
            if table_dir.name not in tables:
                raise ArchiveError(
                    f"{table_dir}: {table_dir.name!r} is not a table defined in schemas/"
                )
            files += [ArchiveFile(table_dir.name, p) for p in sorted(table_dir.glob("*.gz"))]
    if not files:
        raise ArchiveError(f"{root}: no <week start>/<table>/*.gz export files found")
    return files


def read_rows(path: Path) -> Iterator[Any]:
    """The objects of one gzipped NDJSON export; a line that is not JSON stays a payload."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield line.rstrip("\n")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        raise ArchiveError(f"{path}: cannot read ({err})") from err


def chunks(rows: Iterator[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    """`rows` in lists of `size`, each with the index of its first row."""
    first, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield first, batch
            first, batch = first + size, []
    if batch:
        yield first, batch


def load(
    warehouse: Warehouse,
    files: list[ArchiveFile],
    *,
    root: Path,
    on_rows: Callable[[int], None] = lambda _: None,
) -> dict[str, IngestResult]:
    """Ingest every file in batches; returns totals per table."""
    totals: dict[str, IngestResult] = {}
    received_at = datetime.now(UTC)
    for archive_file in files:
        table = registry()[archive_file.table]
        path = archive_file.path
        source = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        for first, batch in chunks(read_rows(path), BATCH_ROWS):
            result = ingest_rows(
                warehouse,
                table,
                batch,
                source=source,
                received_at=received_at,
                first=first,
                batch=True,
            )
            totals[table.name] = totals.get(table.name, IngestResult()) + result
            on_rows(len(batch))
    return totals
