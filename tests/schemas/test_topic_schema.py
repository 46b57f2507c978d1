"""Ingest mode (b), a BigQuery subscription with the generated topic schema, writes the rows
that mode (a), the event processor, writes.

Mode (a) runs for real: `livability.ingest.messages.process_message` into the embedded DuckDB
warehouse, then a query. No Pub/Sub emulator validates schemas or runs BigQuery
subscriptions, so mode (b) is reproduced from the GENERATED Avro schema: each message is
checked as Pub/Sub checks it (`schemas.topic.decode_message`), then mapped to column values
as the subscription's documented Avro-to-BigQuery mapping does (`subscription_row` below:
an Avro string into a DATE or TIMESTAMP column is parsed in BigQuery's format for it).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest

from livability import sim as simulator
from livability.cli.app import main
from livability.ingest.messages import PubSubMessage, process_message
from livability.settings import Settings, open_warehouse
from schemas import SCHEMA_DIR, Field, Registry, Table, registry
from schemas.topic import (
    MessageError,
    TopicSchemaError,
    avro_schema,
    avro_schema_json,
    decode_message,
    encode_message,
)
from schemas.validation import RowError, to_json, validate_row

RECEIVED = datetime(2024, 12, 2, 12, 0, tzinfo=UTC)
START = datetime(2024, 12, 2, tzinfo=UTC)
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# BigQuery's canonical formats for an Avro string written to a DATE or TIMESTAMP column.
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
READING: dict[str, Any] = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 7, "temperature": 22.938, "humidity": 43.312},
}


class WriteError(ValueError):
    """A value BigQuery refuses at the write: the subscription's dead-letter topic gets it."""


# --- mode (b), reproduced from the generated schema ---


def subscription_row(table: Table, message: dict[str, Any]) -> dict[str, Any]:
    """The columns a BigQuery subscription writes for a message Pub/Sub accepted."""
    return _columns(table.fields, message)


def _columns(fields: tuple[Field, ...], values: dict[str, Any]) -> dict[str, Any]:
    return {f.name: _column(f, values[f.name]) for f in fields}


def _column(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if f.type == "RECORD":
        return _columns(f.fields, value)
    if f.type == "DATE":
        if not _DATE.fullmatch(value):
            raise WriteError(f"{f.name}: {value!r} is not a DATE")
        return date.fromisoformat("-".join(p.zfill(2) for p in value.split("-")))
    if f.type == "TIMESTAMP":
        if not _TIMESTAMP.fullmatch(value):
            raise WriteError(f"{f.name}: {value!r} is not a TIMESTAMP")
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value  # STRING, GEOGRAPHY (WKT), INTEGER, FLOAT, BOOLEAN as decoded


def mode_b(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the edge publishes to the schema'd topic and the subscription then writes."""
    schema = avro_schema(table)
    written = []
    for row in rows:
        message = json.dumps(encode_message(schema, to_json(validate_row(table, row)))).encode()
        written.append(subscription_row(table, decode_message(schema, message)))
    return sorted(written, key=lambda r: r["row_id"])


def mode_a(settings: Settings, table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the event processor writes for the edge's messages, read back from the warehouse."""
    warehouse = open_warehouse(settings)
    try:
        for index, row in enumerate(rows):
            data = json.dumps(to_json(validate_row(table, row))).encode()
            attributes = {"table_id": table.name, "schema_version": str(table.version)}
            outcome = process_message(
                PubSubMessage(data, attributes, f"m-{index}"), warehouse, received_at=RECEIVED
            )
            assert outcome.result.loaded == 1, outcome
        sql = f"SELECT * FROM {warehouse.dataset}.{table.name} WHERE day >= @since ORDER BY row_id"
        return warehouse.query(sql, {"since": date(2000, 1, 1)}).to_pylist()  # type: ignore[no-any-return]
    finally:
        warehouse.close()


# --- the equivalence ---


def simulated(table: str) -> list[dict[str, Any]]:
    homes = simulator.make_homes(2, seed=11)
    weather = simulator.weather_rows(homes[0].site, START, 1, seed=11)
    if table == "weather_data":
        return weather[:40]
    return [
        row for home in homes for row in simulator.sensor_rows(home, weather, START, 1, 11)[:30]
    ]


@pytest.mark.parametrize("name", ["sensor_thermo_beacon", "weather_data"])
def test_simulated_rows_land_the_same_in_both_modes(settings: Settings, name: str) -> None:
    table = registry()[name]
    rows = simulated(name)
    written_b = mode_b(table, rows)
    assert len(written_b) == len(rows)
    assert written_b == mode_a(settings, table, rows)


@pytest.mark.parametrize("name", ["sensor_thermo_beacon", "weather_data"])
def test_the_real_week_lands_the_same_in_both_modes(
    settings: Settings, archive: Path, name: str
) -> None:
    """The reference PoC's export: INTEGER as text, `+00:00` offsets, NULL columns omitted."""
    table = registry()[name]
    with gzip.open(next((archive / "2024-12-01" / name).glob("*.gz")), "rt") as lines:
        rows = [json.loads(line) for _, line in zip(range(300), lines, strict=False)]
    if name == "weather_data":
        assert any("location" not in r["data"] for r in rows), "want rows with a NULL column"
    assert mode_b(table, rows) == mode_a(settings, table, rows)


# --- what the topic schema refuses ---

SCHEMA = avro_schema(registry()["sensor_thermo_beacon"])
GOOD = encode_message(SCHEMA, to_json(validate_row(registry()["sensor_thermo_beacon"], READING)))


def without(path: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    target = message
    for part in parents:
        target = target[part]
    del target[last]
    return message


def replaced(path: str, value: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    target = message
    for part in parents:
        target = target[part]
    target[last] = value
    return message


def test_a_good_message_is_the_edge_row_in_avro_json() -> None:
    expected = {
        "day": "2024-11-29",
        "timestamp": "2024-11-29T14:33:35.855000Z",
        "data": {
            "mac": 123,
            "home_id": 7,
            "temperature": {"double": 22.938},
            "humidity": {"double": 43.312},
            "location": None,
        },
        "home_id": {"long": 7},
        "battery": None,  # v3: NULLABLE, and READING has none
        "room": None,  # v4: NULLABLE, and READING has none
        "row_id": {"string": GOOD["row_id"]["string"]},
    }
    published = GOOD
    assert published == expected
    plain = to_json(validate_row(registry()["sensor_thermo_beacon"], READING))
    # Unwrapped, it is the row the event processor reads: one message, two subscriptions.
    assert decode_message(SCHEMA, json.dumps(GOOD).encode()) == plain


def test_a_battery_is_a_long_in_the_message_and_keeps_the_row_id() -> None:
    table = registry()["sensor_thermo_beacon"]
    message = encode_message(SCHEMA, to_json(validate_row(table, {**READING, "battery": 87})))

    assert message == {**GOOD, "battery": {"long": 87}}  # GOOD's row_id: battery is identity
    assert decode_message(SCHEMA, json.dumps(message).encode())["battery"] == 87


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (without("data.home_id"), "data.home_id: required by the topic schema, missing"),
        (without("day"), "day: required by the topic schema, missing"),
        (without("row_id"), "row_id: required by the topic schema, missing"),
        (
            replaced("data.home_id", "7"),
            "data.home_id: expected a long (a JSON integer), got a string",
        ),
        (replaced("data.mac", 1.5), "data.mac: expected a long (a JSON integer), got a number"),
        (
            replaced("data.home_id", True),
            "data.home_id: expected a long (a JSON integer), got a boolean",
        ),
        (replaced("day", 20241129), "day: expected a string, got a number"),
        (
            replaced("data.temperature", 22.9),
            "data.temperature: a union value must be null or an object",
        ),
        (
            replaced("data.temperature", {"string": "22.9"}),
            "data.temperature: a union value must be",
        ),
        (replaced("data.temperature", {"double": "22.9"}), "data.temperature: expected a double"),
        (replaced("data", None), "data: expected a JSON object for record data"),
        (replaced("firmware", "1.2"), "message: field(s) ['firmware'] are not in the topic schema"),
        (replaced("data.rssi", -70), "data: field(s) ['rssi'] are not in the topic schema"),
        (replaced("data.mac", 2**64), "data.mac: 18446744073709551616 does not fit in a long"),
    ],
)
def test_the_topic_schema_refuses_what_pubsub_refuses(message: Any, problem: str) -> None:
    with pytest.raises(MessageError) as refused:
        decode_message(SCHEMA, json.dumps(message).encode())
    assert str(refused.value).startswith(problem)


@pytest.mark.parametrize("data", [b"not json", b"[]", b"\xff", b'"text"'])
def test_what_is_not_a_record_is_refused(data: bytes) -> None:
    with pytest.raises(MessageError):
        decode_message(SCHEMA, data)


def test_a_refused_message_is_dead_lettered_in_mode_a_too(settings: Settings) -> None:
    """Mode (b): Pub/Sub refuses the publish; mode (a): the processor dead-letters the row."""
    table = registry()["sensor_thermo_beacon"]
    plain = to_json(validate_row(table, READING))
    no_home = {**plain, "data": {k: v for k, v in plain["data"].items() if k != "home_id"}}
    del no_home["home_id"]
    wrong_type = {**plain, "data": {**plain["data"], "mac": "not a number"}}
    warehouse = open_warehouse(settings)
    try:
        for index, row in enumerate([no_home, wrong_type]):
            with pytest.raises(MessageError):
                decode_message(SCHEMA, json.dumps(encode_message(SCHEMA, row)).encode())
            message = PubSubMessage(
                json.dumps(row).encode(), {"table_id": table.name}, f"b-{index}"
            )
            outcome = process_message(message, warehouse, received_at=RECEIVED)
            assert (outcome.result.loaded, outcome.result.rejected) == (0, 1)
        dead = warehouse.query(
            "SELECT reason FROM sensor_data.dead_letter WHERE day >= @since ORDER BY message_id",
            {"since": date(2000, 1, 1)},
        ).to_pylist()
        assert [r["reason"].split(":")[1].strip() for r in dead] == ["data.home_id", "data.mac"]
        stored = warehouse.query(
            "SELECT count(*) AS n FROM sensor_data.sensor_thermo_beacon WHERE day >= @since",
            {"since": date(2000, 1, 1)},
        ).to_pylist()
        assert stored == [{"n": 0}]
    finally:
        warehouse.close()


def test_a_malformed_date_passes_pubsub_but_fails_the_write() -> None:
    """DATE and TIMESTAMP are Avro strings: BigQuery, not Pub/Sub, checks their format."""
    table = registry()["sensor_thermo_beacon"]
    message = decode_message(SCHEMA, json.dumps(replaced("day", "29/11/2024")).encode())
    with pytest.raises(WriteError, match="day"):
        subscription_row(table, message)


def test_ranges_are_the_edges_job_in_mode_b() -> None:
    """A topic schema has no ranges: mode (b) relies on the edge's `validate_row`."""
    hot = replaced("data.temperature", {"double": 91.2})
    assert decode_message(SCHEMA, json.dumps(hot).encode())["data"]["temperature"] == 91.2
    with pytest.raises(RowError, match=r"data\.temperature"):
        validate_row(
            registry()["sensor_thermo_beacon"],
            {**READING, "data": {**READING["data"], "temperature": 91.2}},
        )


# --- the schema itself ---


def avro_names(schema: dict[str, Any]) -> list[str]:
    names = [f"{schema['namespace']}.{schema['name']}"]
    for f in schema["fields"]:
        branches = f["type"] if isinstance(f["type"], list) else [f["type"]]
        for branch in branches:
            if isinstance(branch, dict):
                names += avro_names(branch)
    return names


def avro_leaves(schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in schema["fields"]:
        nullable = isinstance(f["type"], list)
        inner = f["type"][1] if nullable else f["type"]
        if isinstance(inner, dict):
            out |= avro_leaves(inner, f"{prefix}{f['name']}.")
        else:
            out[f"{prefix}{f['name']}"] = (inner, nullable)
    return out


@pytest.mark.parametrize("table", registry().ingest_tables(), ids=lambda t: t.name)
def test_every_column_of_the_contract_is_in_the_topic_schema(table: Table) -> None:
    schema = avro_schema(table)
    assert (schema["type"], schema["name"], schema["namespace"]) == (
        "record",
        table.name,
        f"livability.v{table.version}",
    )
    expected = {
        path: (
            {"INTEGER": "long", "FLOAT": "double", "BOOLEAN": "boolean"}.get(f.type, "string"),
            not f.required,
        )
        for path, f in table.leaves()
    }
    assert avro_leaves(schema) == expected
    names = avro_names(schema)
    assert len(names) == len(set(names)), "Avro full names must be unique in a schema"
    assert all(_AVRO_NAME.fullmatch(part) for name in names for part in name.split("."))
    assert avro_schema_json(table) == avro_schema_json(table)
    assert json.loads(avro_schema_json(table)) == schema


def test_a_new_nullable_field_appears_as_a_nullable_union(tmp_path: Path) -> None:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = copy / "sensor_thermo_beacon.json"
    fields = json.loads(path.read_text(encoding="utf-8"))
    data = next(f for f in fields if f["name"] == "data")
    data["fields"].append({"name": "battery", "type": "FLOAT", "mode": "NULLABLE"})
    fields.append({"name": "gateway", "type": "STRING", "mode": "NULLABLE", "description": "G"})
    path.write_text(json.dumps(fields), encoding="utf-8")

    schema = avro_schema(Registry.load(copy)["sensor_thermo_beacon"])

    assert schema["fields"][-1] == {
        "name": "gateway",
        "type": ["null", "string"],
        "default": None,
        "doc": "G",
    }
    nested = next(f for f in schema["fields"] if f["name"] == "data")["type"]["fields"]
    assert nested[-1] == {"name": "battery", "type": ["null", "double"], "default": None}


def test_non_ingest_tables_have_no_topic_schema() -> None:
    for name in ("dead_letter", "livability_scores"):
        with pytest.raises(TopicSchemaError, match=f"{name!r} is not an ingest table"):
            avro_schema(registry()[name])


# --- the CLI ---


def test_cli_prints_the_generated_schema(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schemas", "topic-schema", "weather_data", "--format", "avro"]) == 0
    assert capsys.readouterr().out == avro_schema_json(registry()["weather_data"])


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("nope", "livability: error: table 'nope' is not defined in schemas/"),
        ("dead_letter", "livability: error: table 'dead_letter' is not an ingest table"),
    ],
)
def test_cli_refuses_a_table_without_topic_schema(
    settings: Settings, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    assert main(["schemas", "topic-schema", table]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message)
    assert captured.err.count("\n") == 1


def test_a_timestamp_string_keeps_its_instant_in_utc() -> None:
    """The mapping of a TIMESTAMP string keeps the instant, whatever offset it was written in."""
    f = registry()["sensor_thermo_beacon"].column("timestamp")
    assert _column(f, "2024-12-02T01:00:00+01:00") == START
    assert _column(f, "2024-12-02 00:00:00") == START


def test_the_processor_reads_avro_json_from_a_schema_topic(settings: Settings) -> None:
    """A push subscription on the schema'd topic delivers Avro JSON (with the attribute
    Pub/Sub adds): the processor unwraps it and stores what the plain message stores."""
    table = registry()["sensor_thermo_beacon"]
    rows = simulated(table.name)[:5]
    schema = avro_schema(table)
    warehouse = open_warehouse(settings)
    try:
        for index, row in enumerate(rows):
            data = json.dumps(encode_message(schema, to_json(validate_row(table, row)))).encode()
            attributes = {"table_id": table.name, "googclient_schemaencoding": "JSON"}
            outcome = process_message(
                PubSubMessage(data, attributes, f"avro-{index}"), warehouse, received_at=RECEIVED
            )
            assert outcome.result.loaded == 1, outcome
        binary = process_message(
            PubSubMessage(b"\x00", {"table_id": table.name, "googclient_schemaencoding": "BINARY"}),
            warehouse,
            received_at=RECEIVED,
        )
        sql = f"SELECT * FROM {warehouse.dataset}.{table.name} WHERE day >= @since ORDER BY row_id"
        stored = warehouse.query(sql, {"since": date(2000, 1, 1)}).to_pylist()
    finally:
        warehouse.close()
    assert stored == mode_b(table, rows)
    assert binary.poison == (
        "attributes.googclient_schemaencoding: 'BINARY' is not supported (use JSON)"
    )


@pytest.mark.parametrize("name", ["sensor_thermo_beacon", "weather_data"])
def test_fastavro_accepts_the_schema_and_reads_the_edge_messages(name: str) -> None:
    """An independent Avro implementation (fastavro) parses the generated schema and reads
    what the edge publishes as Avro JSON encoding, to the same values."""
    table = registry()[name]
    schema = avro_schema(table)
    parsed = fastavro.parse_schema(schema)
    rows = [to_json(validate_row(table, row)) for row in simulated(name)[:10]]
    text = "\n".join(json.dumps(encode_message(schema, row)) for row in rows)
    read = list(fastavro.json_reader(io.StringIO(text), parsed))
    assert read == rows
