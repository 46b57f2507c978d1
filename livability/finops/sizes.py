"""Sizes: BigQuery's logical size of rows of our schemas, and what real rows measure.

`row_bytes` computes a row's size from the contract in `schemas/` with BigQuery's documented
data-type sizes (INT64, FLOAT64, DATE, TIMESTAMP 8 B, BOOL 1 B, STRING 2 B + its UTF-8 bytes,
GEOGRAPHY 16 B + 24 B per vertex, RECORD the sum of its fields, NULL 0 B:
cloud.google.com/bigquery/docs/storage_overview#data_type_sizes). `Measurements` carries what
real rows of our schemas measure (the CLI builds it from rows our own code produces); nothing
here is a hand-typed bytes-per-row constant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from livability.finops.units import as_decimal
from schemas import Field, Table, geo

_FIXED = {"INTEGER": 8, "FLOAT": 8, "DATE": 8, "TIMESTAMP": 8, "BOOLEAN": 1}


def value_bytes(column: Field, value: Any) -> int:
    """BigQuery's logical size of one value of `column` (storage_overview#data_type_sizes)."""
    if value is None:
        return 0
    kind = column.type
    if kind == "RECORD":
        return sum(value_bytes(child, value.get(child.name)) for child in column.fields)
    if kind == "STRING":
        return 2 + len(str(value).encode("utf-8"))
    if kind == "BYTES":
        return 2 + len(value)
    if kind == "GEOGRAPHY":
        return 16 + 24 * geo.vertices(str(value))
    return _FIXED[kind]


def row_bytes(table: Table, row: Mapping[str, Any], columns: Collection[str] | None = None) -> int:
    """Logical bytes of a validated `row`: every column, or only the leaf paths `columns`."""
    if columns is None:
        return sum(value_bytes(f, row.get(f.name)) for f in table.fields)
    unknown = set(columns) - {path for path, _ in table.leaves()}
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    total = 0
    for path, leaf in table.leaves():
        if path in columns:
            value: Any = row
            for part in path.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            total += value_bytes(leaf, value)
    return total


def mean(values: Iterable[int | Decimal]) -> Decimal:
    items = [as_decimal(v) for v in values]
    if not items:
        raise ValueError("no values to average")
    return sum(items, Decimal(0)) / len(items)


@dataclass(frozen=True)
class TableSample:
    """What real rows of one ingest table measure (means per row)."""

    table: str
    rows: int
    logical_bytes: Decimal  # BigQuery logical bytes, all columns
    column_bytes: Mapping[str, Decimal]  # logical bytes per leaf column
    message_bytes: Decimal  # body of a one-row message (the data plane's publisher)
    message_attribute_bytes: int  # its attributes, keys and values
    gateway_row_bytes: Decimal  # what a row adds to a gateway's JSON-array message body
    gateway_attribute_bytes: int  # a gateway message's attributes
    export_bytes: Decimal  # gzip'd JSON export (the archive), per row

    def columns(self, paths: Iterable[str]) -> Decimal:
        return sum((self.column_bytes[p] for p in paths), Decimal(0))


@dataclass(frozen=True)
class Measurements:
    sensor: TableSample
    weather: TableSample
    score_bytes: Decimal  # logical bytes of a livability_scores row
    score_json_bytes: Decimal  # the same row in the bucket's NDJSON
    function_source_bytes: int  # zipped source of one function


def sample_table(
    table: Table,
    rows: list[dict[str, Any]],
    *,
    message_bodies: list[bytes],
    message_attributes: Mapping[str, str],
    gateway_body: bytes,
    gateway_attributes: Mapping[str, str],
    export_gzip: bytes,
) -> TableSample:
    """Means over `rows` (validated) and what our code made of them: one-row publisher
    bodies, one gateway message carrying all of them, and their gzip'd JSON export."""
    if not rows or len(message_bodies) != len(rows):
        raise ValueError("a sample needs rows and one publisher body per row")
    return TableSample(
        table=table.name,
        rows=len(rows),
        logical_bytes=mean(row_bytes(table, r) for r in rows),
        column_bytes={
            path: mean(row_bytes(table, r, (path,)) for r in rows) for path, _ in table.leaves()
        },
        message_bytes=mean(len(b) for b in message_bodies),
        message_attribute_bytes=_attribute_bytes(message_attributes),
        # `[r1,r2,...]`: each row adds its JSON and a separator; the brackets count once.
        gateway_row_bytes=Decimal(len(gateway_body) - 1) / len(rows),
        gateway_attribute_bytes=_attribute_bytes(gateway_attributes),
        export_bytes=Decimal(len(export_gzip)) / len(rows),
    )


def _attribute_bytes(attributes: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
