"""Turn one Pub/Sub message into warehouse rows: route, decode, validate, write.

A poison message (undecodable, or naming a table or dataset it may not write) never
raises: it goes to the dead-letter table whole, so Pub/Sub does not redeliver it forever.
A warehouse failure does raise, so the platform answers 500 and Pub/Sub redelivers.

Parsing is total rather than guarded: each step catches the errors its input can cause
(`ValueError` for an integer of 5,000 digits, `RecursionError` for JSON nested 100k deep,
`UnicodeError` for bytes that are not UTF-8 or text with lone surrogates, `TypeError` for a
value of the wrong type) and names the field and the value in a `PoisonMessageError`.
Before any of it, `body_problem` says why an HTTP body is no JSON at all: the event
processor answers such a sender 400 (Pub/Sub never sends one).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from livability.ingest.rows import (
    BASE64_PREFIX,
    IngestResult,
    Rejection,
    dead_letter,
    ingest_rows,
    payload_text,
)
from livability.messages import TABLE_ATTRIBUTE
from livability.ports import Warehouse
from schemas import Table, registry
from schemas.validation import shown

log = logging.getLogger(__name__)

# Pub/Sub's own limits (cloud.google.com/pubsub/quotas): a message of at most 10 MB, at most
# 100 attributes, keys of 256 bytes and values of 1024. Nothing Pub/Sub delivers exceeds them.
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY = 256
MAX_ATTRIBUTE_VALUE = 1024
# Pub/Sub message ids are decimal numbers; CloudEvent ids (`ce-id`) are short printable text.
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,256}")
# The contract's rows nest 2 levels (row, `data`), a message 3 (its list). Anything far
# deeper is no row; refusing it early keeps every later encoder away from the recursion limit.
MAX_JSON_DEPTH = 32
# Typical messages hold 1-100 rows; a 10 MB message of `{}` would be 3 million dead letters.
MAX_ROWS = 10_000


class PoisonMessageError(ValueError):
    """A message that no retry can make valid."""


@dataclass(frozen=True)
class PubSubMessage:
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    table: str | None
    result: IngestResult
    poison: str | None = None  # why the whole message was dead-lettered


def event_id_text(event_id: object) -> str | None:
    """An event or message id as the platform stores it, or None if it is not one."""
    if isinstance(event_id, str) and _MESSAGE_ID.fullmatch(event_id):
        return event_id
    return None


def body_problem(body: bytes) -> str | None:
    """Why an HTTP request body is not JSON anyone can parse, or None if it is.

    Pub/Sub and Eventarc always send well-formed JSON (the message itself is base64 inside
    it), so a body with a problem comes from another sender: the caller answers 400.
    """
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as err:
        return f"request body: not UTF-8 (byte 0x{body[err.start]:02x} at offset {err.start})"
    except RecursionError:
        return "request body: JSON nested deeper than the parser's recursion limit"
    except ValueError as err:  # JSONDecodeError, or an integer of more than 4,300 digits
        return f"request body: not JSON this platform reads ({err})"
    return None


def message_from_event(data: Any, event_id: str | None = None) -> PubSubMessage:
    """The Pub/Sub message inside a CloudEvent's data (Eventarc and push share the shape)."""
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise PoisonMessageError("CloudEvent data has no Pub/Sub 'message' object")
    raw_id = message.get("messageId", message.get("message_id", event_id))
    message_id = event_id_text(raw_id)
    if raw_id is not None and message_id is None:
        raise PoisonMessageError(
            f"message.messageId: {shown(raw_id)} is not an id (1-256 printable ASCII characters)"
        )
    attributes = _attributes(message.get("attributes"))
    encoded = message.get("data")
    if encoded is None:
        encoded = ""
    if not isinstance(encoded, str):
        raise PoisonMessageError(f"message.data: {shown(encoded)} is not a base64 string")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):  # ValueError: characters beyond ASCII
        raise PoisonMessageError(f"message.data: {shown(encoded)} is not valid base64") from None
    return PubSubMessage(raw, attributes, message_id)


def _attributes(raw: Any) -> dict[str, str]:
    """Pub/Sub attributes: an object of at most 100 short UTF-8 strings."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PoisonMessageError(f"message.attributes: {shown(raw)} is not an object")
    if len(raw) > MAX_ATTRIBUTES:
        raise PoisonMessageError(
            f"message.attributes: {len(raw)} attributes, more than Pub/Sub's {MAX_ATTRIBUTES}"
        )
    out: dict[str, str] = {}
    for key, value in raw.items():
        name = (
            f"message.attributes.{key}"
            if key.isidentifier() and len(key) <= 64
            else f"message.attributes[{shown(key)}]"
        )
        if not isinstance(value, str):
            raise PoisonMessageError(f"{name}: {shown(value)} is not a string")
        try:
            key_bytes, value_bytes = len(key.encode("utf-8")), len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise PoisonMessageError(
                f"{name}: {shown(value)} is not valid Unicode (a lone surrogate)"
            ) from None
        if key_bytes > MAX_ATTRIBUTE_KEY or value_bytes > MAX_ATTRIBUTE_VALUE:
            raise PoisonMessageError(
                f"{name}: {shown(value)} is longer than Pub/Sub allows "
                f"({MAX_ATTRIBUTE_KEY} bytes for a key, {MAX_ATTRIBUTE_VALUE} for a value)"
            )
        out[key] = value
    return out


def _quoted(text: str) -> str:
    """A name for a message: repr() when short and printable, else bounded JSON escapes."""
    return repr(text) if len(text) <= 64 and text.isprintable() else shown(text)


def route(attributes: Mapping[str, str], dataset: str) -> Table:
    """The table a message may write: one the contract defines for ingest, in our dataset.

    The reference PoC inserted into whatever dataset/table a message named, so anyone
    holding a device key could write anywhere; here the contract is the allow-list.
    """
    named_dataset = attributes.get("dataset_id")
    if named_dataset is not None and named_dataset != dataset:
        raise PoisonMessageError(
            f"dataset_id: {_quoted(named_dataset)} is not the configured dataset {dataset!r}"
        )
    table_id = attributes.get(TABLE_ATTRIBUTE)
    if not table_id:
        raise PoisonMessageError("table_id: attribute is missing")
    if table_id not in registry():
        known = ", ".join(sorted(t.name for t in registry()))
        raise PoisonMessageError(
            f"table_id: table {_quoted(table_id)} is not defined in schemas/ (known: {known})"
        )
    table = registry()[table_id]
    if not table.ingest:
        raise PoisonMessageError(f"table_id: {table_id!r} does not accept device data")
    return table


def _no_constant(name: str) -> Any:
    raise PoisonMessageError(
        f"message.data: {name} is not valid JSON (JSON has no NaN or Infinity)"
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise PoisonMessageError(
                    f"message.data: key {shown(key)} appears twice in one object (ambiguous JSON)"
                )
            seen.add(key)
    return out


def _too_deep(body: Any, limit: int) -> bool:
    """Whether `body` nests deeper than `limit`; iterative, so itself safe from recursion."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def decode_rows(raw: bytes) -> list[Any]:
    """The message body: one JSON row object or a non-empty JSON array of rows.

    Strict JSON, as BigQuery reads it: UTF-8 only, no NaN or Infinity, no key twice in an
    object; an integer beyond 4,300 digits or nesting beyond the recursion limit is refused
    with its reason instead of raising.
    """
    if not raw:
        raise PoisonMessageError("message.data: empty, with no row to store")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PoisonMessageError(
            f"message.data: not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})"
        ) from None
    try:
        body = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise PoisonMessageError(f"message.data: not JSON ({err})") from None
    except RecursionError:
        raise PoisonMessageError(
            f"message.data: not JSON this platform reads (nested deeper than {MAX_JSON_DEPTH} "
            "levels)"
        ) from None
    except PoisonMessageError:
        raise
    except ValueError as err:  # int() of more than sys.get_int_max_str_digits() digits
        raise PoisonMessageError(f"message.data: not JSON this platform reads ({err})") from None
    if isinstance(body, (dict, list)) and _too_deep(body, MAX_JSON_DEPTH):
        raise PoisonMessageError(
            f"message.data: not JSON this platform reads (nested deeper than {MAX_JSON_DEPTH} "
            "levels)"
        )
    if isinstance(body, dict):
        return [body]
    if not isinstance(body, list):
        raise PoisonMessageError(f"message.data: {shown(body)} is neither a row nor a list")
    if not body:
        raise PoisonMessageError("message.data: [] is an empty list, with no row to store")
    if len(body) > MAX_ROWS:
        raise PoisonMessageError(
            f"message.data: {len(body)} rows, more than the {MAX_ROWS} one message may hold"
        )
    return body


def process_event(
    data: Any, event_id: object, warehouse: Warehouse, *, received_at: datetime
) -> Outcome:
    """Handle a CloudEvent's data; what is not even a Pub/Sub message is dead-lettered whole."""
    try:
        message = message_from_event(data, event_id_text(event_id))
    except PoisonMessageError as err:
        return _reject(
            warehouse,
            err,
            payload=payload_text(data),
            target_table=_target(data),
            message_id=event_id_text(event_id),
            received_at=received_at,
        )
    return process_message(message, warehouse, received_at=received_at)


def _target(data: Any) -> str | None:
    """The table a malformed message names, if it names one as text: for the dead letter."""
    message = data.get("message") if isinstance(data, Mapping) else None
    attributes = message.get("attributes") if isinstance(message, Mapping) else None
    table_id = attributes.get(TABLE_ATTRIBUTE) if isinstance(attributes, Mapping) else None
    return table_id if isinstance(table_id, str) else None


# Pub/Sub adds this attribute to each message of a topic that has a schema.
SCHEMA_ENCODING = "googclient_schemaencoding"


def decode_body(table: Table, message: PubSubMessage) -> list[Any]:
    """The rows of a message: the reference format, or one record of our topic schema.

    A topic with the schema of `schemas.topic` (JSON encoding, for a BigQuery subscription)
    carries Avro JSON, where a nullable value is wrapped in its type (`{"double": 21.5}`);
    its rows are unwrapped against the same generated schema, so both modes read one format.
    """
    encoding = message.attributes.get(SCHEMA_ENCODING)
    if encoding is None:
        return decode_rows(message.data)
    if encoding != "JSON":
        raise PoisonMessageError(
            f"attributes.{SCHEMA_ENCODING}: {_quoted(encoding)} is not supported (use JSON)"
        )
    from schemas.topic import MessageError, avro_schema, decode_message

    decode_rows(message.data)  # the same strictness first: UTF-8, depth, NaN, duplicate keys
    try:
        return [decode_message(avro_schema(table), message.data)]
    except MessageError as err:
        raise PoisonMessageError(f"message.data: {err} (topic schema of {table.name})") from None


def process_message(
    message: PubSubMessage, warehouse: Warehouse, *, received_at: datetime
) -> Outcome:
    """Write a message's valid rows and dead-letter the rest. Raises only if a sink fails."""
    try:
        table = route(message.attributes, warehouse.dataset)
        rows = decode_body(table, message)
    except PoisonMessageError as err:
        payload = payload_text(message.data)
        reason = str(err)
        if payload.startswith(BASE64_PREFIX) and "UTF-8" not in reason:
            reason += " (the payload is not UTF-8: kept as base64)"
        return _reject(
            warehouse,
            PoisonMessageError(reason),
            payload=payload,
            target_table=message.attributes.get(TABLE_ATTRIBUTE),
            message_id=message.message_id,
            received_at=received_at,
        )
    result = ingest_rows(warehouse, table, rows, source=message.message_id, received_at=received_at)
    return Outcome(table.name, result)


def _reject(
    warehouse: Warehouse,
    err: PoisonMessageError,
    *,
    payload: str,
    target_table: str | None,
    message_id: str | None,
    received_at: datetime,
) -> Outcome:
    rejection = Rejection(str(err), payload, target_table)
    dead_letter(warehouse, [rejection], source=message_id, received_at=received_at)
    return Outcome(None, IngestResult(rejected=1), poison=str(err))
