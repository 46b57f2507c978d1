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
from datetime import UTC, date, datetime
from functools import cache, cached_property
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
ROW_ID = "row_id"

# What BigQuery refuses at table creation (cloud.google.com/bigquery/docs/schemas,
# /clustered-tables, /partitioned-tables); the loader refuses it first, so a contract that
# passes the tests also deploys.
MAX_COLUMN_NAME = 300
MAX_TABLE_NAME = 1024
MAX_DESCRIPTION = 1024
MAX_DEPTH = 15
MAX_CLUSTER_COLUMNS = 4
RESERVED_PREFIXES = ("_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLON_")
CLUSTER_TYPES = ("STRING", "INTEGER", "BOOLEAN", "DATE", "TIMESTAMP", "GEOGRAPHY")
PARTITION_TYPES = ("DATE", "TIMESTAMP")
RANGE_TYPES = ("FLOAT", "INTEGER", "DATE", "TIMESTAMP")
# BigQuery's own bound on a STRING value (10 MiB per row); a length in the manifest is below.
MAX_STRING_LENGTH = 10 * 1024 * 1024
# Columns a row id may leave out: the `_dedup` views order a key's copies by them.
IDENTITY_TYPES = ("STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATE", "TIMESTAMP")


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

    def bigquery_json(self) -> dict[str, Any]:
        """The column as an entry of BigQuery's JSON schema format."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "mode": self.mode}
        if self.description:
            out["description"] = self.description
        if self.fields:
            out["fields"] = [child.bigquery_json() for child in self.fields]
        return out

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Field:
        if not isinstance(raw, Mapping):
            raise SchemaError(f"{where}: field entry {raw!r} is not a JSON object")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SchemaError(f"{where}: field name {name!r} is not a valid column name")
        if len(name) > MAX_COLUMN_NAME or name.upper().startswith(RESERVED_PREFIXES):
            raise SchemaError(
                f"{where}: field name {name!r} is longer than {MAX_COLUMN_NAME} characters or "
                f"starts with a prefix BigQuery reserves {RESERVED_PREFIXES}"
            )
        where = f"{where}.{name}"
        if where.count(".") > MAX_DEPTH:
            raise SchemaError(f"{where}: RECORDs nest deeper than BigQuery's {MAX_DEPTH} levels")
        type_ = TYPE_ALIASES.get(str(raw.get("type", "")).upper())
        if type_ is None:
            raise SchemaError(f"{where}: type {raw.get('type')!r} is not supported")
        mode = str(raw.get("mode", "NULLABLE")).upper()
        if mode not in MODES:
            raise SchemaError(f"{where}: mode {mode!r} is not supported (use one of {MODES})")
        description = raw.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise SchemaError(f"{where}: description is not a string of <= {MAX_DESCRIPTION} chars")
        children = _fields(raw.get("fields", []), where)
        if (type_ == "RECORD") != bool(children):
            raise SchemaError(f"{where}: a RECORD needs fields, and only a RECORD has them")
        return cls(name, type_, mode, description, children)


@dataclass(frozen=True)
class Table:
    """A table of the contract: its columns plus the manifest's metadata."""

    name: str
    fields: tuple[Field, ...]
    description: str = ""
    version: int = 1
    ingest: bool = False
    partition: str | None = None
    cluster: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    derived: Mapping[str, str] = field(default_factory=dict)
    identity_excludes: tuple[str, ...] = ()
    lengths: Mapping[str, int] = field(default_factory=dict)  # STRING path → most characters
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Days a partition is kept, where the table keeps fewer than the environment's expiry.
    expire_days: int | None = None

    @cached_property
    def keyed(self) -> bool:
        """Whether rows carry their idempotency key as the `row_id` column."""
        return any(f.name == ROW_ID for f in self.fields)

    def leaves(self) -> Iterator[tuple[str, Field]]:
        """Every non-RECORD column with its dotted path (`data.temperature`)."""

        return _walk("", self.fields)

    def column(self, path: str) -> Field:
        for leaf_path, leaf in self.leaves():
            if leaf_path == path:
                return leaf
        raise KeyError(f"{self.name} has no column {path!r}")

    def bigquery_json(self) -> list[dict[str, Any]]:
        """The schema as BigQuery's JSON schema format (what the schema file holds)."""
        return [f.bigquery_json() for f in self.fields]


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
    if len({n.lower() for n in names}) != len(names):  # BigQuery's names are case-insensitive
        raise SchemaError(f"{where}: duplicate column names (ignoring case) in {names}")
    return fields


def _range(where: str, type_: str, bounds: Any) -> tuple[Any, Any]:
    """[low, high]: numbers for FLOAT and INTEGER, ISO text for DATE and TIMESTAMP."""
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise SchemaError(f"{where}: a range is [low, high], not {bounds!r}")
    parsed: list[Any] = []
    for bound in bounds:
        if type_ in ("FLOAT", "INTEGER"):
            ok = isinstance(bound, (int, float)) and not isinstance(bound, bool)
            value: Any = (float(bound) if type_ == "FLOAT" else bound) if ok else None
            if type_ == "INTEGER" and not isinstance(bound, int):
                value = None
        else:
            value = _iso(bound, type_)
        if value is None:
            raise SchemaError(f"{where}: {bound!r} is not a valid {type_} bound")
        parsed.append(value)
    if parsed[0] > parsed[1]:
        raise SchemaError(f"{where}: a range is [low, high] with low <= high, not {bounds!r}")
    return parsed[0], parsed[1]


def _iso(text: Any, type_: str) -> date | datetime | None:
    if not isinstance(text, str):
        return None
    try:
        if type_ == "DATE":
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lengths(where: str, meta: Mapping[str, Any], leaves: Mapping[str, Field]) -> dict[str, int]:
    """`lengths`: the most characters of a STRING column."""
    lengths = {}
    for key, most in meta.items():
        if key not in leaves or leaves[key].type != "STRING":
            raise SchemaError(f"{where}: length {key!r} is not a STRING column of the table")
        if type(most) is not int or not 1 <= most <= MAX_STRING_LENGTH:
            raise SchemaError(f"{where}: length {key!r} = {most!r} is not 1..{MAX_STRING_LENGTH}")
        lengths[key] = most
    return lengths


def _values(
    where: str, meta: Mapping[str, Any], leaves: Mapping[str, Field]
) -> dict[str, tuple[str, ...]]:
    """`values`: the allowed values of a STRING column."""
    values = {}
    for key, allowed in meta.items():
        if key not in leaves or leaves[key].type != "STRING":
            raise SchemaError(f"{where}: values {key!r} is not a STRING column of the table")
        if (
            not isinstance(allowed, list)
            or not allowed
            or not all(isinstance(v, str) for v in allowed)
        ):
            raise SchemaError(f"{where}: values {key!r} is not a non-empty list of strings")
        values[key] = tuple(allowed)
    return values


def _load_table(path: Path, meta: Mapping[str, Any]) -> Table:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SchemaError(f"{path}: {err}") from err
    if not isinstance(raw, list) or not raw:
        raise SchemaError(f"{path}: a schema file is a non-empty JSON list of fields")
    if not _NAME.match(path.stem) or len(path.stem) > MAX_TABLE_NAME:
        raise SchemaError(f"{path}: {path.stem!r} is not a valid BigQuery table name")
    where = f"{MANIFEST} [{path.stem}]"
    known = {
        "description",
        "version",
        "ingest",
        "partition",
        "cluster",
        "derived",
        "identity",
        "expire_days",
    }
    unknown = sorted(set(meta) - known - {"ranges", "lengths", "values"})
    if unknown:
        raise SchemaError(
            f"{where}: unknown key(s) {unknown} (known: {sorted(known)}, ranges, lengths, values)"
        )
    version, expire_days = meta.get("version", 1), meta.get("expire_days")
    for key, number in (
        ("version", version),
        ("expire_days", 1 if expire_days is None else expire_days),
    ):
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise SchemaError(f"{where}: {key} {number!r} is not a positive integer")
    fields = _fields(raw, path.stem)
    leaves = dict(_walk("", fields))
    top = {f.name: f for f in fields}
    ranges = {}
    for key, bounds in meta.get("ranges", {}).items():
        if key not in leaves:
            raise SchemaError(f"{where}: range {key!r} is not a column of the table")
        if leaves[key].type not in RANGE_TYPES:
            raise SchemaError(f"{where}: range on {leaves[key].type} column {key!r}")
        ranges[key] = _range(f"{where} ranges {key!r}", leaves[key].type, bounds)
    lengths = _lengths(where, meta.get("lengths", {}), leaves)
    values = _values(where, meta.get("values", {}), leaves)
    table = Table(
        name=path.stem,
        fields=fields,
        description=str(meta.get("description", "")),
        version=version,
        ingest=bool(meta.get("ingest", False)),
        partition=meta.get("partition"),
        cluster=tuple(meta.get("cluster", ())),
        ranges=ranges,
        derived=dict(meta.get("derived", {})),
        identity_excludes=tuple(meta.get("identity", ())),
        lengths=lengths,
        values=values,
        expire_days=expire_days,
    )
    _check_bigquery_layout(table, where, top, leaves)
    return table


def _check_bigquery_layout(
    table: Table, where: str, top: Mapping[str, Field], leaves: Mapping[str, Field]
) -> None:
    """Partitioning, clustering and derived columns as BigQuery and the validator need them."""
    if table.partition is not None:
        column = top.get(table.partition)
        if column is None or column.type not in PARTITION_TYPES:
            raise SchemaError(
                f"{where}: partition {table.partition!r} must be a top-level "
                f"{' or '.join(PARTITION_TYPES)} column (BigQuery partitions on no nested field)"
            )
    if len(table.cluster) > MAX_CLUSTER_COLUMNS or len(set(table.cluster)) != len(table.cluster):
        raise SchemaError(
            f"{where}: cluster {list(table.cluster)} must name at most "
            f"{MAX_CLUSTER_COLUMNS} distinct columns (BigQuery's limit)"
        )
    for name in table.cluster:
        column = top.get(name)
        if column is None:
            hint = " (BigQuery clusters only on top-level columns)" if name in leaves else ""
            raise SchemaError(f"{where}: cluster column {name!r} is not a top-level column{hint}")
        if column.type not in CLUSTER_TYPES:
            raise SchemaError(
                f"{where}: cluster column {name!r} is {column.type}, which "
                f"BigQuery cannot cluster on (allowed: {', '.join(CLUSTER_TYPES)})"
            )
    for name, source in table.derived.items():
        column, origin = top.get(name), leaves.get(str(source))
        if column is None or origin is None or column.type != origin.type or column.required:
            raise SchemaError(
                f"{where}: derived {name!r} = {source!r} must copy a column of the same type "
                "into a NULLABLE top-level column"
            )
    for name in table.identity_excludes:
        if name not in top:
            raise SchemaError(f"{where}: identity exclude {name!r} is not a top-level column")
        if name == table.partition:
            # The BigQuery `_dedup` views keep one row per (partition, row_id): a key that
            # spans partitions could not be kept once without reading every partition.
            raise SchemaError(
                f"{where}: identity exclude {name!r} is the partition column; the row id "
                "must include it so that one key lives in one partition"
            )
        if top[name].type not in IDENTITY_TYPES:
            raise SchemaError(
                f"{where}: identity exclude {name!r} is {top[name].type}; the `_dedup` views "
                f"order copies by it, so it must be one of {', '.join(IDENTITY_TYPES)}"
            )


def _walk(prefix: str, fields: tuple[Field, ...]) -> Iterator[tuple[str, Field]]:
    for f in fields:
        path = f"{prefix}{f.name}"
        if f.type == "RECORD":
            yield from _walk(f"{path}.", f.fields)
        else:
            yield path, f


@cache
def registry() -> Registry:
    """The contract shipped in this folder, loaded once per process."""
    return Registry.load()
