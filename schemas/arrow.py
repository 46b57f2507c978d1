"""Arrow schemas derived from the contract, as warehouses take and return rows."""

from __future__ import annotations

import pyarrow as pa

from schemas import Field, Table

_ARROW_TYPES = {
    "STRING": pa.string(),
    "BYTES": pa.binary(),
    "INTEGER": pa.int64(),
    "FLOAT": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "GEOGRAPHY": pa.string(),  # WKT
}


def arrow_type(field: Field, *, utc: bool = True) -> pa.DataType:
    """The Arrow type of a column; TIMESTAMP is in UTC, or naive UTC with `utc=False`."""
    if field.type == "RECORD":
        return pa.struct([arrow_field(f, utc=utc) for f in field.fields])
    if field.type == "TIMESTAMP":
        return pa.timestamp("us", tz="UTC" if utc else None)
    return _ARROW_TYPES[field.type]


def arrow_field(field: Field, *, utc: bool = True) -> pa.Field:
    return pa.field(field.name, arrow_type(field, utc=utc), nullable=not field.required)


def arrow_schema(table: Table, *, utc: bool = True) -> pa.Schema:
    return pa.schema([arrow_field(f, utc=utc) for f in table.fields])


def _utc(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(type_) and type_.tz is None:
        return pa.timestamp(type_.unit, tz="UTC")
    if pa.types.is_struct(type_):
        return pa.struct([f.with_type(_utc(f.type)) for f in type_])
    return type_


def with_utc(table: pa.Table) -> pa.Table:
    """`table` with every naive timestamp (a backend's UTC) marked as UTC, nested ones too."""
    schema = pa.schema([f.with_type(_utc(f.type)) for f in table.schema])
    return table if schema.equals(table.schema) else table.cast(schema)
