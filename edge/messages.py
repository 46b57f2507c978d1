"""Rows as Pub/Sub messages in the reference's format: one JSON array per table and hour.

The demo's weather poller and the ingest benchmark send these; the gateway itself sends from
its outbox (`edge/agent.py`). Pub/Sub bills at least 1 KB per publish, so an hourly batch of
six 10-minute readings costs one sixth of one message per reading (FinOps), and the event
processor writes them in one insert. The attributes route a message to its table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from schemas import registry

# Rows whose timestamps share this prefix (YYYY-MM-DDTHH) go in one message.
_HOUR = slice(0, 13)


@dataclass(frozen=True)
class Message:
    """One Pub/Sub message as a gateway publishes it."""

    data: bytes
    attributes: Mapping[str, str]
    published_at: str  # the batch's last reading: when an hourly gateway would publish it

    @property
    def table(self) -> str:
        return self.attributes["table_id"]


def encode(table: str, rows: list[dict[str, Any]], dataset: str) -> Message:
    """A message carrying `rows` for `table`, which must be a table devices may write."""
    if not registry()[table].ingest:
        raise ValueError(f"table_id: {table!r} does not accept device data")
    if not rows:
        raise ValueError("rows: a message carries at least one row")
    return Message(
        data=json.dumps(rows, separators=(",", ":")).encode(),
        attributes={"dataset_id": dataset, "table_id": table},
        published_at=str(rows[-1]["timestamp"]),
    )


def hourly(table: str, rows: Iterable[dict[str, Any]], dataset: str) -> Iterator[Message]:
    """Time-ordered `rows` as one message per hour, the way a buffering gateway sends them."""
    for _, batch in groupby(rows, key=lambda r: str(r["timestamp"])[_HOUR]):
        yield encode(table, list(batch), dataset)
