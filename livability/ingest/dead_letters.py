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
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from livability.ingest.decoding import PoisonMessageError, decode_json, decode_rows
from livability.ingest.messages import (
    NO_MESSAGE,
    is_message_reason,
    message_from_event,
    route,
)
from livability.ingest.rows import DEAD_LETTER, kept_payload, was_cut
from livability.messages import TABLE_ATTRIBUTE
from livability.ports import Bucket, ObjectNotFoundError, Warehouse, WarehouseError
from schemas import ROW_ID, Registry, Table, registry
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
    spill: Bucket | None = None,
) -> ReplayResult:
    """Re-validate dead letters and load what now passes, exactly once.

    `ids` names original dead letters by row id; None replays every one not yet stored
    (`--all`). Each gets a replay record appended; an unknown id raises
    `UnknownDeadLetterError` before anything is written. `schemas` is the contract to
    validate against (default: the one shipped), so a widened rule can be replayed.
    `spill` is the data bucket, where a payload over 1 MB was kept whole.
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
        outcome, reason = _replay_one(warehouse, contract, letter, spill)
        result.add(
            _append(
                warehouse, contract, letter, outcome=outcome, reason=reason, received_at=received_at
            )
        )
    return result


def _replay_one(
    warehouse: Warehouse, contract: Registry, letter: DeadLetter, spill: Bucket | None
) -> tuple[Outcome, str]:
    try:
        table, rows = _rows(warehouse, contract, letter, spill)
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


def _rows(
    warehouse: Warehouse, contract: Registry, letter: DeadLetter, spill: Bucket | None
) -> tuple[Table, list[Any]]:
    """The table and rows a dead letter's payload holds, read exactly as the processor did.

    One decoding path (`livability.ingest.decoding`): a duplicate key, NaN, a deep or huge
    text is refused here as at ingest. A dead letter is a whole message when its reason names
    a message field (`is_message_reason`, which the processor guarantees for every message it
    dead-letters); anything else is ONE row, validated as such and never unwrapped: a row that
    is a list, or a Pub/Sub envelope, stays one (invalid) row, as the processor saw it.
    """
    if letter.reason.startswith(_OTHER_DATASET):
        # The dataset attribute is not stored with the dead letter, so a replay cannot check
        # it again; a message for another dataset is never written here.
        raise PoisonMessageError(
            f"{letter.reason} (a replay does not write another dataset's data)"
        )
    raw = _payload_bytes(_whole_payload(letter, spill))
    if not is_message_reason(letter.reason):
        table = _ingest_table(contract, letter.target_table)
        return table, [decode_json(raw, "row")]
    if letter.reason.startswith(NO_MESSAGE):
        raise PoisonMessageError(letter.reason)  # the event's data is still no message
    try:
        body = decode_json(raw)
    except PoisonMessageError:
        body = None  # not even JSON: decode_rows below says why, as the processor did
    if isinstance(body, dict) and "message" in body:
        # A whole event: its envelope failed when received and fails again the same way.
        # If it unwraps, it was never one: it is a message's data and stays that.
        message_from_event(body)
    attributes = {TABLE_ATTRIBUTE: letter.target_table} if letter.target_table else {}
    routed = route(attributes, warehouse.dataset)
    return _ingest_table(contract, routed.name), decode_rows(raw)


def _ingest_table(contract: Registry, name: str | None) -> Table:
    if name is None or name not in contract or not contract[name].ingest:
        raise PoisonMessageError(f"table_id: {name!r} is not a table that accepts device data")
    return contract[name]


def _whole_payload(letter: DeadLetter, spill: Bucket | None) -> str:
    """The payload as received: a cut one is read back whole from the data bucket, checked."""
    if not was_cut(letter.reason):
        return letter.payload
    kept = kept_payload(letter.reason)
    if kept is None or spill is None:
        raise PoisonMessageError(
            "payload: only a prefix was stored and the whole is not in a bucket, so the "
            "message cannot be replayed"
        )
    key, digest = kept
    try:
        data = spill.get(key)
    except ObjectNotFoundError:
        raise PoisonMessageError(
            f"payload: the whole payload {key} is no longer in {spill.url}"
        ) from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise PoisonMessageError(
            f"payload: {key} in {spill.url} is not the payload that was dead-lettered "
            "(its sha256 differs)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PoisonMessageError(f"payload: {key} in {spill.url} is not UTF-8 text") from None


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
