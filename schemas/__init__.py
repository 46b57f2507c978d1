"""The table contract: BigQuery JSON schema files plus `tables.toml`, loaded as typed objects.

Every other part of the platform derives its field lists from here: the row validator,
the DuckDB DDL, the Arrow schemas, the BigQuery tables and the Pub/Sub topic schema.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent
MANIFEST = "tables.toml"

# BigQuery's standard SQL type names and their legacy aliases, as a schema file may use either.
TYPE_ALIASES = {
    "STRING": "STRING",
    "BYTES": "BYTES",
    "INTEGER": "INTEGER",
    "INT64": "INTEGER",
    "FLOAT": "FLOAT",
    "FLOAT64": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "GEOGRAPHY": "GEOGRAPHY",
    "RECORD": "RECORD",
    "STRUCT": "RECORD",
}
MODES = ("NULLABLE", "REQUIRED")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SchemaError(ValueError):
    """A schema file or the manifest is malformed."""


class UnknownTableError(KeyError):
    """A table name that `schemas/` does not define."""

    def __init__(self, name: str, known: Iterator[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(sorted(known))

    def __str__(self) -> str:
        return f"table {self.name!r} is not defined in schemas/ (known: {', '.join(self.known)})"


@dataclass(frozen=True)
class Field:
    """One column, as a BigQuery JSON schema file declares it."""

    name: str
    type: str
    mode: str = "NULLABLE"
    description: str = ""
    fields: tuple[Field, ...] = ()

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Field:
        if not isinstance(raw, Mapping):
            raise SchemaError(f"{where}: field entry {raw!r} is not a JSON object")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SchemaError(f"{where}: field name {name!r} is not a valid column name")
        where = f"{where}.{name}"
        type_ = TYPE_ALIASES.get(str(raw.get("type", "")).upper())
        if type_ is None:
            raise SchemaError(f"{where}: type {raw.get('type')!r} is not supported")
        mode = str(raw.get("mode", "NULLABLE")).upper()
        if mode not in MODES:
            raise SchemaError(f"{where}: mode {mode!r} is not supported (use one of {MODES})")
        children = _fields(raw.get("fields", []), where)
        if (type_ == "RECORD") != bool(children):
            raise SchemaError(f"{where}: a RECORD needs fields, and only a RECORD has them")
        return cls(name, type_, mode, str(raw.get("description", "")), children)


@dataclass(frozen=True)
class Table:
    """A table of the contract: its columns plus the manifest's metadata."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""
    ingest: bool = False
    partition: str | None = None
    cluster: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def leaves(self) -> Iterator[tuple[str, Field]]:
        """Every non-RECORD column with its dotted path (`data.temperature`)."""

        def walk(prefix: str, fields: tuple[Field, ...]) -> Iterator[tuple[str, Field]]:
            for f in fields:
                path = f"{prefix}{f.name}"
                if f.type == "RECORD":
                    yield from walk(f"{path}.", f.fields)
                else:
                    yield path, f

        return walk("", self.fields)

    def column(self, path: str) -> Field:
        for leaf_path, leaf in self.leaves():
            if leaf_path == path:
                return leaf
        raise KeyError(f"{self.name} has no column {path!r}")

    def bigquery_json(self) -> list[dict[str, Any]]:
        """The schema as BigQuery's JSON schema format (what the schema file holds)."""

        def dump(f: Field) -> dict[str, Any]:
            out: dict[str, Any] = {"name": f.name, "type": f.type, "mode": f.mode}
            if f.description:
                out["description"] = f.description
            if f.fields:
                out["fields"] = [dump(child) for child in f.fields]
            return out

        return [dump(f) for f in self.fields]


@dataclass(frozen=True)
class Registry:
    """All tables of the contract, by name."""

    tables: Mapping[str, Table]
    directory: Path

    def __getitem__(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise UnknownTableError(name, iter(self.tables)) from None

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables.values())

    def ingest_tables(self) -> tuple[Table, ...]:
        return tuple(t for t in self if t.ingest)

    @classmethod
    def load(cls, directory: Path = SCHEMA_DIR) -> Registry:
        manifest_path = directory / MANIFEST
        try:
            manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise SchemaError(f"{manifest_path}: {err}") from err
        files = {p.stem: p for p in sorted(directory.glob("*.json"))}
        if set(files) != set(manifest):
            raise SchemaError(
                f"{directory}: schema files {sorted(files)} and {MANIFEST} tables "
                f"{sorted(manifest)} must name the same tables"
            )
        return cls({name: _load_table(files[name], manifest[name]) for name in files}, directory)


def _fields(raw: Any, where: str) -> tuple[Field, ...]:
    if not isinstance(raw, list):
        raise SchemaError(f"{where}: 'fields' must be a JSON list")
    fields = tuple(Field.from_json(f, where) for f in raw)
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise SchemaError(f"{where}: duplicate column names in {names}")
    return fields


def _range(where: str, bounds: Any) -> tuple[float, float]:
    numeric = isinstance(bounds, list) and all(
        isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds
    )
    if not numeric or len(bounds) != 2 or bounds[0] > bounds[1]:
        raise SchemaError(f"{where}: a range is [low, high] with low <= high, not {bounds!r}")
    return float(bounds[0]), float(bounds[1])


def _load_table(path: Path, meta: Mapping[str, Any]) -> Table:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SchemaError(f"{path}: {err}") from err
    if not isinstance(raw, list) or not raw:
        raise SchemaError(f"{path}: a schema file is a non-empty JSON list of fields")
    fields = _fields(raw, path.stem)
    table = Table(
        name=path.stem,
        fields=fields,
        description=str(meta.get("description", "")),
        ingest=bool(meta.get("ingest", False)),
        partition=meta.get("partition"),
        cluster=tuple(meta.get("cluster", ())),
        ranges={
            k: _range(f"{MANIFEST} [{path.stem}.ranges] {k!r}", v)
            for k, v in meta.get("ranges", {}).items()
        },
    )
    leaves = dict(table.leaves())
    for path_ in [*table.ranges, *table.cluster]:
        if path_ not in leaves:
            raise SchemaError(f"{MANIFEST} [{table.name}]: {path_!r} is not a column of the table")
    for path_ in table.ranges:
        if leaves[path_].type not in ("FLOAT", "INTEGER"):
            raise SchemaError(f"{MANIFEST} [{table.name}]: range on non-numeric {path_!r}")
    if table.partition is not None and leaves.get(table.partition, Field("", "")).type != "DATE":
        raise SchemaError(f"{MANIFEST} [{table.name}]: partition {table.partition!r} is no DATE")
    return table


@cache
def registry() -> Registry:
    """The contract shipped in this folder, loaded once per process."""
    return Registry.load()
