"""Replay and load-archive are no looser than the event processor: the processor's hostile suite
(the strategies and poison bodies of `test_hostile.py`) run through all three paths, which must
store exactly the same rows and dead-letter the same number of rows or messages.

Real components: the embedded warehouse (DuckDB), the real archive loader reading real gzip
export files from a folder, the real replay. A message refused at routing by an older contract
(the case replay exists for) is written with the real dead-letter writer.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livability.archive.loader import load_archive
from livability.archive.survey import survey
from livability.ingest.dead_letters import replay
from livability.ingest.messages import PubSubMessage, process_message
from livability.ingest.rows import Rejection, dead_letter, payload_text
from livability.ports import Warehouse
from livability.settings import Settings, open_warehouse
from tests.ingest.test_hostile import (
    HOSTILE,
    POISON_BODIES,
    TABLES,
    Message,
    row_messages,
    sensor_rows,
    weather_rows,
)

RECEIVED = datetime(2024, 11, 29, 14, 40, tzinfo=UTC)
REPLAYED = datetime(2024, 12, 2, 9, 0, tzinfo=UTC)
# How a message refused at routing reads (a table the contract did not have yet).
UNROUTED = "table_id: table {table!r} was not defined when the message was received"
Outcome = tuple[dict[str, list[str]], int]


def outcome(warehouse: Warehouse) -> Outcome:
    """Row ids stored per table, and how many original dead letters there are."""
    stored = {
        name: sorted(
            warehouse.query(f"SELECT row_id FROM sensor_data.{name}").column("row_id").to_pylist()
        )
        for name in TABLES
    }
    dead = warehouse.query(
        "SELECT count(*) AS n FROM sensor_data.dead_letter WHERE replay_of IS NULL"
    ).column("n")
    return stored, int(dead[0].as_py())


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    duck = open_warehouse(settings)
    yield duck
    duck.close()


def emptied(warehouse: Warehouse) -> Warehouse:
    for name in (*TABLES, "dead_letter"):
        warehouse.query(f"DELETE FROM sensor_data.{name}")
    return warehouse


def through_processor(wh: Warehouse, data: bytes, table: str) -> Outcome:
    """The processor's outcome; then `replay --all` of its dead letters must add nothing."""
    warehouse = emptied(wh)
    message = PubSubMessage(data, {"table_id": table}, "m-1")
    process_message(message, warehouse, received_at=RECEIVED)
    first = outcome(warehouse)
    result = replay(warehouse, None, REPLAYED)
    assert {r.outcome for r in result.records} <= {"rejected"}
    assert outcome(warehouse) == first  # replaying what it refused loads nothing
    return first


def through_replay(wh: Warehouse, data: bytes, table: str) -> dict[str, list[str]]:
    """What replay stores from the same message, dead-lettered whole at routing."""
    warehouse = emptied(wh)
    refused = Rejection(UNROUTED.format(table=table), payload_text(data), table)
    dead_letter(warehouse, [refused], source="m-1", received_at=RECEIVED)
    replay(warehouse, None, REPLAYED)
    return outcome(warehouse)[0]


def through_archive(wh: Warehouse, lines: list[bytes], table: str, root: Path) -> Outcome:
    """What load-archive stores from the same rows, one per line of an export file."""
    warehouse = emptied(wh)
    export = root / "2024-11-25" / table / "000000000000.gz"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines)))
    load_archive(warehouse, survey(root), root=root)
    return outcome(warehouse)


def data_of(message: Message) -> bytes:
    return base64.b64decode(message.body["message"]["data"])


@settings(HOSTILE, max_examples=15)
@given(message=row_messages())
def test_hostile_messages_give_the_same_outcome_on_all_three_paths(
    warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory, message: Message
) -> None:
    assert message.table is not None
    data = data_of(message)
    stored, dead = through_processor(warehouse, data, message.table)
    assert through_replay(warehouse, data, message.table) == stored
    body = json.loads(data)
    rows = body if isinstance(body, list) else [body]
    lines = [json.dumps(row).encode() for row in rows]
    root = tmp_path_factory.mktemp("archive")
    assert through_archive(warehouse, lines, message.table, root) == (stored, dead)


@pytest.mark.parametrize("body", sorted(set(POISON_BODIES) - {"empty"}))  # a blank line: no row
@settings(HOSTILE, max_examples=2)
@given(valid=st.lists(sensor_rows(), min_size=1, max_size=2))
def test_poison_bodies_store_nothing_on_any_path(
    warehouse: Warehouse,
    tmp_path_factory: pytest.TempPathFactory,
    body: str,
    valid: list[dict[str, Any]],
) -> None:
    data = POISON_BODIES[body]
    if data.endswith(b"]") and len(data) > 2:
        data = data[:-1] + b", " + json.dumps(valid)[1:-1].encode() + b"]"
    nothing: dict[str, list[str]] = {name: [] for name in TABLES}
    assert through_processor(warehouse, data, "sensor_thermo_beacon") == (nothing, 1)
    assert through_replay(warehouse, data, "sensor_thermo_beacon") == nothing
    root = tmp_path_factory.mktemp("archive")
    assert through_archive(warehouse, [data], "sensor_thermo_beacon", root) == (nothing, 1)


def envelope_of(rows: list[dict[str, Any]], table: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(rows).encode()).decode()
    return {"message": {"data": data, "attributes": {"table_id": table}, "messageId": "9"}}


@settings(HOSTILE, max_examples=5)
@given(weather=st.lists(weather_rows(), min_size=1, max_size=3), reading=sensor_rows())
def test_a_row_that_wraps_other_rows_stays_one_rejected_row(
    warehouse: Warehouse,
    tmp_path_factory: pytest.TempPathFactory,
    weather: list[dict[str, Any]],
    reading: dict[str, Any],
) -> None:
    """Issue 16: replay unwrapped a rejected row that was itself a Pub/Sub envelope into
    weather_data. A row is one row on every path: an envelope or a list is no row."""
    rows: list[Any] = [envelope_of(weather, "weather_data"), [reading], reading]
    data = json.dumps(rows).encode()
    stored, dead = through_processor(warehouse, data, "sensor_thermo_beacon")
    assert (len(stored["sensor_thermo_beacon"]), stored["weather_data"], dead) == (1, [], 2)
    assert through_replay(warehouse, data, "sensor_thermo_beacon") == stored
    root = tmp_path_factory.mktemp("archive")
    lines = [json.dumps(row).encode() for row in rows]
    assert through_archive(warehouse, lines, "sensor_thermo_beacon", root) == (stored, dead)


@pytest.mark.parametrize(
    "line",
    [
        b'{"day": "2024-11-29", "timestamp": "2024-11-29T14:00:00Z", '
        b'"data": {"mac": 1, "home_id": 2, "home_id": 3}}',
        b'{"day": "2024-11-29", "timestamp": "2024-11-29T14:00:00Z", '
        b'"data": {"mac": 1, "home_id": 2, "temperature": NaN}}',
    ],
    ids=["duplicate key", "NaN"],
)
def test_a_line_the_processor_refuses_is_refused_by_the_archive_loader(
    warehouse: Warehouse, tmp_path: Path, line: bytes
) -> None:
    """Either value of the duplicate key would make a valid row: which one was meant?"""
    nothing: dict[str, list[str]] = {name: [] for name in TABLES}
    assert through_processor(warehouse, line, "sensor_thermo_beacon") == (nothing, 1)
    assert through_replay(warehouse, line, "sensor_thermo_beacon") == nothing
    assert through_archive(warehouse, [line], "sensor_thermo_beacon", tmp_path) == (nothing, 1)
