"""Validate rows and write them, sending every invalid one to the dead-letter table.

Shared by the event processor (Pub/Sub messages) and `load-archive` (BigQuery exports),
so both apply the same contract and the same idempotency keys. A row the warehouse itself
refuses (BigQuery's per-row insert errors) is dead-lettered with the warehouse's reason:
the reference code printed those errors and lost the rows.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from livability.ports import InsertResult, Warehouse, WarehouseError
from schemas import ROW_ID, Table, registry
from schemas.validation import RowError, to_json, validate_row

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
    """The raw payload as UTF-8-safe text for the dead-letter table, losing nothing.

    Bytes that are not UTF-8 are kept as base64; text with lone surrogates (which no
    warehouse stores) is kept with JSON escapes.
    """
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    try:
        text = json.dumps(raw, default=str, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(raw, default=str, ensure_ascii=True)
    except (ValueError, RecursionError):  # a circular or too deep structure
        return repr(raw)[:100_000]
    return text


def dead_letter(
    warehouse: Warehouse,
    rejections: Sequence[Rejection],
    *,
    source: str | None,
    received_at: datetime,
) -> int:
    """Store rejections in `dead_letter`; returns how many were new.

    The row id leaves out when and through which message a payload came (`identity` in
    tables.toml), so a redelivered poison message is stored once.
    """
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
    for r in rejections:
        log.warning(
            "rejected",
            extra={"reason": r.reason[:500], "target_table": r.target_table, "source": source},
        )
    result = warehouse.insert_rows(DEAD_LETTER, rows, [row[ROW_ID] for row in rows])
    if result.failed:
        # The dead-letter table refusing a dead letter is a backend fault: retry later.
        raise WarehouseError(f"dead_letter refused rows: {result.failed[0].reason}")
    return result.inserted


def ingest_rows(
    warehouse: Warehouse,
    table: Table,
    rows: Iterable[Any],
    *,
    source: str | None,
    received_at: datetime,
    first: int = 0,
    batch: bool = False,
    where: Callable[[int], str] | None = None,
) -> IngestResult:
    """Validate `rows` for `table`; write the valid ones and dead-letter the rest.

    `batch` selects the warehouse's exact batch path (`load_rows`) over streaming inserts.
    Reasons name each row by `where(index)` (default `row N`, numbered from `first`), so a
    row of a file points at its place in the file.
    """
    name = where or (lambda index: f"row {first + index}")
    valid: list[dict[str, Any]] = []
    positions: list[int] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(rows):
        try:
            valid.append(validate_row(table, raw))
            positions.append(index)
        except RowError as err:
            rejections.append(Rejection(f"{name(index)}: {err}", payload_text(raw), table.name))
    # Dead letters first: if the valid rows then fail to land, the redelivery finds the
    # dead letters already stored under the same ids and adds no copy.
    dead_letter(warehouse, rejections, source=source, received_at=received_at)
    write = warehouse.load_rows if batch else warehouse.insert_rows
    result: InsertResult = write(table.name, valid, [row[ROW_ID] for row in valid])
    refused = [
        Rejection(
            f"{name(positions[f.index])}: refused by the warehouse: {f.reason}",
            payload_text(to_json(valid[f.index])),
            table.name,
        )
        for f in result.failed
    ]
    dead_letter(warehouse, refused, source=source, received_at=received_at)
    return IngestResult(
        loaded=result.inserted,
        rejected=len(rejections) + len(refused),
        duplicates=len(valid) - result.inserted - len(refused),
    )
