"""The contract's tables in DuckDB: their DDL, derived from `schemas/`, and `init`'s work of
creating and evolving them (additive NULLABLE columns, at any depth; anything else raises
`BreakingChangeError`). Each runs on a connection the warehouse adapter holds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from livability.ports import BreakingChangeError, TableChange
from schemas import ROW_ID, Field, Registry, Table
from schemas.arrow import arrow_type

DEDUP_SUFFIX = "_dedup"
_BREAKING = "a breaking change needs a new table version"

_DUCKDB_TYPES = {
    "STRING": "VARCHAR",
    "BYTES": "BLOB",
    "INTEGER": "BIGINT",
    "FLOAT": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",  # UTC: TIMESTAMPTZ arithmetic needs the icu extension
    "GEOGRAPHY": "VARCHAR",  # WKT; the spatial extension cannot be downloaded here
}


def duckdb_type(field: Field) -> str:
    if field.type == "RECORD":
        inner = ", ".join(f'"{f.name}" {duckdb_type(f)}' for f in field.fields)
        return f"STRUCT({inner})"
    return _DUCKDB_TYPES[field.type]


def duckdb_ddl(table: Table, dataset: str) -> str:
    """CREATE TABLE for `table`, derived from its schema file; `row_id` is the key."""
    columns = []
    for f in table.fields:
        constraint = " PRIMARY KEY" if f.name == ROW_ID else (" NOT NULL" if f.required else "")
        columns.append(f'"{f.name}" {duckdb_type(f)}{constraint}')
    body = ",\n  ".join(columns)
    return f"CREATE TABLE IF NOT EXISTS {dataset}.{table.name} (\n  {body}\n)"


def _missing(
    fields: tuple[Field, ...], stored: pa.Schema | pa.StructType, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Field]]:
    """Columns of `fields` that `stored` lacks, as paths, at any depth."""
    names = {f.name: f.type for f in stored}
    missing: list[tuple[tuple[str, ...], Field]] = []
    for field_ in fields:
        if field_.name not in names:
            missing.append(((*prefix, field_.name), field_))
        elif field_.type == "RECORD" and isinstance(names[field_.name], pa.StructType):
            missing += _missing(field_.fields, names[field_.name], (*prefix, field_.name))
    return missing


def _same_type(expected: pa.DataType, found: pa.DataType) -> bool:
    """Type equality that ignores nullability and field order of nested additions."""
    if isinstance(expected, pa.StructType) and isinstance(found, pa.StructType):
        found_fields = {f.name: f.type for f in found}
        return [f.name for f in expected] == list(found_fields) and all(
            _same_type(e.type, found_fields[e.name]) for e in expected
        )
    return bool(expected == found)


def table_exists(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [dataset, table],
    ).fetchall()
    return bool(found[0][0])


def create_tables(
    con: duckdb.DuckDBPyConnection, registry: Registry, dataset: str, where: Path
) -> list[TableChange]:
    """Create the schema `dataset`, every table of `registry` and its `_dedup` view."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {dataset}")
    changes = []
    for table in registry:
        existed = table_exists(con, dataset, table.name)
        con.execute(duckdb_ddl(table, dataset))
        added = evolve(con, table, dataset, where)
        action = "created" if not existed else ("columns added" if added else "unchanged")
        changes.append(TableChange(table.name, action, ", ".join(added)))
        view = f"{table.name}{DEDUP_SUFFIX}"
        view_existed = table_exists(con, dataset, view)
        if not view_existed or added:
            # Storage is exact here (row_id is the key): the view is the table itself,
            # so SQL written against the views runs unchanged on BigQuery. Re-created
            # when columns were added, so that `*` takes them in.
            con.execute(
                f"CREATE OR REPLACE VIEW {dataset}.{view} AS "  # noqa: S608
                f"SELECT * FROM {dataset}.{table.name}"
            )
        view_action = "replaced" if view_existed and added else "unchanged"
        changes.append(TableChange(view, view_action if view_existed else "created"))
    return changes


def evolve(con: duckdb.DuckDBPyConnection, table: Table, dataset: str, where: Path) -> list[str]:
    """Bring a table made under an older contract up to date; the columns added.

    Schema changes are additive and NULLABLE, so a column the file lacks is added,
    nested ones too; anything else is a breaking change.
    """
    name = f"{dataset}.{table.name}"
    stored = con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema  # noqa: S608
    added = []
    for path, field_ in _missing(table.fields, stored):
        if field_.name == ROW_ID:
            raise BreakingChangeError(
                f"{name} in {where} predates the row_id key: it cannot be added to a "
                "table with data; move the file away and load the data again"
            )
        column = ".".join(f'"{part}"' for part in path)
        con.execute(f"ALTER TABLE {name} ADD COLUMN {column} {duckdb_type(field_)}")
        added.append(".".join(path))
    stored = con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema  # noqa: S608
    for field_ in table.fields:
        expected, found = arrow_type(field_, utc=False), stored.field(field_.name).type
        if not _same_type(expected, found):
            raise BreakingChangeError(
                f"{name}.{field_.name} is {found} in {where} but {expected} in "
                f"schemas/: {_BREAKING}"
            )
    declared = {f.name: f for f in table.fields}
    for column in stored.names:
        if column not in declared:
            raise BreakingChangeError(
                f"{name}.{column} is in {where} but no longer in schemas/: {_BREAKING}"
            )
    _check_modes(con, table, dataset, where)
    return added


def _check_modes(con: duckdb.DuckDBPyConnection, table: Table, dataset: str, where: Path) -> None:
    """REQUIRED and NULLABLE as stored and as declared must agree."""
    declared = {f.name: f for f in table.fields}
    modes = con.execute(
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ?",
        [dataset, table.name],
    ).fetchall()
    for column, nullable in modes:
        stored_required = nullable == "NO" and column != ROW_ID  # a key is NOT NULL
        if stored_required != declared[column].required:
            stored_mode = "REQUIRED" if stored_required else "NULLABLE"
            raise BreakingChangeError(
                f"{dataset}.{table.name}.{column} is {stored_mode} in {where} but "
                f"{declared[column].mode} in schemas/: {_BREAKING}"
            )
