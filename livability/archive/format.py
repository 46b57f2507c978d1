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

import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
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


def read_lines(source: Source) -> Iterator[Line | Damage]:
    """Each line of a gzipped NDJSON export, decoded on its own, then any damage."""
    number, pending = 0, b""
    for piece in _decompressed(source):
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
    # The event processor's own decoder (issue 16): a line is read by exactly its rules.
    try:
        return Line(number, decode_json(text, None, columns=True), text)
    except PoisonMessageError as err:
        return Line(number, None, text, str(err))
