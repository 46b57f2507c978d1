"""The warehouse interface and its embedded default, DuckDB.

The interface is what BigQuery offers, so a BigQuery implementation slots in beside it:
batch insert with row ids (BigQuery's `insertId`), and parameterized standard SQL that
returns Arrow. Tables are addressed as `dataset.table` in SQL; DuckDB stores each dataset
as a schema of that name so the same SQL runs on both.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from schemas import Field, Registry, Table

# Column holding the idempotency key in the embedded warehouse. BigQuery keeps it out of
# band (insertId), so it is not part of the contract.
INSERT_ID = "_insert_id"
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


class WarehouseError(RuntimeError):
    """The warehouse could not take or give data; the caller should retry later."""


class Warehouse(Protocol):
    """Where rows of the contract's tables live."""

    dataset: str

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> int:
        """Insert validated rows, skipping any whose id was inserted before.

        Returns how many rows were new (an implementation that cannot tell, like
        BigQuery's best-effort insertId de-duplication, returns `len(rows)`).
        """
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run standard SQL with `@name` parameters and return the result as Arrow."""
        ...

    def close(self) -> None: ...


_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "BYTES": "BLOB",
    "INTEGER": "BIGINT",
    "FLOAT": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",  # naive UTC: TIMESTAMPTZ arithmetic needs the icu extension
    "GEOGRAPHY": "VARCHAR",  # WKT; the spatial extension cannot be downloaded here
}
_ARROW_TYPES = {
    "STRING": pa.string(),
    "BYTES": pa.binary(),
    "INTEGER": pa.int64(),
    "FLOAT": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "GEOGRAPHY": pa.string(),
}


def duckdb_type(field: Field) -> str:
    if field.type == "RECORD":
        inner = ", ".join(f'"{f.name}" {duckdb_type(f)}' for f in field.fields)
        return f"STRUCT({inner})"
    return _DUCKDB_TYPES[field.type]


def duckdb_ddl(table: Table, dataset: str) -> str:
    """CREATE TABLE for `table` in the embedded warehouse, derived from its schema file."""
    columns = [f"{INSERT_ID} VARCHAR PRIMARY KEY"]
    for f in table.fields:
        not_null = " NOT NULL" if f.required else ""
        columns.append(f'"{f.name}" {duckdb_type(f)}{not_null}')
    body = ",\n  ".join(columns)
    return f"CREATE TABLE IF NOT EXISTS {dataset}.{table.name} (\n  {body}\n)"


def arrow_type(field: Field) -> pa.DataType:
    if field.type == "RECORD":
        return pa.struct([arrow_field(f) for f in field.fields])
    return _ARROW_TYPES[field.type]


def arrow_field(field: Field) -> pa.Field:
    return pa.field(field.name, arrow_type(field), nullable=not field.required)


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([arrow_field(f) for f in table.fields])


def _missing(
    fields: tuple[Field, ...], stored: pa.Schema | pa.StructType, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Field]]:
    """Columns of `fields` that `stored` lacks, as paths, at any depth."""
    names = {f.name: f.type for f in stored}
    missing: list[tuple[tuple[str, ...], Field]] = []
    for field in fields:
        if field.name not in names:
            missing.append(((*prefix, field.name), field))
        elif field.type == "RECORD" and isinstance(names[field.name], pa.StructType):
            missing += _missing(field.fields, names[field.name], (*prefix, field.name))
    return missing


def _same_type(expected: pa.DataType, found: pa.DataType) -> bool:
    """Type equality that ignores nullability (DuckDB reports every struct field nullable)."""
    if isinstance(expected, pa.StructType) and isinstance(found, pa.StructType):
        return [f.name for f in expected] == [f.name for f in found] and all(
            _same_type(e.type, f.type) for e, f in zip(expected, found, strict=True)
        )
    return bool(expected == found)


class DuckDBWarehouse:
    """The embedded default: one DuckDB file, one schema per dataset.

    DuckDB lets one process write a file at a time, so the connection is opened once and
    shared by the threads of that process under a lock.
    """

    def __init__(self, path: Path, registry: Registry, dataset: str) -> None:
        self.path = path
        self.registry = registry
        self.dataset = dataset
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(path))
        except (OSError, duckdb.Error) as err:
            raise WarehouseError(f"cannot open the warehouse at {path}: {err}") from err
        try:
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {dataset}")
            for table in registry:
                self._con.execute(duckdb_ddl(table, dataset))
                self._evolve(table)
        except duckdb.Error as err:
            self._con.close()
            raise WarehouseError(f"cannot set up the warehouse at {path}: {err}") from err
        except WarehouseError:
            self._con.close()
            raise
        self._arrow = {t.name: arrow_schema(t) for t in registry}

    def _evolve(self, table: Table) -> None:
        """Bring a table made under an older contract up to date.

        Schema changes are additive and NULLABLE (schemas/README), so a column the file
        lacks is added, nested ones too; anything else is a breaking change.
        """
        name = f"{self.dataset}.{table.name}"
        stored = self._con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema  # noqa: S608
        for path, field in _missing(table.fields, stored):
            column = ".".join(f'"{part}"' for part in path)
            self._con.execute(f"ALTER TABLE {name} ADD COLUMN {column} {duckdb_type(field)}")
        stored = self._con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema  # noqa: S608
        for field in table.fields:
            expected, found = arrow_type(field), stored.field(field.name).type
            if not _same_type(expected, found):
                raise WarehouseError(
                    f"{name}.{field.name} is {found} in {self.path} but {expected} in schemas/: "
                    "a breaking change needs a new table version"
                )

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> int:
        if len(rows) != len(row_ids):
            raise ValueError(f"{len(rows)} rows but {len(row_ids)} row ids")
        if not rows:
            return 0
        schema = self._arrow[self.registry[table].name]
        # Keep the first of any ids repeated within the batch; INSERT OR IGNORE then skips
        # ids already stored.
        unique: dict[str, Mapping[str, Any]] = {}
        for rid, row in zip(row_ids, rows, strict=True):
            unique.setdefault(rid, row)
        batch = pa.Table.from_pylist(list(unique.values()), schema=schema).append_column(
            INSERT_ID, pa.array(list(unique), pa.string())
        )
        # Both names are checked identifiers: the table comes from the registry, the dataset
        # from Settings.
        sql = f"INSERT OR IGNORE INTO {self.dataset}.{table} BY NAME SELECT * FROM batch"  # noqa: S608
        with self._lock:
            try:
                self._con.register("batch", batch)
                try:
                    result = self._con.execute(sql).fetchone()
                finally:
                    self._con.unregister("batch")
            except duckdb.Error as err:
                raise WarehouseError(f"insert into {self.dataset}.{table} failed: {err}") from err
        return int(result[0]) if result else 0

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        # BigQuery names parameters `@name`, DuckDB `$name`.
        translated = _PARAM.sub(r"$\1", sql)
        with self._lock:
            try:
                return self._con.sql(translated, params=dict(params or {})).to_arrow_table()
            except duckdb.Error as err:
                raise WarehouseError(f"query failed: {err}") from err

    def close(self) -> None:
        with self._lock:
            self._con.close()
