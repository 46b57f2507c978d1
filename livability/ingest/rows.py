"""Validate rows and write them, sending every invalid one to the dead-letter table.

Shared by the event processor (Pub/Sub messages) and `load-archive` (BigQuery exports),
so both apply the same contract and the same idempotency keys. A row the warehouse itself
refuses (BigQuery's per-row insert errors) is dead-lettered with the warehouse's reason:
the reference code printed those errors and lost the rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from livability import signals
from livability.ports import Bucket, InsertResult, Warehouse, WarehouseError
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
    """The raw payload as UTF-8-safe text for the dead-letter table, losing nothing it can keep.

    Bytes that are not UTF-8 are kept as base64; text with lone surrogates (which no
    warehouse stores) is kept with JSON escapes. Total: a value no encoder can write (an
    integer of 5,000 digits, a list nested beyond the recursion limit) is described instead.
    """
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return BASE64_PREFIX + base64.b64encode(raw).decode("ascii")
    try:
        text = json.dumps(raw, default=str, ensure_ascii=False)
    except ValueError as err:  # an int beyond int_max_str_digits, or a circular structure
        return f"<{type(raw).__name__} that JSON cannot hold: {err}>"
    except RecursionError:
        return f"<{type(raw).__name__} nested deeper than the recursion limit>"
    return text if _encodable(text) else json.dumps(raw, default=str, ensure_ascii=True)


BASE64_PREFIX = "base64:"
# A dead letter must always be storable: BigQuery's streaming rows are at most 10 MB, and a
# reader of the table wants the gist. Beyond this, keep a prefix plus the length and hash.
MAX_PAYLOAD_BYTES = 1_000_000
MAX_REASON_CHARS = 10_000
MAX_NAME_CHARS = 1024


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def storable(text: str, limit: int) -> str:
    """`text` as valid UTF-8 of at most `limit` characters (lone surrogates escaped)."""
    if not _encodable(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Where a payload over MAX_PAYLOAD_BYTES is kept whole, in the data bucket (LIVABILITY_BUCKET):
# `dead-letters/<day>/<sha256>`, named by its content, so a redelivery writes the same object.
SPILL_PREFIX = "dead-letters"
_KEPT = re.compile(
    r"kept whole at (?P<key>" + SPILL_PREFIX + r"/[0-9]{4}-[0-9]{2}-[0-9]{2}/[0-9a-f]{64}) "
    r"in the data bucket; sha256 of the whole: (?P<sha256>[0-9a-f]{64})\]"
)
_CUT = re.compile(r"\[payload of [0-9]+ bytes cut to its first [0-9]+;")


def bounded_payload(
    payload: str, reason: str, *, spill: Bucket | None = None, day: str = ""
) -> tuple[str, str]:
    """(payload, reason) with an enormous payload cut to a prefix; the reason says so.

    With a `spill` bucket the whole payload is kept there first (a `BucketError` raises: a
    backend failure, retried), and the reason names its key, so replay can read it back.
    """
    payload = storable(payload, len(payload))
    data = payload.encode("utf-8")
    if len(data) <= MAX_PAYLOAD_BYTES:
        return payload, reason
    prefix = data[:MAX_PAYLOAD_BYTES].decode("utf-8", "ignore")  # no split character
    digest = hashlib.sha256(data).hexdigest()
    kept = ""
    if spill is not None:
        key = f"{SPILL_PREFIX}/{day}/{digest}"
        spill.put(key, data, "text/plain; charset=utf-8")
        kept = f"kept whole at {key} in the data bucket; "
    return prefix, (
        f"{reason} [payload of {len(data)} bytes cut to its first "
        f"{len(prefix.encode('utf-8'))}; {kept}sha256 of the whole: {digest}]"
    )


def kept_payload(reason: str) -> tuple[str, str] | None:
    """(bucket key, sha256) of the whole payload a cut dead letter's reason names, if any."""
    found = _KEPT.search(reason)
    return (found["key"], found["sha256"]) if found else None


def was_cut(reason: str) -> bool:
    """Whether a dead letter's payload is only a prefix of what was received."""
    return bool(_CUT.search(reason))


def dead_letter(
    warehouse: Warehouse,
    rejections: Sequence[Rejection],
    *,
    source: str | None,
    received_at: datetime,
    spill: Bucket | None = None,
) -> int:
    """Store rejections in `dead_letter`; returns how many were new.

    The row id leaves out when and through which message a payload came (`identity` in
    tables.toml), so a redelivered poison message is stored once. Every value is made
    storable first (valid UTF-8, bounded), so a hostile payload can never make the
    dead-letter write itself fail; a payload over `MAX_PAYLOAD_BYTES` is kept whole in
    `spill` (the data bucket) when one is given.
    """
    if not rejections:
        return 0
    table = registry()[DEAD_LETTER]
    source = None if source is None else storable(source, MAX_NAME_CHARS)
    rows = []
    for r in rejections:
        payload, reason = bounded_payload(
            r.payload,
            storable(r.reason, MAX_REASON_CHARS),
            spill=spill,
            day=received_at.date().isoformat(),
        )
        target = None if r.target_table is None else storable(r.target_table, MAX_NAME_CHARS)
        rows.append(
            validate_row(
                table,
                {
                    "day": received_at.date().isoformat(),
                    "received_at": received_at.isoformat(),
                    "message_id": source,
                    "target_table": target,
                    "reason": reason,
                    "payload": payload,
                },
            )
        )
        signal = signals.fields(
            signals.DEAD_LETTER, reason_class=signals.reason_class(reason), target_table=target
        )
        log.warning("rejected", extra={"reason": reason[:500], "source": source, **signal})
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
    spill: Bucket | None = None,
    keep: Callable[[list[Rejection]], list[Rejection]] = list,
) -> IngestResult:
    """Validate `rows` for `table`; write the valid ones and dead-letter the rest.

    `keep` chooses which rejections are stored one by one (load-archive's dead-letter cap);
    every rejection is counted either way.

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
    dead_letter(warehouse, keep(rejections), source=source, received_at=received_at, spill=spill)
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
    dead_letter(warehouse, keep(refused), source=source, received_at=received_at, spill=spill)
    return IngestResult(
        loaded=result.inserted,
        rejected=len(rejections) + len(refused),
        duplicates=len(valid) - result.inserted - len(refused),
    )
