"""The Pub/Sub topic schema of an ingest table, generated from `schemas/`: Avro, JSON encoding.

It serves ingest mode (b): a BigQuery subscription with "use topic schema" writing each
message straight to the table (no event processor). Pub/Sub validates every published
message against this schema and refuses one that does not match (INVALID_ARGUMENT at
publish time); the subscription then maps each Avro field to the column of the same name.

Type mapping (Pub/Sub "BigQuery subscriptions", section "Schema compatibility",
docs.cloud.google.com/pubsub/docs/bigquery):

    STRING     string
    INTEGER    long
    FLOAT      double
    BOOLEAN    boolean
    DATE       string, 'YYYY-MM-DD'         (Avro string maps to DATE when the text is in
    TIMESTAMP  string, ISO 8601 in UTC       BigQuery's format for the type)
    GEOGRAPHY  string, WKT
    RECORD     record (named after its path, so every name in the schema is unique)
    NULLABLE   ["null", T] with default null; REQUIRED is T

DATE and TIMESTAMP are strings, not the logical types `int`/date and `long`/timestamp-micros
that the same page also maps: in JSON encoding a logical type travels as its underlying
number (days or microseconds since the epoch), so the edge would have to publish a second
wire format that the event processor (mode a) does not read. As strings, the values are the
ones `schemas.validation.to_json` already writes, and mode (a) and (b) see the same text.
The cost: Pub/Sub checks only that they are strings; a malformed date fails at the
BigQuery write and goes to the subscription's dead-letter topic instead of being refused
at publish. GEOGRAPHY is not in that page's list for Avro `string` (STRING, JSON, TIMESTAMP,
DATETIME, DATE, TIME, NUMERIC, BIGNUMERIC); the Storage Write API behind the subscription
takes WKT text for GEOGRAPHY, but only a deploy against a real project proves the mapping.

JSON encoding follows the Avro specification: a non-null value of a union is wrapped in an
object naming its branch (`{"double": 21.5}`), null is bare. `encode_message` turns a
normalised row into that form; `decode_message` checks a message the way Pub/Sub does and
unwraps it. What a topic schema cannot carry: the ranges of `tables.toml`, the derived
`home_id` agreeing with `data.home_id`, and `row_id` following from the content. In mode (b)
those hold because the edge publishes only rows that passed `validate_row`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from schemas import Field, Table

# Avro JSON encoding of a union branch uses the branch's type name (its full name for a
# named type): https://avro.apache.org/docs/1.11.1/specification/#json-encoding
_AVRO_PRIMITIVES = {
    "STRING": "string",
    "INTEGER": "long",
    "FLOAT": "double",
    "BOOLEAN": "boolean",
    "DATE": "string",
    "TIMESTAMP": "string",
    "GEOGRAPHY": "string",
}
_LONG = (-(2**63), 2**63 - 1)


class TopicSchemaError(ValueError):
    """A table that has no topic schema: only ingest tables are published to Pub/Sub."""


class MessageError(ValueError):
    """A message the topic schema refuses; Pub/Sub would answer INVALID_ARGUMENT."""


def namespace(table: Table) -> str:
    return f"livability.v{table.version}"


def avro_schema(table: Table) -> dict[str, Any]:
    """The Avro schema of `table`'s topic: a record named after the table."""
    if not table.ingest:
        raise TopicSchemaError(
            f"table {table.name!r} is not an ingest table: only devices' and pollers' tables "
            "are published to Pub/Sub, so it has no topic schema"
        )
    return _record(table.name, namespace(table), table.description, table.fields)


def avro_schema_json(table: Table) -> str:
    """The schema as JSON text: the same bytes for the same contract, for the infra stack."""
    return json.dumps(avro_schema(table), indent=2, ensure_ascii=False) + "\n"


def _record(name: str, space: str, doc: str, fields: tuple[Field, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "record", "name": name, "namespace": space}
    if doc:
        out["doc"] = doc
    out["fields"] = [_field(f, f"{space}.{name}") for f in fields]
    return out


def _field(f: Field, space: str) -> dict[str, Any]:
    if f.type == "RECORD":
        type_: Any = _record(f.name, space, "", f.fields)
    elif f.type in _AVRO_PRIMITIVES:
        type_ = _AVRO_PRIMITIVES[f.type]
    else:
        raise TopicSchemaError(f"{space}.{f.name}: {f.type} has no Avro mapping here")
    out: dict[str, Any] = {"name": f.name}
    if f.required:
        out["type"] = type_
    else:
        out["type"] = ["null", type_]
        out["default"] = None
    if f.description:
        out["doc"] = f.description
    return out


def branch_name(type_: Any) -> str:
    """The name that wraps a union value of this type in Avro's JSON encoding."""
    if isinstance(type_, str):
        return type_
    if isinstance(type_, Mapping) and type_.get("type") == "record":
        space = type_.get("namespace")
        return f"{space}.{type_['name']}" if space else str(type_["name"])
    if isinstance(type_, Mapping):
        return str(type_["type"])
    raise TopicSchemaError(f"{type_!r} is not a type this module generates")


def encode_message(schema: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready row (`to_json(validate_row(...))`) in Avro's JSON encoding for `schema`."""
    return _encode_record(schema, row)


def _encode_record(schema: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in schema["fields"]:
        value = row.get(f["name"])
        type_ = f["type"]
        if isinstance(type_, list):
            branch = type_[1]
            out[f["name"]] = (
                None if value is None else {branch_name(branch): _encode_value(branch, value)}
            )
        else:
            out[f["name"]] = _encode_value(type_, value)
    return out


def _encode_value(type_: Any, value: Any) -> Any:
    if isinstance(type_, Mapping) and type_.get("type") == "record":
        return _encode_record(type_, value)
    return value


def decode_message(schema: Mapping[str, Any], data: bytes) -> dict[str, Any]:
    """Check a message against the topic schema as Pub/Sub does; return its plain values.

    Refused (MessageError, naming the field): not a JSON object, a field of the schema
    missing, a field the schema does not declare, a value of the wrong type, a union value
    not wrapped in its branch name. The result is the row with unions unwrapped: the JSON
    the event processor (mode a) takes.
    """
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise MessageError(f"message: not JSON ({err})") from None
    return _decode_record(schema, body, "")


def _decode_record(schema: Mapping[str, Any], value: Any, path: str) -> dict[str, Any]:
    where = path or "message"
    if not isinstance(value, dict):
        raise MessageError(f"{where}: expected a JSON object for record {schema['name']}")
    names = [f["name"] for f in schema["fields"]]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise MessageError(f"{where}: field(s) {unknown} are not in the topic schema")
    out: dict[str, Any] = {}
    for f in schema["fields"]:
        field_path = f"{path}.{f['name']}" if path else f["name"]
        if f["name"] not in value:
            raise MessageError(f"{field_path}: required by the topic schema, missing")
        out[f["name"]] = _decode_value(f["type"], value[f["name"]], field_path)
    return out


def _decode_value(type_: Any, value: Any, path: str) -> Any:
    if isinstance(type_, list):
        return _decode_union(type_, value, path)
    if isinstance(type_, Mapping):
        if type_.get("type") == "record":
            return _decode_record(type_, value, path)
        return _decode_value(type_["type"], value, path)
    return _decode_primitive(type_, value, path)


def _decode_primitive(type_: str, value: Any, path: str) -> Any:  # noqa: PLR0912 - one per type
    if type_ == "null":
        if value is not None:
            raise MessageError(f"{path}: expected null")
        return None
    if type_ == "string":
        if not isinstance(value, str):
            raise MessageError(f"{path}: expected a string, got {_kind(value)}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MessageError(f"{path}: not valid Unicode (lone surrogate)") from None
        return value
    if type_ == "boolean":
        if not isinstance(value, bool):
            raise MessageError(f"{path}: expected a boolean, got {_kind(value)}")
        return value
    if type_ in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise MessageError(f"{path}: expected a {type_} (a JSON integer), got {_kind(value)}")
        if not _LONG[0] <= value <= _LONG[1]:
            raise MessageError(f"{path}: {value} does not fit in a {type_}")
        return value
    if type_ in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MessageError(f"{path}: expected a {type_} (a JSON number), got {_kind(value)}")
        if not math.isfinite(value):
            raise MessageError(f"{path}: {value} is not a finite number")
        return float(value)
    raise MessageError(f"{path}: type {type_!r} is not one this module generates")


def _decode_union(branches: list[Any], value: Any, path: str) -> Any:
    if value is None:
        if "null" not in branches:
            raise MessageError(f"{path}: null is not allowed")
        return None
    named = {branch_name(b): b for b in branches if b != "null"}
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in named:
        raise MessageError(
            f"{path}: a union value must be null or an object with one key naming its branch "
            f"({', '.join(sorted(named))}), got {_kind(value)}"
        )
    ((name, inner),) = value.items()
    return _decode_value(named[name], inner, path)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
