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

from livability.archive.format import MAX_LINE_BYTES, Damage, Source, Tally, read_lines
from livability.archive.manifest import FileEntry
from livability.archive.survey import ArchiveFile, Problem, Survey, relative
from livability.ingest.rows import IngestResult, Rejection, dead_letter, ingest_rows, payload_text
from livability.ports import Warehouse
from schemas import registry

# Bounds (issue 16 #2; the README's "Bounds" table). A batch is cut at either count, so the
# memory of a load does not grow with its files. Dead letters per file: past either cap the
# rest are counted, not stored one by one, and one summary record says how many.
BATCH_ROWS = 5000
BATCH_BYTES = 8 << 20
MAX_DEAD_LETTERS = 1000
MAX_DEAD_BYTES = 64 << 20


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
        for reason in loader.run(archive_file.source, archive_file.listed):
            report.problems.append(Problem(loader.source, reason, table=archive_file.table))
        name = archive_file.table
        report.totals[name] = report.totals.get(name, IngestResult()) + loader.total
    return report


class _FileLoader:
    """One export file into the warehouse, in batches of `BATCH_ROWS` lines or `BATCH_BYTES`."""

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
        self.size = 0  # bytes of the batch's lines
        self.dead = self.dead_bytes = self.over = 0  # dead letters kept, their bytes, past cap
        self.long: list[int] = []  # lines over the line cap

    def run(self, path: Source, listed: FileEntry | None = None) -> list[str]:
        """Load the file; returns why it failed (damage, a bound, the manifest), if it did."""
        problems, tally = [], Tally()
        for item in read_lines(path, tally):
            if isinstance(item, Damage):
                rejection = self._damage(item)
                self.bad.append(rejection)
                problems.append(rejection.reason.removeprefix(f"{self.source}: "))
                break
            if item.error is not None:
                where = f"{self.source} line {item.number}"
                self.bad.append(
                    Rejection(f"{where}: {item.error}", payload_text(item.text), self.table.name)
                )
                if item.bound:
                    self.long.append(item.number)
            else:
                self.rows.append(item.row)
                self.numbers.append(item.number)
            self.size += len(item.text)
            if len(self.rows) + len(self.bad) >= BATCH_ROWS or self.size >= BATCH_BYTES:
                self._flush()
        self._flush()
        return problems + self._bounds() + _mismatch(tally, listed)

    def _keep(self, rejections: list[Rejection]) -> list[Rejection]:
        """The rejections stored one by one, within the file's dead-letter caps."""
        kept = []
        for rejection in rejections:
            size = len(rejection.payload) + len(rejection.reason)
            if self.dead < MAX_DEAD_LETTERS and self.dead_bytes + size <= MAX_DEAD_BYTES:
                kept.append(rejection)
                self.dead, self.dead_bytes = self.dead + 1, self.dead_bytes + size
            else:
                self.over += 1
        return kept

    def _bounds(self) -> list[str]:
        """The bounds the file reached, as problems; past the dead-letter cap, one summary
        dead letter for the lines not stored one by one."""
        problems = []
        if self.long:
            problems.append(
                f"{len(self.long)} line(s) over the {MAX_LINE_BYTES >> 20} MiB line cap (first: "
                f"line {self.long[0]}), each a dead letter"
            )
        if self.over:
            reason = (
                f"{self.over} more line(s) refused past the dead-letter cap ({MAX_DEAD_LETTERS:,} "
                f"dead letters or {MAX_DEAD_BYTES >> 20} MiB per file): counted, not stored one "
                "by one; fix the file and load it again"
            )
            summary = json.dumps({"file": self.source, "refused_past_cap": self.over})
            dead = [Rejection(f"{self.source}: {reason}", summary, self.table.name)]
            dead_letter(self.warehouse, dead, source=self.source, received_at=self.received_at)
            problems.append(reason)
        return problems

    def _flush(self) -> None:
        lines, source = list(self.numbers), self.source
        bad = self._keep(self.bad)
        dead_letter(self.warehouse, bad, source=source, received_at=self.received_at)
        result = ingest_rows(
            self.warehouse,
            self.table,
            self.rows,
            source=source,
            received_at=self.received_at,
            batch=True,
            where=lambda index: f"{source} line {lines[index]}",
            keep=self._keep,
        )
        self.total = self.total + result + IngestResult(rejected=len(self.bad))
        self.on_rows(len(self.rows) + len(self.bad))
        self.rows, self.numbers, self.bad, self.size = [], [], [], 0

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


def _mismatch(tally: Tally, listed: FileEntry | None) -> list[str]:
    """How a file read to its end differs from its manifest entry (issue 16 #4), if it does."""
    if listed is None or not tally.complete:
        return []
    digest = tally.digest.hexdigest()
    if (tally.bytes, digest, tally.lines) == (listed.bytes, listed.sha256, listed.rows):
        return []
    return [
        f"{tally.bytes} bytes, SHA-256 {digest[:12]}…, {tally.lines} rows; the manifest says "
        f"{listed.bytes} bytes, {listed.sha256[:12]}…, {listed.rows} rows: not the file the "
        "manifest lists (its readable rows loaded)"
    ]
