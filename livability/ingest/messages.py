"""Turn one Pub/Sub message into warehouse rows: route, decode, validate, write.

A poison message (undecodable, or naming a table or dataset it may not write) never
raises: it goes to the dead-letter table whole, so Pub/Sub does not redeliver it forever.
A warehouse failure does raise, so the platform answers 500 and Pub/Sub redelivers.

Parsing is total rather than guarded: each step catches the errors its input can cause
(`ValueError` for an integer of 5,000 digits, `RecursionError` for JSON nested 100k deep,
`UnicodeError` for bytes that are not UTF-8 or text with lone surrogates, `TypeError` for a
value of the wrong type) and names the field and the value in a `PoisonMessageError`.
Every byte is decoded by `livability.ingest.decoding`, the one strict decoder that replay
and load-archive use too; `livability.ingest.delivery` reads the HTTP request before any of it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from livability.ingest.decoding import MAX_ROWS, PoisonMessageError, decode_rows
from livability.ingest.rows import (
    BASE64_PREFIX,
    IngestResult,
    Rejection,
    dead_letter,
    ingest_rows,
    payload_text,
)
from livability.messages import TABLE_ATTRIBUTE
from livability.ports import Bucket, Warehouse
from schemas import Table, registry
from schemas.validation import shown

log = logging.getLogger(__name__)
__all__ = ["MAX_ROWS", "PoisonMessageError", "decode_rows"]  # their home is ingest.decoding

# Pub/Sub's own limits (cloud.google.com/pubsub/quotas): a message of at most 10 MB, at most
# 100 attributes, keys of 256 bytes and values of 1024. Nothing Pub/Sub delivers exceeds them.
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_KEY = 256
MAX_ATTRIBUTE_VALUE = 1024
# Pub/Sub message ids are decimal numbers; CloudEvent ids (`ce-id`) are short printable text.
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,256}")


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


# Every reason a whole message is dead-lettered with starts with the message field it names
# (`_reject` makes sure); a row's reason starts with where the row was (`row 3: `, `<file>
# line 7: `). Replay reads a dead letter back as a message or as one row by this.
NO_MESSAGE = "CloudEvent data has no "
MESSAGE_FIELDS = ("message.", "table_id:", "dataset_id:", "attributes.", "message:", NO_MESSAGE)


def is_message_reason(reason: str) -> bool:
    """Whether a dead letter with this reason is a whole message (else it is one row)."""
    return reason.startswith(MESSAGE_FIELDS)


def event_id_text(event_id: object) -> str | None:
    """An event or message id as the platform stores it, or None if it is not one."""
    if isinstance(event_id, str) and _MESSAGE_ID.fullmatch(event_id):
        return event_id
    return None


def message_from_event(data: Any, event_id: str | None = None) -> PubSubMessage:
    """The Pub/Sub message inside a CloudEvent's data (Eventarc and push share the shape)."""
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise PoisonMessageError(f"{NO_MESSAGE}Pub/Sub 'message' object")
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


def process_event(
    data: Any,
    event_id: object,
    warehouse: Warehouse,
    *,
    received_at: datetime,
    spill: Bucket | None = None,
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
            spill=spill,
        )
    return process_message(message, warehouse, received_at=received_at, spill=spill)


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
    message: PubSubMessage,
    warehouse: Warehouse,
    *,
    received_at: datetime,
    spill: Bucket | None = None,
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
            spill=spill,
        )
    result = ingest_rows(
        warehouse, table, rows, source=message.message_id, received_at=received_at, spill=spill
    )
    return Outcome(table.name, result)


def _reject(
    warehouse: Warehouse,
    err: PoisonMessageError,
    *,
    payload: str,
    target_table: str | None,
    message_id: str | None,
    received_at: datetime,
    spill: Bucket | None,
) -> Outcome:
    reason = str(err) if is_message_reason(str(err)) else f"message: {err}"
    rejection = Rejection(reason, payload, target_table)
    dead_letter(warehouse, [rejection], source=message_id, received_at=received_at, spill=spill)
    return Outcome(None, IngestResult(rejected=1), poison=reason)
