"""Operators' dead-letter commands: list and replay, through the functions and the CLI.

Runs against the real embedded warehouse (DuckDB, from `livability.settings`), filled by the
real event processor (`livability.ingest.messages.process_message`). "A row that now passes" is made
with a copy of `schemas/` whose temperature range is widened, as a changed rule would be.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from livability.cli.app import main
from livability.ingest.dead_letters import (
    DeadLetter,
    Replay,
    UnknownDeadLetterError,
    list_dead_letters,
    replay,
)
from livability.ingest.messages import PubSubMessage, process_event, process_message
from livability.ports import Warehouse
from livability.settings import Settings, open_warehouse
from schemas import SCHEMA_DIR, Registry

RECEIVED = datetime(2024, 11, 29, 14, 40, tzinfo=UTC)
REPLAYED = datetime(2024, 12, 2, 9, 0, tzinfo=UTC)
AGAIN = datetime(2024, 12, 3, 9, 0, tzinfo=UTC)
SENSOR = {"table_id": "sensor_thermo_beacon"}


def reading(minute: int, **data: Any) -> dict[str, Any]:
    return {
        "day": "2024-11-29",
        "timestamp": f"2024-11-29T14:{minute:02d}:00Z",
        "data": {"mac": 123, "home_id": 7, "temperature": 21.0, "humidity": 50.0, **data},
    }


GOOD = reading(30)
TOO_HOT = reading(31, temperature=91.2)  # past the ThermoBeacon's 85 °C: a sensor fault, or not
NO_HOME = {  # the reference PoC's sample message: it has no home_id
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "temperature": 22.938, "humidity": 43.312},
}
TOO_HOT_REASON = "row 1: data.temperature: 91.2 is outside the physical range -40..85"
NO_HOME_REASON = "row 2: data.home_id: required field is missing"
NOT_JSON = b"\xff\xfe not json"
NO_TABLE = [reading(40)]
SENSOR_ROWS_SQL = """
SELECT data.temperature AS temperature FROM sensor_data.sensor_thermo_beacon
WHERE day >= @since ORDER BY timestamp
"""
DEAD_LETTER_SQL = "SELECT * FROM sensor_data.dead_letter WHERE day >= @since ORDER BY row_id"
SINCE = {"since": date(2000, 1, 1)}


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The configured warehouse after the processor took one mixed and two poison messages."""
    duck = open_warehouse(settings)
    messages = [
        PubSubMessage(json.dumps([GOOD, TOO_HOT, NO_HOME]).encode(), SENSOR, "m-1"),
        PubSubMessage(NOT_JSON, SENSOR, "m-2"),
        PubSubMessage(json.dumps(NO_TABLE).encode(), {}, "m-3"),
    ]
    for message in messages:
        process_message(message, duck, received_at=RECEIVED)
    yield duck
    duck.close()


@pytest.fixture
def widened(tmp_path: Path) -> Registry:
    """The contract with the indoor temperature range widened to [-40, 95]."""
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    manifest = copy / "tables.toml"
    text = manifest.read_text(encoding="utf-8")
    new = text.replace('"data.temperature" = [-40.0, 85.0]', '"data.temperature" = [-40.0, 95.0]')
    assert new != text, "the sensor temperature range in tables.toml moved: update this test"
    manifest.write_text(new, encoding="utf-8")
    return Registry.load(copy)


def by_reason(letters: list[DeadLetter]) -> dict[str, DeadLetter]:
    return {d.reason: d for d in letters}


def temperatures(warehouse: Warehouse) -> list[float]:
    return [r["temperature"] for r in warehouse.query(SENSOR_ROWS_SQL, SINCE).to_pylist()]


def field_of(reason: str) -> str:
    """What a reason names, before its first colon: the processor words the rest."""
    return reason.split(":", 1)[0]


def test_list_shows_each_original_dead_letter_once(warehouse: Warehouse) -> None:
    letters = list_dead_letters(warehouse)
    summary = sorted((d.message_id, d.target_table, field_of(d.reason), d.replays) for d in letters)
    assert summary == [
        ("m-1", "sensor_thermo_beacon", "row 1", ()),
        ("m-1", "sensor_thermo_beacon", "row 2", ()),
        ("m-2", "sensor_thermo_beacon", "message.data", ()),
        ("m-3", None, "table_id", ()),
    ]
    assert {TOO_HOT_REASON, NO_HOME_REASON} <= {d.reason for d in letters}
    hot = by_reason(letters)[TOO_HOT_REASON]
    assert json.loads(hot.payload) == TOO_HOT
    assert (hot.day, hot.received_at) == (date(2024, 11, 29), RECEIVED)
    assert list_dead_letters(warehouse, date(2024, 11, 30)) == []


def test_replay_under_the_same_rules_rejects_again_and_appends_records(
    warehouse: Warehouse,
) -> None:
    before = warehouse.query(DEAD_LETTER_SQL, SINCE).to_pylist()

    result = replay(warehouse, None, REPLAYED)

    assert (result.loaded, result.duplicate, result.rejected) == (0, 0, 4)
    after = warehouse.query(DEAD_LETTER_SQL, SINCE).to_pylist()
    originals = [r for r in after if r["replay_of"] is None]
    assert originals == before  # never updated, never deleted
    records = [r for r in after if r["replay_of"] is not None]
    assert {r["replay_of"] for r in records} == {r["row_id"] for r in before}
    assert {r["replay_outcome"] for r in records} == {"rejected"}
    assert {r["day"] for r in records} == {date(2024, 12, 2)}
    originals_by_id = {r["row_id"]: r for r in before}
    for r in records:  # the payload travels with the record, unchanged; the reason is anew
        original = originals_by_id[r["replay_of"]]
        assert r["payload"] == original["payload"]
        assert r["message_id"] == original["message_id"]
        assert r["target_table"] == original["target_table"]
        if original["reason"].startswith("row "):
            assert original["reason"] == f"{field_of(original['reason'])}: {r['reason']}"
        else:
            assert field_of(r["reason"]) == field_of(original["reason"])
    assert temperatures(warehouse) == [21.0]
    latest = [d.latest for d in list_dead_letters(warehouse)]
    assert [(r.outcome, r.received_at) if r else None for r in latest] == [
        ("rejected", REPLAYED)
    ] * 4


def test_a_row_that_now_passes_is_loaded_exactly_once(
    warehouse: Warehouse, widened: Registry
) -> None:
    hot = by_reason(list_dead_letters(warehouse))[TOO_HOT_REASON]

    first = replay(warehouse, [hot.row_id], REPLAYED, schemas=widened)
    second = replay(warehouse, [hot.row_id], AGAIN, schemas=widened)

    assert (first.loaded, first.duplicate, first.rejected) == (1, 0, 0)
    assert (second.loaded, second.duplicate, second.rejected) == (0, 1, 0)
    assert temperatures(warehouse) == [21.0, 91.2]
    replays = by_reason(list_dead_letters(warehouse))[TOO_HOT_REASON].replays
    assert [(r.outcome, r.received_at, r.reason) for r in replays] == [
        ("loaded", REPLAYED, "replayed: 1 row(s) loaded into sensor_thermo_beacon"),
        ("duplicate", AGAIN, "replayed: the row(s) were already stored in sensor_thermo_beacon"),
    ]
    # --all skips what is stored already; the rest is still rejected under the wider rule.
    rest = replay(warehouse, None, AGAIN, schemas=widened)
    assert (rest.loaded, rest.duplicate, rest.rejected) == (0, 0, 3)
    assert temperatures(warehouse) == [21.0, 91.2]


def test_unknown_id_is_named_and_nothing_is_written(warehouse: Warehouse) -> None:
    before = warehouse.query(DEAD_LETTER_SQL, SINCE).to_pylist()
    known = list_dead_letters(warehouse)[0].row_id

    with pytest.raises(UnknownDeadLetterError, match="'feedface'"):
        replay(warehouse, [known, "feedface"], REPLAYED)

    assert warehouse.query(DEAD_LETTER_SQL, SINCE).to_pylist() == before


def test_a_replay_record_is_not_an_original(warehouse: Warehouse) -> None:
    record = replay(warehouse, None, REPLAYED).records[0]
    assert isinstance(record, Replay)
    with pytest.raises(UnknownDeadLetterError, match=record.row_id):
        replay(warehouse, [record.row_id], AGAIN)


def test_a_naive_replay_time_is_refused(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        replay(warehouse, None, datetime(2024, 12, 2, 9, 0))  # naive: the point


def test_envelope_and_other_dataset_poison_stay_rejected(settings: Settings) -> None:
    duck = open_warehouse(settings)
    process_event({"message": {"data": "%%%"}}, "e-1", duck, received_at=RECEIVED)
    other = {"table_id": "sensor_thermo_beacon", "dataset_id": "elsewhere"}
    message = PubSubMessage(json.dumps([GOOD]).encode(), other, "m-9")
    process_message(message, duck, received_at=RECEIVED)
    envelope, elsewhere = sorted(list_dead_letters(duck), key=lambda d: d.reason, reverse=True)

    result = replay(duck, None, REPLAYED)

    # The envelope goes through the processor's own unwrapping again, and fails the same way;
    # the message for another dataset is not written here, although its rows are valid.
    assert sorted((r.outcome, r.reason) for r in result.records) == [
        ("rejected", f"{elsewhere.reason} (a replay does not write another dataset's data)"),
        ("rejected", envelope.reason),
    ]
    assert field_of(envelope.reason) == "message.data"
    assert temperatures(duck) == []
    duck.close()


# --- the CLI, as an operator runs it ---


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_list_as_json_and_as_a_table(
    warehouse: Warehouse, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse.close()  # the CLI opens the file itself
    status, out, _ = cli(capsys, "dead-letter", "list", "--json")
    assert status == 0
    listed = json.loads(out)
    assert len(listed) == 4
    hot = next(d for d in listed if d["reason"] == TOO_HOT_REASON)
    assert hot == {
        "row_id": hot["row_id"],
        "day": "2024-11-29",
        "received_at": "2024-11-29T14:40:00.000000Z",
        "message_id": "m-1",
        "target_table": "sensor_thermo_beacon",
        "reason": TOO_HOT_REASON,
        "payload": json.dumps(TOO_HOT),
        "replay_outcome": None,
        "replayed_at": None,
        "replay_reason": None,
    }
    assert re.fullmatch(r"[0-9a-f]{32}", hot["row_id"])

    status, out, _ = cli(capsys, "dead-letter", "list")
    assert status == 0
    assert "Dead letters in sensor_data.dead_letter" in out
    assert hot["row_id"] in out
    assert "row 1: data.temperature: 91.2 is outside the physical" in out

    status, out, err = cli(capsys, "dead-letter", "list", "--since", "2024-11-30")
    assert (status, out, err.strip()) == (0, "", "No dead letters since 2024-11-30.")


def test_cli_replay_counts_and_usage(
    warehouse: Warehouse, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [d.row_id for d in list_dead_letters(warehouse)]
    warehouse.close()

    status, out, _ = cli(capsys, "dead-letter", "replay", ids[0])
    assert (status, out.strip()) == (
        0,
        "1 dead letter(s) replayed: 0 loaded, 0 duplicate (already stored), 1 still rejected",
    )
    status, out, _ = cli(capsys, "dead-letter", "replay", "--all")
    assert (status, out.strip()) == (
        0,
        "4 dead letter(s) replayed: 0 loaded, 0 duplicate (already stored), 4 still rejected",
    )
    status, out, _ = cli(capsys, "dead-letter", "list", "--json")
    assert {d["replay_outcome"] for d in json.loads(out)} == {"rejected"}

    status, _, err = cli(capsys, "dead-letter", "replay", "nope")
    assert status == 1
    assert err.strip() == (
        "livability: error: no original dead letter with row_id 'nope' received since "
        "2000-01-01 (see `livability dead-letter list`)"
    )
    for args in ([], ["--all", ids[0]]):
        with pytest.raises(SystemExit) as exit_info:
            main(["dead-letter", "replay", *args])
        assert exit_info.value.code == 2
        assert "give either --all or one or more dead-letter IDs" in capsys.readouterr().err


# --- a payload over the table's 1 MB, kept whole in the data bucket (issue 16 #6) ---


def big_poison(settings: Settings) -> tuple[Warehouse, bytes]:
    """A 3 MB message refused whole, holding valid rows: the table keeps 1 MB of it."""
    duck = open_warehouse(settings)
    rows = [reading(m % 60, humidity=40.0 + m / 1000) for m in range(12_000)]  # > MAX_ROWS
    data = json.dumps(rows).encode()
    assert len(data) > 1_000_000
    process_message(
        PubSubMessage(data, SENSOR, "m-big"),
        duck,
        received_at=RECEIVED,
        spill=settings.open_bucket(),
    )
    return duck, data


def test_a_cut_payload_is_replayed_from_the_whole_kept_in_the_bucket(settings: Settings) -> None:
    duck, data = big_poison(settings)
    [letter] = list_dead_letters(duck)
    assert len(letter.payload.encode()) <= 1_000_000
    key = letter.reason.split("kept whole at ")[1].split(" ")[0]
    assert settings.open_bucket().get(key) == data  # every row the message held is kept
    result = replay(duck, None, REPLAYED, spill=settings.open_bucket())
    # Read whole, the message is refused for what it is; its 1 MB prefix would be "not JSON".
    assert [(r.outcome, r.reason) for r in result.records] == [
        ("rejected", "message.data: 12000 rows, more than the 10000 one message may hold")
    ]
    duck.close()


def test_a_cut_payload_without_its_whole_or_with_another_is_not_replayed(
    settings: Settings,
) -> None:
    duck, _ = big_poison(settings)
    [letter] = list_dead_letters(duck)
    key = letter.reason.split("kept whole at ")[1].split(" ")[0]
    bucket = settings.open_bucket()
    bucket.put(key, b"[]")  # someone replaced it
    changed = replay(duck, [letter.row_id], REPLAYED, spill=bucket)
    nowhere = replay(duck, [letter.row_id], AGAIN)  # no bucket given
    assert [r.reason for r in (*changed.records, *nowhere.records)] == [
        f"payload: {key} in {bucket.url} is not the payload that was dead-lettered "
        "(its sha256 differs)",
        "payload: only a prefix was stored and the whole is not in a bucket, so the message "
        "cannot be replayed",
    ]
    assert temperatures(duck) == []
    duck.close()
