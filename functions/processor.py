"""Turn one Pub/Sub message into warehouse rows: route, decode, validate, write.

A poison message (undecodable, or naming a table or dataset it may not write) never
raises: it goes to the dead-letter table whole, so Pub/Sub does not redeliver it forever.
A warehouse failure does raise, so the platform answers 500 and Pub/Sub redelivers.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from livability.ingest import IngestResult, Rejection, dead_letter, ingest_rows, payload_text
from livability.ports import Warehouse
from schemas import Table, UnknownTableError, registry

log = logging.getLogger(__name__)


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


def message_from_event(data: Any, event_id: str | None = None) -> PubSubMessage:
    """The Pub/Sub message inside a CloudEvent's data (Eventarc and push share the shape)."""
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        raise PoisonMessageError("CloudEvent data has no Pub/Sub 'message' object")
    attributes = message.get("attributes") or {}
    message_id = message.get("messageId") or message.get("message_id") or event_id
    encoded = message.get("data") or ""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise PoisonMessageError(
            f"message.data: {str(encoded)[:40]!r} is not valid base64"
        ) from None
    if not isinstance(attributes, Mapping):
        raise PoisonMessageError(f"message.attributes: {attributes!r} is not an object")
    return PubSubMessage(raw, {str(k): str(v) for k, v in attributes.items()}, message_id)


def route(attributes: Mapping[str, str], dataset: str) -> Table:
    """The table a message may write: one the contract defines for ingest, in our dataset.

    The reference PoC inserted into whatever dataset/table a message named, so anyone
    holding a device key could write anywhere; here the contract is the allow-list.
    """
    named_dataset = attributes.get("dataset_id")
    if named_dataset is not None and named_dataset != dataset:
        raise PoisonMessageError(
            f"dataset_id: {named_dataset!r} is not the configured dataset {dataset!r}"
        )
    table_id = attributes.get("table_id")
    if not table_id:
        raise PoisonMessageError("table_id: attribute is missing")
    try:
        table = registry()[table_id]
    except UnknownTableError as err:
        raise PoisonMessageError(f"table_id: {err}") from None
    if not table.ingest:
        raise PoisonMessageError(f"table_id: {table_id!r} does not accept device data")
    return table


def decode_rows(raw: bytes) -> list[Any]:
    """The message body: one JSON row object or a JSON array of rows."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PoisonMessageError(f"message.data: not JSON ({err})") from None
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return body
    raise PoisonMessageError(f"message.data: {payload_text(body)[:40]} is neither a row nor a list")


def process_event(
    data: Any, event_id: str | None, warehouse: Warehouse, *, received_at: datetime
) -> Outcome:
    """Handle a CloudEvent's data; what is not even a Pub/Sub message is dead-lettered whole."""
    try:
        message = message_from_event(data, event_id)
    except PoisonMessageError as err:
        return _reject(
            warehouse,
            err,
            payload=payload_text(data),
            target_table=None,
            message_id=event_id,
            received_at=received_at,
        )
    return process_message(message, warehouse, received_at=received_at)


def process_message(
    message: PubSubMessage, warehouse: Warehouse, *, received_at: datetime
) -> Outcome:
    """Write a message's valid rows and dead-letter the rest. Raises only if a sink fails."""
    try:
        table = route(message.attributes, warehouse.dataset)
        rows = decode_rows(message.data)
    except PoisonMessageError as err:
        return _reject(
            warehouse,
            err,
            payload=payload_text(message.data),
            target_table=message.attributes.get("table_id"),
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
