"""Validate rows and write them, sending every invalid one to the dead-letter table.

Shared by the event processor (Pub/Sub messages) and `load-archive` (BigQuery exports),
so both apply the same contract and the same idempotency keys.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from livability.warehouse import Warehouse
from schemas import Table, registry
from schemas.validation import RowError, row_id, validate_row

DEAD_LETTER = "dead_letter"
log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    loaded: int = 0  # valid rows that were new
    rejected: int = 0  # rows sent to dead_letter
    duplicates: int = 0  # valid rows already stored (a redelivery, a second load)

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.loaded + other.loaded,
            self.rejected + other.rejected,
            self.duplicates + other.duplicates,
        )


@dataclass(frozen=True)
class Rejection:
    """Something that could not land: a row or a whole message, and why."""

    reason: str
    payload: str
    target_table: str | None


def payload_text(raw: Any) -> str:
    """The raw payload as text for the dead-letter table, losing nothing JSON can carry."""
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    return json.dumps(raw, default=str, ensure_ascii=False)


def dead_letter(
    warehouse: Warehouse,
    rejections: Sequence[Rejection],
    *,
    source: str | None,
    received_at: datetime,
) -> int:
    """Store rejections in `dead_letter`; returns how many were new."""
    if not rejections:
        return 0
    table = registry()[DEAD_LETTER]
    rows = [
        validate_row(
            table,
            {
                "day": received_at.date().isoformat(),
                "received_at": received_at.isoformat(),
                "message_id": source,
                "target_table": r.target_table,
                "reason": r.reason,
                "payload": r.payload,
            },
        )
        for r in rejections
    ]
    # The id leaves out received_at, so a redelivered poison message is stored once.
    ids = [
        row_id(table, {**row, "day": None, "received_at": None, "message_id": None}) for row in rows
    ]
    for r in rejections:
        log.warning(
            "rejected",
            extra={"reason": r.reason, "target_table": r.target_table, "source": source},
        )
    return warehouse.insert_rows(DEAD_LETTER, rows, ids)


def ingest_rows(
    warehouse: Warehouse,
    table: Table,
    rows: Iterable[Any],
    *,
    source: str | None,
    received_at: datetime,
    first: int = 0,
) -> IngestResult:
    """Validate `rows` for `table`; write the valid ones and dead-letter the rest.

    Reasons number rows from `first` (0-based), so a batch of a larger file points at
    the row's place in the file.
    """
    valid: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(rows):
        try:
            valid.append(validate_row(table, raw))
        except RowError as err:
            rejections.append(
                Rejection(f"row {first + index}: {err}", payload_text(raw), table.name)
            )
    # Dead letters first: if the valid rows then fail to land, the redelivery finds the
    # dead letters already stored under the same ids and adds no copy.
    dead_letter(warehouse, rejections, source=source, received_at=received_at)
    ids = [row_id(table, row) for row in valid]
    loaded = warehouse.insert_rows(table.name, valid, ids)
    return IngestResult(loaded=loaded, rejected=len(rejections), duplicates=len(valid) - loaded)
