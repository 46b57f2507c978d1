"""A week's manifest (`<week start>/manifest.json`): the files of each table, their bytes,
rows and SHA-256, written last by the writer and authoritative for every reader.

Readers take only the files it lists, so a file an earlier run left behind (the Bucket port
has no delete) is ignored. A manifest is evidence to check, not a fact to trust: `parse`
refuses any that this code did not write, naming the field at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from livability.archive import ArchiveError
from livability.archive.format import MANIFEST, is_shard_name, week_name
from livability.ports import Bucket, ObjectNotFoundError

FORMAT = "livability-archive/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ArchiveError):
    """A manifest that is not one this code wrote."""


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

    def sha256(self) -> str:
        """The checksum of the manifest as written: what a verification record names."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def parse(cls, data: bytes, where: str) -> Manifest:
        """A manifest from its bytes; `ManifestError` naming the field at fault."""
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise ManifestError(f"{where}: not a JSON manifest ({err})") from None
        try:
            _check_format(raw)
            entries = _dict(raw, "tables").items()
            tables = {str(name): _table(name, entry) for name, entry in entries}
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


def _table(name: str, entry: Any) -> TableEntry:
    files = tuple(
        FileEntry(
            _shard(f.get("name"), f"tables.{name}.files.name"),
            _count(f.get("bytes"), f"tables.{name}.files.bytes"),
            _count(f.get("rows"), f"tables.{name}.files.rows"),
            _checksum(f.get("sha256"), f"tables.{name}.files.sha256"),
        )
        for f in _list(entry, "files", name)
    )
    return TableEntry(
        schema_version=_count(entry.get("schema_version"), f"{name}.schema_version"),
        rows=_count(entry.get("rows"), f"tables.{name}.rows"),
        source_rows=_count(entry.get("source_rows"), f"tables.{name}.source_rows"),
        files=files,
        columns=tuple(str(c) for c in entry.get("columns") or ()),
    )


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
    if not isinstance(value, str) or not is_shard_name(value):
        raise ManifestError(f"{where}: {value!r} is not a file name like 000000000000.gz")
    return value


def _checksum(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ManifestError(f"{where}: {value!r} is not a SHA-256 in hex")
    return value


def read_manifest_if_any(bucket: Bucket, week: date) -> Manifest | None:
    """The week's manifest; None when the week has none, `ManifestError` when it is damaged."""
    key = f"{week_name(week)}/{MANIFEST}"
    try:
        data = bucket.get(key)
    except ObjectNotFoundError:
        return None
    return Manifest.parse(data, f"{bucket.url}/{key}")


def write_manifest(bucket: Bucket, manifest: Manifest) -> None:
    """Put the manifest of `manifest.week_start`: the writer does this last."""
    key = f"{week_name(manifest.week_start)}/{MANIFEST}"
    bucket.put(key, manifest.to_json(), "application/json")
