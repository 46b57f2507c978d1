"""The archive's files: BigQuery's JSON export format, and where each file sits.

Layout, in the archive bucket (`LIVABILITY_ARCHIVE`), as the reference PoC's COLDLINE bucket
laid it out:

    <week start>/<table>/000000000000.gz   BigQuery JSON export: NDJSON, gzip
    <week start>/manifest.json              rows, files and checksums per table (manifest.py)
    <week start>/verified.json              the outcome of the last verification (verify.py)

Writing: one row is one line (`export_line`): columns in schema order, NULLs omitted,
INTEGER as a string, TIMESTAMP with `+00:00`, GEOGRAPHY as WKT; files are gzipped
deterministically (`gzip_bytes`). Reading: `read_lines` gives each line decoded on its own,
then any damage to the gzip with where it starts, so a reader keeps all before it; nothing
in a file stops it.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from livability.ingest.decoding import PoisonMessageError, decode_json
from livability.ports import Bucket
from schemas import Field, Table, registry

MANIFEST = "manifest.json"
VERIFIED = "verified.json"
WEEK_FILES = (MANIFEST, VERIFIED)  # beside the table folders of a week
_WEEK_NAME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SHARD_NAME = re.compile(r"^[0-9]{12}\.gz$")
# Compressed bytes fed to zlib at a time by `read_lines`; on damage the last chunk is replayed
# byte by byte, so every byte zlib can still decompress is kept.
_CHUNK = 64 * 1024
_GZIP = 31  # zlib wbits: a gzip header and trailer (CRC-32 and length checked)
_OUT = 1 << 20  # decompressed bytes per zlib call: what a gzip bomb can make before a check

# Bounds of `load-archive` (issue 16 #2; the README's "Bounds" table). An export line is a
# few hundred bytes and BigQuery cuts export files at about 1 GB, gzipped about 10:1: each
# bound is far above a real archive and far below what would exhaust the machine.
MAX_LINE_BYTES = 1 << 20  # one line (a row)
MAX_FILE_BYTES = 2 << 30  # one file, compressed
MAX_FILE_OUT = 8 << 30  # one file, decompressed
MAX_RATIO = 200  # decompressed:compressed, checked once past RATIO_AFTER
RATIO_AFTER = 16 << 20
_PREVIEW = 1024  # what a refused over-long line keeps as its dead letter's payload

# A file to read: a path, or a function that opens a bucket object.
Source = Path | Callable[[], IO[bytes]]


def archived_tables() -> tuple[Table, ...]:
    """The raw tables: those devices and pollers publish to (`ingest = true`)."""
    return registry().ingest_tables()


# --- names ---


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


def shard_name(index: int) -> str:
    """The `index`th file of a table's week, numbered as BigQuery numbers its export files."""
    return f"{index:012d}.gz"


def is_shard_name(name: str) -> bool:
    return bool(_SHARD_NAME.match(name))


def archived_weeks(bucket: Bucket) -> list[date]:
    """Week folders of the archive (with or without a manifest)."""
    weeks = set()
    for key in bucket.list():
        week = parse_week_name(key.split("/", 1)[0])
        if week is not None and "/" in key:
            weeks.add(week)
    return sorted(weeks)


# --- writing lines ---


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


# --- reading lines ---


def count_lines(data: bytes) -> int:
    """Rows of one gzipped NDJSON file; `zlib.error`/`EOFError` if the gzip is damaged."""
    lines, pending = 0, b""
    decompressor = zlib.decompressobj(_GZIP)
    view = io.BytesIO(data)
    while chunk := view.read(1 << 20):
        out = decompressor.decompress(chunk)
        while decompressor.eof and decompressor.unused_data:
            rest = decompressor.unused_data
            decompressor = zlib.decompressobj(_GZIP)
            out += decompressor.decompress(rest)
        lines += out.count(b"\n")
        if out:
            pending = out[-1:]
    if not decompressor.eof:
        raise EOFError("the gzip stream ends before its end marker")
    return lines + (1 if pending not in (b"", b"\n") else 0)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line number in the uncompressed file
    row: Any  # the parsed JSON, or None when `error` says why there is none
    text: bytes
    error: str | None = None
    bound: bool = False  # refused by a bound (the line cap): the load exits non-zero


@dataclass(frozen=True)
class Damage:
    """Where reading a file stopped: after `lines` complete lines, at compressed `offset`."""

    lines: int
    offset: int
    reason: str
    tail: bytes  # the unfinished line that was read before the damage


@dataclass
class Tally:
    """What reading one file saw, for checking it against its manifest entry."""

    bytes: int = 0  # compressed bytes read
    lines: int = 0  # lines, as `count_lines` counts them
    complete: bool = False  # read to its end without damage
    digest: Any = field(default_factory=hashlib.sha256)  # of the compressed bytes


def _open(source: Source) -> IO[bytes]:
    """A file of the archive, opened without following a symbolic link (issue 16 #3): a link
    swapped in after the survey fails here; anything but a regular file is refused."""
    if not isinstance(source, Path):
        return source()
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(source, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return os.fdopen(fd, "rb")


class _Inflater:
    """zlib over a gzip file's chunks, `_OUT` bytes of output at a time, with the bounds."""

    def __init__(self) -> None:
        self.z = zlib.decompressobj(_GZIP)
        self.read = 0  # compressed bytes fed before the current chunk
        self.out = 0  # decompressed bytes given

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while True:
            if self.z.eof and data:  # another gzip member follows (gzip allows concatenation)
                self.z = zlib.decompressobj(_GZIP)
            piece = self.z.decompress(data, _OUT)
            data = self.z.unconsumed_tail or (self.z.unused_data if self.z.eof else b"")
            if piece:
                yield piece
            if not data and len(piece) < _OUT:  # a full piece may leave output in zlib
                return

    def _bound(self, fed: int) -> str | None:
        if self.out > MAX_FILE_OUT:
            return f"decompresses to over {MAX_FILE_OUT >> 30} GiB (load-archive's file cap)"
        if self.out > RATIO_AFTER and self.out > MAX_RATIO * fed:
            return (
                f"decompresses at over {MAX_RATIO}:1 past {RATIO_AFTER >> 20} MiB (a gzip "
                "bomb? load-archive's ratio cap)"
            )
        return None

    def feed(self, chunk: bytes) -> Iterator[bytes | Damage]:
        """The output of `chunk`, then a `Damage` if it is corrupt or a bound is reached."""
        backup, given = self.z.copy(), 0
        try:
            for piece in self._inflate(chunk):
                given += len(piece)
                self.out += len(piece)
                yield piece
                if reason := self._bound(self.read + len(chunk)):
                    yield Damage(0, self.read + len(chunk), reason, b"")
                    return
        except zlib.error as err:
            # Replay byte by byte: keep all zlib can give (past what was given) and find the
            # bad byte.
            self.z, again = backup, 0
            for index in range(len(chunk)):
                try:
                    for piece in self._inflate(chunk[index : index + 1]):
                        again += len(piece)
                        if again > given:
                            yield piece[len(piece) - min(len(piece), again - given) :]
                            given = again
                except zlib.error:
                    yield Damage(0, self.read + index, f"corrupt gzip data ({err})", b"")
                    return
            raise AssertionError("zlib failed on a chunk but not on its bytes") from err
        self.read += len(chunk)


def _decompressed(source: Source, tally: Tally) -> Iterator[bytes | Damage]:
    """The uncompressed bytes of a gzip file, then a `Damage` if it is truncated, corrupt or
    over a bound (`MAX_FILE_BYTES`, `MAX_FILE_OUT`, `MAX_RATIO`)."""
    try:
        with _open(source) as raw:
            inflater = _Inflater()
            while chunk := raw.read(_CHUNK):
                tally.bytes += len(chunk)
                tally.digest.update(chunk)
                if tally.bytes > MAX_FILE_BYTES:
                    reason = f"over {MAX_FILE_BYTES >> 30} GiB compressed (load-archive's file cap)"
                    yield Damage(0, MAX_FILE_BYTES, reason, b"")
                    return
                for piece in inflater.feed(chunk):
                    yield piece
                    if isinstance(piece, Damage):
                        return
            if tally.bytes == 0:
                yield Damage(0, 0, "empty file (0 bytes), not a gzip export", b"")
            elif not inflater.z.eof:
                reason = "truncated: the gzip stream ends before its end marker"
                yield Damage(0, tally.bytes, reason, b"")
    except OSError as err:
        yield Damage(0, 0, f"cannot read ({err.strerror or err})", b"")


def _too_long(number: int, text: bytes) -> Line:
    reason = (
        f"longer than {MAX_LINE_BYTES >> 20} MiB (load-archive's line cap): refused; its first "
        f"{_PREVIEW >> 10} KiB are the payload"
    )
    return Line(number, None, text[:_PREVIEW], reason, bound=True)


def read_lines(source: Source, tally: Tally | None = None) -> Iterator[Line | Damage]:
    """Each line of a gzipped NDJSON export, decoded on its own, then any damage.

    A line over `MAX_LINE_BYTES` is refused as it grows (its bytes past the cap are
    discarded unread into memory), so memory stays bounded whatever the file holds.
    """
    tally = tally if tally is not None else Tally()
    number, pending, skipping = 0, b"", False
    for piece in _decompressed(source, tally):
        if isinstance(piece, Damage):
            tally.lines = number
            yield Damage(number, piece.offset, piece.reason, b"" if skipping else pending)
            return
        pending += piece
        *complete, pending = pending.split(b"\n")
        for text in complete:
            if skipping:  # the end of a line already refused as too long
                skipping = False
                continue
            number += 1
            if len(text) > MAX_LINE_BYTES:
                yield _too_long(number, text)
            elif text.strip():
                yield _parse(number, text)
        if len(pending) > MAX_LINE_BYTES:
            if not skipping:
                number += 1
                yield _too_long(number, pending)
            skipping, pending = True, b""
    if pending and not skipping:  # a last line without a newline, in an intact file
        number += 1
        if pending.strip():
            yield _parse(number, pending)
    tally.lines, tally.complete = number, True


def _parse(number: int, text: bytes) -> Line:
    # The event processor's own decoder (issue 16): a line is read by exactly its rules.
    try:
        return Line(number, decode_json(text, None, columns=True), text)
    except PoisonMessageError as err:
        return Line(number, None, text, str(err))
