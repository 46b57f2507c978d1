"""Operators' view of the dead-letter table: list what was rejected, replay it.

Dead letters are never updated or deleted. A replay re-validates a dead letter's payload
against the contract as it is now and APPENDS a replay record: a `dead_letter` row with
`replay_of` = the original's row id and `replay_outcome` 'loaded', 'duplicate' (the rows
were stored already) or 'rejected' (`reason` says why, again). A row that now passes is
written with the exact batch path (`load_rows`), so replaying twice stores it once.

Everything goes through the Warehouse port in SQL that runs on DuckDB and BigQuery alike.
`dead_letter` is partitioned by `day` and BigQuery refuses a query on it without a filter on
the partition column, so every query here has a `day >= @since`. The base table is read,
not its `_dedup` view (BigQuery cannot always push the partition filter through the view's
window), and rows repeated by a best-effort streaming insert are collapsed here by row id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from livability.ingest.messages import PoisonMessageError, decode_rows, message_from_event, route
from livability.ingest.rows import DEAD_LETTER
from livability.messages import TABLE_ATTRIBUTE
from livability.ports import Warehouse, WarehouseError
from schemas import ROW_ID, Registry, Table, UnknownTableError, registry
from schemas.validation import RowError, validate_row

EPOCH = date(2000, 1, 1)  # the platform's first plausible day (tables.toml ranges)
Outcome = Literal["loaded", "duplicate", "rejected"]
STORED: tuple[Outcome, ...] = ("loaded", "duplicate")
# How livability.ingest.messages.route words a message naming another dataset.
_OTHER_DATASET = "dataset_id:"


class UnknownDeadLetterError(LookupError):
    """A row id that names no original dead letter."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Replay:
    """A replay record: what a replay of one dead letter found."""

    row_id: str
    received_at: datetime
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class DeadLetter:
    """An original dead letter, with the latest replay of it, if any."""

    row_id: str
    day: date
    received_at: datetime
    message_id: str | None
    target_table: str | None
    reason: str
    payload: str
    replays: tuple[Replay, ...] = ()

    @property
    def latest(self) -> Replay | None:
        return self.replays[-1] if self.replays else None

    @property
    def stored(self) -> bool:
        """Whether a replay has put its rows in the target table."""
        return any(r.outcome in STORED for r in self.replays)

    def to_json(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "row_id": self.row_id,
            "day": self.day.isoformat(),
            "received_at": utc_text(self.received_at),
            "message_id": self.message_id,
            "target_table": self.target_table,
            "reason": self.reason,
            "payload": self.payload,
            "replay_outcome": latest.outcome if latest else None,
            "replayed_at": utc_text(latest.received_at) if latest else None,
            "replay_reason": latest.reason if latest else None,
        }


@dataclass
class ReplayResult:
    """Dead letters replayed, by outcome, with the record appended for each."""

    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    records: list[Replay] = field(default_factory=list)

    def add(self, record: Replay) -> None:
        self.records.append(record)
        setattr(self, record.outcome, getattr(self, record.outcome) + 1)


_ORIGINALS = """
SELECT row_id, day, received_at, message_id, target_table, reason, payload
FROM {dataset}.dead_letter
WHERE day >= @since AND replay_of IS NULL AND row_id IS NOT NULL
ORDER BY received_at, row_id
"""
_REPLAYS = """
SELECT row_id, replay_of, replay_outcome, received_at, reason
FROM {dataset}.dead_letter
WHERE day >= @since AND replay_of IS NOT NULL
ORDER BY received_at, row_id
"""


def list_dead_letters(warehouse: Warehouse, since: date | None = None) -> list[DeadLetter]:
    """Original dead letters received on or after `since` (default: all), oldest first."""
    since = since or EPOCH
    params: dict[str, date | None] = {"since": since}
    originals = _unique(warehouse.query(_ORIGINALS.format(dataset=warehouse.dataset), params))
    replays: dict[str, list[Replay]] = {}
    for r in _unique(warehouse.query(_REPLAYS.format(dataset=warehouse.dataset), params)):
        replays.setdefault(r["replay_of"], []).append(
            Replay(r["row_id"], r["received_at"], r["replay_outcome"], r["reason"])
        )
    return [
        DeadLetter(
            row_id=o["row_id"],
            day=o["day"],
            received_at=o["received_at"],
            message_id=o["message_id"],
            target_table=o["target_table"],
            reason=o["reason"],
            payload=o["payload"],
            replays=tuple(replays.get(o["row_id"], ())),
        )
        for o in originals
    ]


def utc_text(moment: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a `Z`, as `to_json` writes it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is a naive datetime; pass it in UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unique(result: Any) -> list[dict[str, Any]]:
    """Rows of a query result, one per row id (a streaming insert may repeat one)."""
    seen: dict[str, dict[str, Any]] = {}
    for row in result.to_pylist():
        seen.setdefault(row[ROW_ID], row)
    return list(seen.values())


def replay(
    warehouse: Warehouse,
    ids: Sequence[str] | None,
    received_at: datetime,
    *,
    schemas: Registry | None = None,
    since: date | None = None,
) -> ReplayResult:
    """Re-validate dead letters and load what now passes, exactly once.

    `ids` names original dead letters by row id; None replays every one not yet stored
    (`--all`). Each gets a replay record appended; an unknown id raises
    `UnknownDeadLetterError` before anything is written. `schemas` is the contract to
    validate against (default: the one shipped), so a widened rule can be replayed.
    """
    utc_text(received_at)  # refuses a naive time before anything is read or written
    contract = schemas or registry()
    letters = list_dead_letters(warehouse, since)
    if ids is None:
        chosen = [d for d in letters if not d.stored]
    else:
        by_id = {d.row_id: d for d in letters}
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        if missing:
            raise UnknownDeadLetterError(
                f"no original dead letter with row_id {', '.join(map(repr, missing))} "
                f"received since {(since or EPOCH).isoformat()} (see `livability dead-letter list`)"
            )
        chosen = [by_id[i] for i in dict.fromkeys(ids)]
    result = ReplayResult()
    for letter in chosen:
        outcome, reason = _replay_one(warehouse, contract, letter)
        result.add(
            _append(
                warehouse, contract, letter, outcome=outcome, reason=reason, received_at=received_at
            )
        )
    return result


def _replay_one(
    warehouse: Warehouse, contract: Registry, letter: DeadLetter
) -> tuple[Outcome, str]:
    try:
        table, rows = _rows(warehouse, contract, letter)
    except PoisonMessageError as err:
        return "rejected", str(err)
    valid: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, raw in enumerate(rows):
        try:
            valid.append(validate_row(table, raw))
        except RowError as err:
            problems.append(f"row {index}: {err}" if len(rows) > 1 else str(err))
    inserted = 0
    if valid:
        result = warehouse.load_rows(table.name, valid, [row[ROW_ID] for row in valid])
        if result.failed:
            problems += [f"refused by the warehouse: {f.reason}" for f in result.failed]
        inserted = result.inserted
    if problems:
        loaded = f"{inserted} of {len(rows)} rows loaded; " if len(rows) > 1 else ""
        return "rejected", loaded + "; ".join(problems)
    if inserted:
        return "loaded", f"replayed: {inserted} row(s) loaded into {table.name}"
    return "duplicate", f"replayed: the row(s) were already stored in {table.name}"


def _rows(warehouse: Warehouse, contract: Registry, letter: DeadLetter) -> tuple[Table, list[Any]]:
    """The table and rows a dead letter's payload holds, as the processor would read them.

    A row dead-lettered on its own is a JSON object with an ingest `target_table`; anything
    else is a whole message (poison): a Pub/Sub envelope, or a message body with the table it
    named, and goes through the processor's own unwrapping, routing and decoding.
    """
    if letter.reason.startswith(_OTHER_DATASET):
        # The dataset attribute is not stored with the dead letter, so a replay cannot check
        # it again; a message for another dataset is never written here.
        raise PoisonMessageError(
            f"{letter.reason} (a replay does not write another dataset's data)"
        )
    body = _json(letter.payload)
    target = letter.target_table
    table = contract[target] if target is not None and target in contract else None
    if table is not None and not table.ingest:
        table = None
    if isinstance(body, dict) and "message" in body and not _has_column(table, "message"):
        message = message_from_event(body)  # the Pub/Sub envelope of a push or CloudEvent
        attributes, raw = message.attributes, message.data
    elif isinstance(body, dict) and table is not None:
        return table, [body]
    else:
        attributes, raw = (
            ({TABLE_ATTRIBUTE: target} if target else {}),
            _payload_bytes(letter.payload),
        )
    routed = route(attributes, warehouse.dataset)
    try:
        table = contract[routed.name]
    except UnknownTableError as err:
        raise PoisonMessageError(f"table_id: {err}") from None
    try:
        return table, decode_rows(raw)
    except RecursionError:
        raise PoisonMessageError("message.data: JSON nested too deep") from None


def _has_column(table: Table | None, name: str) -> bool:
    return table is not None and any(f.name == name for f in table.fields)


def _json(payload: str) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, a 5,000-digit number, 100k-deep nesting
        return None


def _payload_bytes(payload: str) -> bytes:
    """The message body as received: `payload_text` keeps non-UTF-8 bytes as base64."""
    if payload.startswith("base64:"):
        try:
            return base64.b64decode(payload.removeprefix("base64:"), validate=True)
        except (binascii.Error, ValueError):
            pass  # text that merely starts with the marker
    return payload.encode("utf-8", "surrogatepass")


def _append(
    warehouse: Warehouse,
    contract: Registry,
    letter: DeadLetter,
    *,
    outcome: Outcome,
    reason: str,
    received_at: datetime,
) -> Replay:
    """Append the replay record of `letter`; the original stays as it was."""
    record = validate_row(
        contract[DEAD_LETTER],
        {
            "day": received_at.astimezone(UTC).date().isoformat(),
            "received_at": utc_text(received_at),
            "message_id": letter.message_id,
            "target_table": letter.target_table,
            "reason": reason,
            "payload": letter.payload,
            "replay_of": letter.row_id,
            "replay_outcome": outcome,
        },
    )
    result = warehouse.load_rows(DEAD_LETTER, [record], [record[ROW_ID]])
    if result.failed:
        raise WarehouseError(f"dead_letter refused a replay record: {result.failed[0].reason}")
    return Replay(record[ROW_ID], record["received_at"], outcome, reason)
