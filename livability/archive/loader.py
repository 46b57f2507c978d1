"""Load an archive of BigQuery JSON exports (`<week start>/<table>/*.gz`) into the warehouse.

Rows go through the same validation and idempotency keys as the event processor, so an
archive loaded twice adds nothing and a bad line lands in `dead_letter` with its reason.

Nothing in a file stops the load: each line is read as bytes and decoded on its own, so
an undecodable byte costs one line (dead-lettered as base64) and a damaged gzip costs only
what comes after the damage (every line before it loads; the damage is a dead letter that
names the line and byte where reading stopped). Only ingest tables load, as through the
event processor: a folder for `dead_letter` or `livability_scores` is refused.

The archive may be a local folder or a bucket (`survey_bucket`: gs:// through the Bucket
port). A week written by `livability archive` has a `manifest.json`: only the files it lists
load, so a file an earlier run left behind is skipped with a note; a listed file that is
missing is damage. A week without one (the reference PoC's) loads every `.gz` file.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from livability.ingest.rows import IngestResult, Rejection, dead_letter, ingest_rows, payload_text
from livability.ports import Bucket, BucketError, Warehouse
from schemas import registry

if TYPE_CHECKING:
    from livability.settings import BucketURL

BATCH_ROWS = 5000
_WEEK = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Compressed bytes fed to zlib at a time; on damage the last chunk is replayed byte by byte,
# so every byte zlib can still decompress is kept.
_CHUNK = 64 * 1024
_GZIP = 31  # zlib wbits: a gzip header and trailer (CRC-32 and length checked)


class ArchiveError(ValueError):
    """The archive folder is missing, unreadable or not laid out as expected."""


# Files beside the table folders of a week, written by `livability archive`.
WEEK_FILES = ("manifest.json", "verified.json")

Source = Path | Callable[[], IO[bytes]]


@dataclass(frozen=True)
class ArchiveFile:
    table: str
    path: Path  # for a bucket object: its key, as a relative path
    opener: Callable[[], IO[bytes]] | None = None  # how to read a bucket object

    @property
    def source(self) -> Source:
        return self.opener or self.path


@dataclass(frozen=True)
class Problem:
    """Something in the archive that was not loaded: `damage` makes the load fail (exit 1)."""

    where: str
    reason: str
    damage: bool = True
    table: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Survey:
    files: list[ArchiveFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    manifests: dict[Path, Any] = field(default_factory=dict)  # week folder -> Manifest


@dataclass
class Report:
    totals: dict[str, IngestResult] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return any(p.damage for p in self.problems)


def _is_week(name: str) -> bool:
    if not _WEEK.match(name):
        return False
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True


def survey(root: Path) -> Survey:
    """The export files under `root` (an archive or one `<week start>` folder) that may load.

    Raises `ArchiveError` only when `root` is no folder; anything odd inside it is a
    problem of the survey, reported while the rest loads.
    """
    if not root.is_dir():
        raise ArchiveError(f"{root}: not a directory")
    found = Survey()
    try:
        for week in _weeks(root, found):
            for table_dir in sorted(week.iterdir()):
                _survey_table(table_dir, root, found)
    except OSError as err:
        raise ArchiveError(f"{root}: cannot list ({err.strerror or err})") from err
    return _filter(found, root)


def _weeks(root: Path, found: Survey) -> list[Path]:
    if _is_week(root.name):
        return [root]
    weeks = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and _is_week(entry.name):
            weeks.append(entry)
        elif entry.name.startswith(".tmp-"):
            continue  # an unfinished write of the local bucket
        else:
            reason = "not a <week start> folder (a YYYY-MM-DD date): skipped"
            found.problems.append(Problem(_rel(entry, root), reason, damage=False))
    return weeks


def _survey_table(table_dir: Path, root: Path, found: Survey) -> None:
    where, tables = _rel(table_dir, root), registry()
    if table_dir.name in WEEK_FILES and table_dir.is_file():
        _apply_manifest(table_dir, table_dir.read_bytes, where, found)
        return
    if not table_dir.is_dir():
        found.problems.append(Problem(where, "not a <table> folder: skipped", damage=False))
    elif table_dir.name not in tables:
        reason = f"{table_dir.name!r} is not a table defined in schemas/: not loaded"
        found.problems.append(Problem(where, reason, table=table_dir.name))
    elif not tables[table_dir.name].ingest:
        reason = (
            f"{table_dir.name!r} is not an ingest table: load-archive loads only the tables "
            "devices publish to, as the event processor does; not loaded"
        )
        found.problems.append(Problem(where, reason, table=table_dir.name))
    else:
        for path in sorted(table_dir.iterdir()):
            if path.name.startswith(".tmp-"):
                continue  # an unfinished write of the local bucket
            if path.is_file() and path.suffix == ".gz":
                found.files.append(ArchiveFile(table_dir.name, path))
            else:
                reason = "not a .gz export file: skipped"
                found.problems.append(Problem(_rel(path, root), reason, damage=False))


def _apply_manifest(path: Path, read: Callable[[], bytes], where: str, found: Survey) -> None:
    """Remember a week's manifest; `_filter` applies it once the week is surveyed."""
    if path.name != "manifest.json":
        return
    from livability.archive.writer import Manifest, ManifestError

    try:
        manifest = Manifest.parse(read(), where)
    except (ManifestError, OSError, BucketError) as err:
        found.problems.append(Problem(where, f"unreadable manifest, every .gz loads: {err}", False))
        return
    found.manifests[path.parent] = manifest


def _filter(found: Survey, root: Path) -> Survey:
    """Keep the files each week's manifest lists; note the others; report missing ones."""
    if not found.manifests:
        return found
    kept: list[ArchiveFile] = []
    listed: dict[Path, set[str]] = {}
    for week, manifest in found.manifests.items():
        for table, entry in manifest.tables.items():
            listed[week / table] = {f.name for f in entry.files}
    seen: set[Path] = set()
    for archive_file in found.files:
        folder, week = archive_file.path.parent, archive_file.path.parent.parent
        if week not in found.manifests:
            kept.append(archive_file)
        elif archive_file.path.name in listed.get(folder, set()):
            kept.append(archive_file)
            seen.add(archive_file.path)
        else:
            reason = "not in the week's manifest (left by an earlier run): skipped"
            found.problems.append(Problem(_rel(archive_file.path, root), reason, damage=False))
    for folder, names in listed.items():
        for name in sorted(names):
            if folder / name not in seen and folder.name in registry():
                reason = "listed in the week's manifest but missing"
                where = _rel(folder / name, root)
                found.problems.append(Problem(where, reason, table=folder.name))
    found.files = kept
    return found


def survey_bucket(bucket: Bucket, prefix: str = "") -> Survey:
    """`survey` for an archive in a bucket (local folder or gs://), under `prefix`.

    `prefix` is empty (the whole archive) or one `<week start>` folder. Raises
    `ArchiveError` if the bucket cannot be listed.
    """
    prefix = prefix.strip("/")
    if prefix and not _is_week(prefix.rsplit("/", 1)[-1]):
        raise ArchiveError(f"{bucket.url}/{prefix}: not a <week start> folder (YYYY-MM-DD)")
    try:
        keys = bucket.list(f"{prefix}/" if prefix else "")
    except BucketError as err:
        raise ArchiveError(str(err)) from err
    found = Survey()
    tables = registry()
    refused: set[str] = set()
    for key in keys:
        parts = key.split("/")
        path = Path(key)
        if not _is_week(parts[0]):
            found.problems.append(
                Problem(key, "not in a <week start> folder (a YYYY-MM-DD date): skipped", False)
            )
        elif len(parts) == 2 and parts[1] in WEEK_FILES:
            _apply_manifest(path, _getter(bucket, key), key, found)
        elif len(parts) != 3:
            found.problems.append(Problem(key, "not <week>/<table>/<file>: skipped", False))
        elif parts[1] not in tables or not tables[parts[1]].ingest:
            folder = f"{parts[0]}/{parts[1]}"
            if folder not in refused:
                refused.add(folder)
                reason = (
                    f"{parts[1]!r} is not a table defined in schemas/: not loaded"
                    if parts[1] not in tables
                    else f"{parts[1]!r} is not an ingest table: load-archive loads only the "
                    "tables devices publish to, as the event processor does; not loaded"
                )
                found.problems.append(Problem(folder, reason, table=parts[1]))
        elif not parts[2].endswith(".gz"):
            found.problems.append(Problem(key, "not a .gz export file: skipped", damage=False))
        else:
            found.files.append(ArchiveFile(parts[1], path, _opener(bucket, key)))
    return _filter(found, Path())


def _getter(bucket: Bucket, key: str) -> Callable[[], bytes]:
    return lambda: bucket.get(key)


def _opener(bucket: Bucket, key: str) -> Callable[[], IO[bytes]]:
    def open_object() -> IO[bytes]:
        try:
            return io.BytesIO(bucket.get(key))
        except BucketError as err:
            raise OSError(str(err)) from err

    return open_object


@dataclass(frozen=True)
class Location:
    """Where `load-archive PATH` reads: a folder, or a bucket (and one week folder of it)."""

    text: str  # as the user should see it
    root: Path  # the folder; for a bucket, the current folder (keys are relative)
    url: BucketURL | None = None
    week: str = ""


def locate(text: str) -> Location:
    """`load-archive PATH` as a location: a folder, `file:///folder` or `gs://bucket[/prefix]`.

    argparse makes PATH a `Path`, which folds `gs://` into `gs:/`; both spellings are taken.
    """
    from livability.settings import BucketURL

    if text.startswith("file:/"):
        return Location(text, Path("/" + text.removeprefix("file:").lstrip("/")))
    if not text.startswith("gs:/"):
        return Location(text, Path(text))
    text = "gs://" + text.removeprefix("gs:").lstrip("/")
    url = BucketURL.parse(text, "load-archive PATH")
    last = url.prefix.rsplit("/", 1)[-1]
    if not _is_week(last):
        return Location(text, Path(), url)
    parent = BucketURL("gs", bucket=url.bucket, prefix=url.prefix.rpartition("/")[0])
    return Location(text, Path(), parent, last)


def find_files(root: Path) -> list[ArchiveFile]:
    """Every loadable export file under `root`; `ArchiveError` if there is none."""
    files = survey(root).files
    if not files:
        raise ArchiveError(f"{root}: no <week start>/<table>/*.gz export files found")
    return files


def _rel(path: Path, root: Path) -> str:
    base = root.parent if _is_week(root.name) else root
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line number in the uncompressed file
    row: Any  # the parsed JSON, or None when `error` says why there is none
    text: bytes
    error: str | None = None


@dataclass(frozen=True)
class Damage:
    """Where reading a file stopped: after `lines` complete lines, at compressed `offset`."""

    lines: int
    offset: int
    reason: str
    tail: bytes  # the unfinished line that was read before the damage


def _decompressed(source: Source) -> Iterator[bytes | Damage]:
    """The uncompressed bytes of a gzip file, then a `Damage` if it is truncated or corrupt."""
    try:
        with source.open("rb") if isinstance(source, Path) else source() as raw:
            decompressor = zlib.decompressobj(_GZIP)
            offset = 0
            while chunk := raw.read(_CHUNK):
                backup = decompressor.copy()
                try:
                    out = decompressor.decompress(chunk)
                except zlib.error as err:
                    # Replay byte by byte: keep all zlib can give and find the bad byte.
                    decompressor = backup
                    for index in range(len(chunk)):
                        try:
                            yield decompressor.decompress(chunk[index : index + 1])
                        except zlib.error:
                            yield Damage(0, offset + index, f"corrupt gzip data ({err})", b"")
                            return
                    raise AssertionError("zlib failed on a chunk but not on its bytes") from err
                offset += len(chunk)
                yield out
                while decompressor.eof and decompressor.unused_data:
                    # Another gzip member follows (gzip allows concatenation).
                    rest = decompressor.unused_data
                    decompressor = zlib.decompressobj(_GZIP)
                    try:
                        yield decompressor.decompress(rest)
                    except zlib.error as err:
                        yield Damage(0, offset - len(rest), f"corrupt gzip data ({err})", b"")
                        return
            if offset == 0:
                yield Damage(0, 0, "empty file (0 bytes), not a gzip export", b"")
            elif not decompressor.eof:
                yield Damage(
                    0, offset, "truncated: the gzip stream ends before its end marker", b""
                )
    except OSError as err:
        yield Damage(0, 0, f"cannot read ({err.strerror or err})", b"")


def read_lines(path: Source) -> Iterator[Line | Damage]:
    """Each line of a gzipped NDJSON export, decoded on its own, then any damage."""
    number, pending = 0, b""
    for piece in _decompressed(path):
        if isinstance(piece, Damage):
            yield Damage(number, piece.offset, piece.reason, pending)
            return
        pending += piece
        *complete, pending = pending.split(b"\n")
        for text in complete:
            number += 1
            if text.strip():
                yield _parse(number, text)
    if pending.strip():  # a last line without a newline, in an intact file
        yield _parse(number + 1, pending)


def _parse(number: int, text: bytes) -> Line:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as err:
        return Line(
            number,
            None,
            text,
            f"not UTF-8 (byte 0x{text[err.start]:02x} at column {err.start + 1})",
        )
    try:
        return Line(number, json.loads(decoded, parse_constant=_no_constant), text)
    except RecursionError:
        return Line(number, None, text, "not JSON (nested deeper than the recursion limit)")
    except ValueError as err:  # JSONDecodeError, NaN, or an integer of 5,000 digits
        return Line(number, None, text, f"not JSON ({err})")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def read_rows(path: Path) -> Iterator[Any]:
    """The objects of one export (undecodable lines as their text); `ArchiveError` on damage."""
    for item in read_lines(path):
        if isinstance(item, Damage):
            raise ArchiveError(f"{path}: {item.reason}")
        yield item.row if item.error is None else item.text.decode("utf-8", "backslashreplace")


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
        loader = _FileLoader(warehouse, archive_file.table, _rel(archive_file.path, root))
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
