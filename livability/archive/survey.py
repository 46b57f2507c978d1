"""What an archive holds before `livability load-archive` loads it: its export files, its
manifests, and every problem found on the way (`Survey`).

The archive may be a local folder (`survey`) or a bucket (`survey_bucket`: gs:// through the
Bucket port). A week written by `livability archive` has a `manifest.json`: only the files it
lists load, so a file an earlier run left behind is skipped with a note; a listed file that
is missing is damage. A week without one (the reference PoC's) loads every `.gz` file.
Only ingest tables load, as through the event processor: a folder for `dead_letter` or
`livability_scores` is refused. Nothing odd inside an archive stops the survey: it becomes a
`Problem`, reported while the rest loads.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from livability.archive import ArchiveError
from livability.archive.format import MANIFEST, WEEK_FILES, Source, _open, parse_week_name
from livability.archive.manifest import FileEntry, Manifest, ManifestError
from livability.ports import Bucket, BucketError
from schemas import registry

if TYPE_CHECKING:
    from livability.settings import BucketURL

_NOT_INGEST = (
    "is not an ingest table: load-archive loads only the tables devices publish to, as the "
    "event processor does; not loaded"
)


@dataclass(frozen=True)
class ArchiveFile:
    table: str
    path: Path  # for a bucket object: its key, as a relative path
    opener: Callable[[], IO[bytes]] | None = None  # how to read a bucket object
    listed: FileEntry | None = None  # what the week's manifest says of it

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
    manifests: dict[Path, Manifest] = field(default_factory=dict)  # week folder -> manifest
    listed: int = 0  # entries listed so far (`MAX_LISTED`)


def _is_week(name: str) -> bool:
    return parse_week_name(name) is not None


# Bounds of `load-archive` (issue 16 #2; the README's "Bounds" table): a real week has
# a manifest of a few KiB, a dozen table folders and tens of files per table.
MAX_ENTRIES = 10_000  # entries listed in one folder
MAX_FILES = 100_000  # export files in one load
MAX_LISTED = 1_000_000  # entries listed in one load, all folders together
MAX_MANIFEST_BYTES = 16 << 20


def survey(root: Path) -> Survey:
    """The export files under `root` (an archive or one `<week start>` folder) that may load.

    Nothing outside `root` is read: no symbolic link below it is followed, and anything but
    a folder or a regular file is skipped with a reason (issue 16 #3). Raises `ArchiveError`
    when `root` is no archive or a bound is reached; anything odd inside it is a problem of
    the survey, reported while the rest loads.
    """
    _check_root(root)
    found = Survey()
    try:
        for week in _weeks(root, found):
            for entry in _entries(week, root, found):
                _survey_table(entry, root, found)
    except OSError as err:
        raise ArchiveError(f"{root}: cannot list ({err.strerror or err})") from err
    if len(found.files) > MAX_FILES:
        raise ArchiveError(
            f"{root}: {len(found.files):,} export files, over load-archive's cap of "
            f"{MAX_FILES:,} per load; load one <week start> folder at a time"
        )
    return _filter(found, root)


def _check_root(root: Path) -> None:
    """`ArchiveError` in one line unless `root` is a folder that may be an archive."""
    if not root.exists():
        raise ArchiveError(f"{root}: no such folder")
    if not root.is_dir():
        raise ArchiveError(f"{root}: not a folder; give the archive folder (or one week folder)")
    if root.resolve().parts[1:2] in (("proc",), ("sys",), ("dev",)):
        raise ArchiveError(f"{root}: a system folder, not an archive")


def _entries(folder: Path, root: Path, found: Survey) -> list[os.DirEntry[str]]:
    """The entries of `folder`, sorted, at most `MAX_ENTRIES` (else `ArchiveError`); a
    symbolic link or a special file is skipped with its reason."""
    entries: list[os.DirEntry[str]] = []
    with os.scandir(folder) as listing:
        for entry in listing:
            if len(entries) == MAX_ENTRIES:
                raise ArchiveError(
                    f"{relative(folder, root) or folder}: over {MAX_ENTRIES:,} entries "
                    "(load-archive's cap per folder)"
                )
            entries.append(entry)
    found.listed += len(entries)
    if found.listed > MAX_LISTED:
        raise ArchiveError(
            f"{root}: over {MAX_LISTED:,} entries in all (load-archive's cap per load); load one "
            "<week start> folder at a time"
        )
    kept = []
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name.startswith(".tmp-"):
            continue  # an unfinished write of the local bucket
        kind = _special(entry)
        if kind:
            reason = f"{kind}: skipped (load-archive reads only what lies inside PATH)"
            found.problems.append(Problem(relative(Path(entry.path), root), reason, False))
        else:
            kept.append(entry)
    return kept


def _special(entry: os.DirEntry[str]) -> str:
    """What `entry` is when it is neither a folder nor a regular file (not followed), else ''."""
    if entry.is_symlink():
        return "a symbolic link, not followed"
    if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
        return ""
    mode = entry.stat(follow_symlinks=False).st_mode
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"{name}, not a regular file"
    return "a device or special file, not a regular file"


def _weeks(root: Path, found: Survey) -> list[Path]:
    if _is_week(root.name):
        return [root]
    weeks, others = [], 0
    for entry in _entries(root, root, found):
        if entry.is_dir(follow_symlinks=False) and _is_week(entry.name):
            weeks.append(Path(entry.path))
        else:
            others += 1
            reason = "not a <week start> folder (a YYYY-MM-DD date): skipped"
            found.problems.append(Problem(relative(Path(entry.path), root), reason, damage=False))
    if not weeks:
        raise ArchiveError(
            f"{root}: not an archive: no <week start> folder (YYYY-MM-DD) in it"
            + (f", {others} other entries" if others else ", it is empty")
        )
    return weeks


def _survey_table(entry: os.DirEntry[str], root: Path, found: Survey) -> None:
    table_dir = Path(entry.path)
    where, tables = relative(table_dir, root), registry()
    if table_dir.name in WEEK_FILES and entry.is_file(follow_symlinks=False):
        _apply_manifest(table_dir, lambda: _read_manifest(table_dir), where, found)
        return
    if not entry.is_dir(follow_symlinks=False):
        found.problems.append(Problem(where, "not a <table> folder: skipped", damage=False))
    elif table_dir.name not in tables:
        reason = f"{table_dir.name!r} is not a table defined in schemas/: not loaded"
        found.problems.append(Problem(where, reason, table=table_dir.name))
    elif not tables[table_dir.name].ingest:
        reason = f"{table_dir.name!r} {_NOT_INGEST}"
        found.problems.append(Problem(where, reason, table=table_dir.name))
    else:
        for file in _entries(table_dir, root, found):
            path = Path(file.path)
            if file.is_file(follow_symlinks=False) and path.suffix == ".gz":
                found.files.append(ArchiveFile(table_dir.name, path))
            else:
                reason = "not a .gz export file: skipped"
                found.problems.append(Problem(relative(path, root), reason, damage=False))


def _read_manifest(path: Path) -> bytes:
    """A manifest's bytes, not through a link, at most `MAX_MANIFEST_BYTES`."""
    with _open(path) as raw:
        data = raw.read(MAX_MANIFEST_BYTES + 1)
    return _bounded_manifest(data)


def _bounded_manifest(data: bytes) -> bytes:
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            f"over {MAX_MANIFEST_BYTES >> 20} MiB (load-archive's manifest cap): not read"
        )
    return data


def _apply_manifest(path: Path, read: Callable[[], bytes], where: str, found: Survey) -> None:
    """Remember a week's manifest; `_filter` applies it once the week is surveyed."""
    if path.name != MANIFEST:
        return
    try:
        manifest = Manifest.parse(read(), where)
    except (ManifestError, OSError, BucketError) as err:
        found.problems.append(Problem(where, f"unreadable manifest, every .gz loads: {err}"))
        return
    found.manifests[path.parent] = manifest


def _filter(found: Survey, root: Path) -> Survey:
    """Keep the files each week's manifest lists, with what it says of them; note the others;
    report missing ones. A manifest is checked, not trusted (issue 16 #4): files of a table it
    does not list load and are an error naming each file, as is a table whose files' rows do
    not add up to its total."""
    if not found.manifests:
        return found
    kept: list[ArchiveFile] = []
    listed: dict[Path, dict[str, FileEntry]] = {}
    for week, manifest in found.manifests.items():
        for table, entry in manifest.tables.items():
            listed[week / table] = {f.name: f for f in entry.files}
            if sum(f.rows for f in entry.files) != entry.rows:
                reason = (
                    f"the manifest's files hold {sum(f.rows for f in entry.files)} rows but its "
                    f"total for the table says {entry.rows}"
                )
                found.problems.append(Problem(relative(week / table, root), reason, table=table))
    seen: set[Path] = set()
    for archive_file in found.files:
        folder, week = archive_file.path.parent, archive_file.path.parent.parent
        where = relative(archive_file.path, root)
        if week not in found.manifests:
            kept.append(archive_file)
        elif folder not in listed:
            kept.append(archive_file)
            reason = (
                f"the week's manifest lists no table {folder.name!r}: manifest and files "
                "disagree (the file's readable rows loaded)"
            )
            found.problems.append(Problem(where, reason, table=folder.name))
        elif archive_file.path.name in listed[folder]:
            kept.append(replace(archive_file, listed=listed[folder][archive_file.path.name]))
            seen.add(archive_file.path)
        else:
            reason = "not in the week's manifest (left by an earlier run): skipped"
            found.problems.append(Problem(where, reason, damage=False))
    for folder, names in listed.items():
        for name in sorted(names):
            if folder / name not in seen and folder.name in registry():
                reason = "listed in the week's manifest but missing"
                where = relative(folder / name, root)
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
                    else f"{parts[1]!r} {_NOT_INGEST}"
                )
                found.problems.append(Problem(folder, reason, table=parts[1]))
        elif not parts[2].endswith(".gz"):
            found.problems.append(Problem(key, "not a .gz export file: skipped", damage=False))
        else:
            found.files.append(ArchiveFile(parts[1], path, _opener(bucket, key)))
    if keys and not any(_is_week(key.split("/", 1)[0]) for key in keys):
        raise ArchiveError(
            f"{bucket.url}: not an archive: no <week start> folder (YYYY-MM-DD) in it"
        )
    if len(found.files) > MAX_FILES:
        raise ArchiveError(
            f"{bucket.url}: {len(found.files):,} export files, over load-archive's cap of "
            f"{MAX_FILES:,} per load; load one <week start> folder at a time"
        )
    return _filter(found, Path())


def _getter(bucket: Bucket, key: str) -> Callable[[], bytes]:
    return lambda: _bounded_manifest(bucket.get(key))


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

    if not text.strip():
        raise ArchiveError("PATH is empty: give the archive folder (or one week folder)")
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


def relative(path: Path, root: Path) -> str:
    """`path` as the survey names it: relative to the archive (a week folder's parent)."""
    base = root.parent if _is_week(root.name) else root
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
