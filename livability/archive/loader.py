"""Load an archive of BigQuery JSON exports (`<week start>/<table>/*.gz`) into the warehouse:
`livability load-archive`, after survey.py has found what the archive holds.

Rows go through the same validation and idempotency keys as the event processor, so an
archive loaded twice adds nothing and a bad line lands in `dead_letter` with its reason.

Nothing in a file stops the load: each line is read as bytes and decoded on its own
(format.py), so an undecodable byte costs one line (dead-lettered as base64) and a damaged
gzip costs only what comes after the damage (every line before it loads; the damage is a
dead letter that names the line and byte where reading stopped). A folder the survey
refused is a dead letter too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livability.archive.format import Damage, Source, read_lines
from livability.archive.survey import ArchiveFile, Problem, Survey, relative
from livability.ingest.rows import IngestResult, Rejection, dead_letter, ingest_rows, payload_text
from livability.ports import Warehouse
from schemas import registry

BATCH_ROWS = 5000


@dataclass
class Report:
    totals: dict[str, IngestResult] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return any(p.damage for p in self.problems)


def load_archive(
    warehouse: Warehouse,
    found: Survey,
    *,
    root: Path,
    on_rows: Callable[[int], None] = lambda _: None,
) -> Report:
    """Ingest every file in batches; every line loads or is dead-lettered, damage reported."""
    report = Report(problems=list(found.problems))
    received_at = datetime.now(UTC)
    for problem in found.problems:
        if problem.damage:
            # A refused folder is a dead letter too, so an operator finds it in one place.
            dead = Rejection(str(problem), json.dumps({"folder": problem.where}), problem.table)
            dead_letter(warehouse, [dead], source=problem.where, received_at=received_at)
    for archive_file in found.files:
        loader = _FileLoader(warehouse, archive_file.table, relative(archive_file.path, root))
        loader.received_at = received_at
        loader.on_rows = on_rows
        damage = loader.run(archive_file.source)
        if damage is not None:
            report.problems.append(Problem(loader.source, damage, table=archive_file.table))
        name = archive_file.table
        report.totals[name] = report.totals.get(name, IngestResult()) + loader.total
    return report


class _FileLoader:
    """One export file into the warehouse, `BATCH_ROWS` lines at a time."""

    def __init__(self, warehouse: Warehouse, table: str, source: str) -> None:
        self.warehouse = warehouse
        self.table = registry()[table]
        self.source = source
        self.received_at = datetime.now(UTC)
        self.on_rows: Callable[[int], None] = lambda _: None
        self.total = IngestResult()
        self.rows: list[Any] = []
        self.numbers: list[int] = []
        self.bad: list[Rejection] = []

    def run(self, path: Source) -> str | None:
        """Load the file; returns the damage reason, if reading stopped early."""
        damage = None
        for item in read_lines(path):
            if isinstance(item, Damage):
                rejection = self._damage(item)
                self.bad.append(rejection)
                damage = rejection.reason.removeprefix(f"{self.source}: ")
                break
            if item.error is not None:
                where = f"{self.source} line {item.number}"
                self.bad.append(
                    Rejection(f"{where}: {item.error}", payload_text(item.text), self.table.name)
                )
            else:
                self.rows.append(item.row)
                self.numbers.append(item.number)
            if len(self.rows) + len(self.bad) >= BATCH_ROWS:
                self._flush()
        self._flush()
        return damage

    def _flush(self) -> None:
        lines, source = list(self.numbers), self.source
        dead_letter(self.warehouse, self.bad, source=source, received_at=self.received_at)
        result = ingest_rows(
            self.warehouse,
            self.table,
            self.rows,
            source=source,
            received_at=self.received_at,
            batch=True,
            where=lambda index: f"{source} line {lines[index]}",
        )
        self.total = self.total + result + IngestResult(rejected=len(self.bad))
        self.on_rows(len(self.rows) + len(self.bad))
        self.rows, self.numbers, self.bad = [], [], []

    def _damage(self, damage: Damage) -> Rejection:
        if damage.tail:
            place = f"in line {damage.lines + 1}"
            kept = (
                f"; the {len(damage.tail)} bytes of line {damage.lines + 1} read before the "
                "damage are the payload"
            )
        else:
            place, kept = f"after line {damage.lines}", ""
        reason = (
            f"{self.source}: {damage.reason}, at compressed byte {damage.offset}: reading "
            f"stopped {place}; the {damage.lines} line(s) before it were read{kept}"
        )
        return Rejection(reason, payload_text(damage.tail), self.table.name)


def load(
    warehouse: Warehouse,
    files: list[ArchiveFile],
    *,
    root: Path,
    on_rows: Callable[[int], None] = lambda _: None,
) -> dict[str, IngestResult]:
    """Ingest `files`; returns totals per table (see `load_archive` for the damage report)."""
    return load_archive(warehouse, Survey(files), root=root, on_rows=on_rows).totals
