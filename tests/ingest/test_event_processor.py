"""The event processor as the platform calls it: functions-framework's real WSGI app.

Runs against the real embedded warehouse (DuckDB). Pub/Sub itself has no emulator here,
so deliveries are tested at the wire boundary: the exact HTTP bodies and headers that
Pub/Sub push and Eventarc send. `test_serve.py` repeats the key cases over a real socket.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import flask.testing
import pytest

from livability.ports import WarehouseError
from livability.settings import Settings, shared_warehouse
from tests.support.pubsub import binary_headers, push_body, structured_event

# The sample message of the reference PoC (seed.md), verbatim: it has no home_id.
REFERENCE_SAMPLE = [
    {
        "day": "2024-11-29",
        "timestamp": "2024-11-29T14:33:35.855Z",
        "data": {"mac": 123, "temperature": 22.938, "humidity": 43.312},
    }
]
READING = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 7, "temperature": 22.938, "humidity": 43.312},
}
READING_ROW = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29 14:33:35.855",
    "mac": 123,
    "home_id": 7,
    "temperature": 22.938,
    "humidity": 43.312,
}
SENSOR_SQL = """
SELECT CAST(day AS VARCHAR) AS day, CAST(timestamp AS VARCHAR) AS timestamp, data.mac AS mac,
       data.home_id AS home_id, data.temperature AS temperature, data.humidity AS humidity
FROM sensor_data.sensor_thermo_beacon ORDER BY timestamp, mac
"""
DEAD_SQL = """
SELECT message_id, target_table, reason, payload FROM sensor_data.dead_letter ORDER BY reason
"""


def stored(settings: Settings, sql: str) -> list[dict[str, Any]]:
    return shared_warehouse(settings).query(sql).to_pylist()  # type: ignore[no-any-return]


def reading(minute: int, **data: Any) -> dict[str, Any]:
    return {
        "day": "2024-11-29",
        "timestamp": f"2024-11-29T14:{minute:02d}:00Z",
        "data": {"mac": 123, "home_id": 7, "temperature": 21.0, "humidity": 50.0, **data},
    }


def test_binary_cloud_event_lands_the_row(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post("/", json=push_body([READING]), headers=binary_headers())
    assert response.status_code == 200
    assert stored(settings, SENSOR_SQL) == [READING_ROW]
    assert stored(settings, DEAD_SQL) == []


def test_structured_cloud_event_lands_the_row(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post(
        "/",
        data=structured_event(push_body(READING)),
        headers={"Content-Type": "application/cloudevents+json"},
    )
    assert response.status_code == 200
    assert stored(settings, SENSOR_SQL) == [READING_ROW]


def test_raw_pubsub_push_body_lands_the_row(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post("/", json=push_body([READING]))
    assert response.status_code == 200
    assert stored(settings, SENSOR_SQL) == [READING_ROW]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        # A binary CloudEvent must carry id, source and type as well.
        {"Content-Type": "application/json", "ce-specversion": "1.0"},
    ],
)
def test_request_that_is_not_a_cloud_event_is_400(
    client: flask.testing.FlaskClient, settings: Settings, headers: dict[str, str]
) -> None:
    response = client.post("/", data=json.dumps({"hello": "world"}), headers=headers)
    assert response.status_code == 400
    assert stored(settings, DEAD_SQL) == []


def test_reference_sample_without_home_id_is_dead_lettered(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    """A reading that cannot be attributed to a home cannot be scored: kept, not stored."""
    response = client.post(
        "/", json=push_body(REFERENCE_SAMPLE, message_id="ref-1"), headers=binary_headers()
    )
    assert response.status_code == 200
    assert stored(settings, SENSOR_SQL) == []
    assert stored(settings, DEAD_SQL) == [
        {
            "message_id": "ref-1",
            "target_table": "sensor_thermo_beacon",
            "reason": "row 0: data.home_id: required field is missing",
            "payload": json.dumps(REFERENCE_SAMPLE[0]),
        }
    ]


def test_same_message_delivered_three_times_is_stored_once(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    body = push_body([reading(0), reading(10), reading(20, temperature=99.0)])
    for _ in range(3):
        assert client.post("/", json=body, headers=binary_headers()).status_code == 200
    assert [r["timestamp"] for r in stored(settings, SENSOR_SQL)] == [
        "2024-11-29 14:00:00",
        "2024-11-29 14:10:00",
    ]
    assert len(stored(settings, DEAD_SQL)) == 1


def test_valid_rows_land_and_each_invalid_row_is_dead_lettered_with_its_reason(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    rows = [
        reading(0),
        reading(10, temperature=120.5),
        reading(20),
        reading(30, humidity="wet"),
        "not a row",
        reading(40, home_id=None),
        reading(50),
    ]
    response = client.post("/", json=push_body(rows, message_id="mix-1"), headers=binary_headers())
    assert response.status_code == 200
    assert [(r["timestamp"], r["home_id"]) for r in stored(settings, SENSOR_SQL)] == [
        ("2024-11-29 14:00:00", 7),
        ("2024-11-29 14:20:00", 7),
        ("2024-11-29 14:50:00", 7),
    ]
    dead = stored(settings, DEAD_SQL)
    assert [(d["reason"], json.loads(d["payload"])) for d in dead] == [
        ("row 1: data.temperature: 120.5 is outside the physical range -40..85", rows[1]),
        ('row 3: data.humidity: "wet" is not a number', rows[3]),
        ('row 4: row: expected a JSON object, got "not a row"', rows[4]),
        ("row 5: data.home_id: required field is missing", rows[5]),
    ]
    assert {(d["message_id"], d["target_table"]) for d in dead} == {
        ("mix-1", "sensor_thermo_beacon")
    }


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        (
            {"dataset_id": "billing", "table_id": "sensor_thermo_beacon"},
            "dataset_id: 'billing' is not the configured dataset 'sensor_data'",
        ),
        (
            {"dataset_id": "sensor_data", "table_id": "livability_scores"},
            "table_id: 'livability_scores' does not accept device data",
        ),
        (
            {"dataset_id": "sensor_data", "table_id": "users"},
            "table_id: table 'users' is not defined in schemas/ "
            "(known: dead_letter, livability_scores, sensor_hours, sensor_thermo_beacon, "
            "weather_data)",
        ),
        ({"dataset_id": "sensor_data"}, "table_id: attribute is missing"),
    ],
)
def test_message_may_only_write_tables_the_contract_allows(
    client: flask.testing.FlaskClient, settings: Settings, attributes: dict[str, str], reason: str
) -> None:
    response = client.post("/", json=push_body([READING], attributes), headers=binary_headers())
    assert response.status_code == 200  # poison: acknowledged, never redelivered
    assert stored(settings, SENSOR_SQL) == []
    assert stored(settings, "SELECT count(*) AS n FROM sensor_data.livability_scores") == [{"n": 0}]
    assert [d["reason"] for d in stored(settings, DEAD_SQL)] == [reason]


# --- Hostile messages: each acknowledged (200) and dead-lettered once, naming field and value ---

KNOWN = "(known: dead_letter, livability_scores, sensor_hours, sensor_thermo_beacon, weather_data)"
NO_NAN = "is not valid JSON (JSON has no NaN or Infinity)"
WEATHER = {"dataset_id": "sensor_data", "table_id": "weather_data"}
# A weather row whose description holds a lone surrogate, as JSON text can carry it.
LONE_SURROGATE_ROW = (
    b'{"day": "2024-11-29", "timestamp": "2024-11-29T14:00:00Z", '
    b'"data": {"description": "\\ud800"}}'
)
FIVE_THOUSAND_DIGITS = b'{"data": {"mac": ' + b"1" * 5000 + b"}}"
NESTED_100K = b"[" * 100_000 + b"]" * 100_000
NESTED_40 = b"[" * 40 + b"]" * 40
DUPLICATE_KEYS = b'{"day": "2024-11-29", "day": "2024-11-30"}'
NAN_ROW = b'[{"data": {"temperature": NaN}}]'
MINUS_INFINITY_ROW = b'[{"data": {"humidity": -Infinity}}]'
UTF16_ROW = json.dumps(READING).encode("utf-16")
BOM_ROW = b"\xef\xbb\xbf" + json.dumps(READING).encode()
TEN_THOUSAND_AND_ONE_ROWS = b"[" + b",".join([b"{}"] * 10_001) + b"]"


def message_with(**changes: Any) -> dict[str, Any]:
    """A push body of READING with fields of its `message` replaced."""
    body = push_body([READING])
    body["message"].update(changes)
    return body


HOSTILE_MESSAGES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    # id: (push body, dead-letter reason, target_table)
    "lone surrogate in a row": (
        push_body(LONE_SURROGATE_ROW, WEATHER),
        'row 0: data.description: "\\ud800" is not valid Unicode (lone surrogate)',
        "weather_data",
    ),
    "lone surrogate in an attribute": (
        push_body([READING], {"table_id": "\ud800"}),
        'message.attributes.table_id: "\\ud800" is not valid Unicode (a lone surrogate)',
        "\\ud800",
    ),
    "integer of 5,000 digits": (
        push_body(FIVE_THOUSAND_DIGITS),
        "message.data: not JSON this platform reads (Exceeds the limit (4300 digits) for "
        "integer string conversion: value has 5000 digits; use sys.set_int_max_str_digits() "
        "to increase the limit)",
        "sensor_thermo_beacon",
    ),
    "JSON nested 100k deep": (
        push_body(NESTED_100K),
        "message.data: not JSON this platform reads (nested deeper than 32 levels)",
        "sensor_thermo_beacon",
    ),
    "JSON nested 40 deep": (
        push_body(NESTED_40),
        "message.data: not JSON this platform reads (nested deeper than 32 levels)",
        "sensor_thermo_beacon",
    ),
    "messageId a number": (
        message_with(messageId=12345),
        "message.messageId: 12345 is not an id (1-256 printable ASCII characters)",
        "sensor_thermo_beacon",
    ),
    "messageId of 300 characters": (
        message_with(messageId="9" * 300),
        f'message.messageId: "{"9" * 56}... is not an id (1-256 printable ASCII characters)',
        "sensor_thermo_beacon",
    ),
    "attributes a list": (
        message_with(attributes=["table_id"]),
        'message.attributes: ["table_id"] is not an object',
        None,
    ),
    "attribute a number": (
        message_with(attributes={"table_id": 5}),
        "message.attributes.table_id: 5 is not a string",
        None,
    ),
    "101 attributes": (
        push_body([READING], {f"k{i}": "v" for i in range(101)}),
        "message.attributes: 101 attributes, more than Pub/Sub's 100",
        None,
    ),
    "data a number": (
        message_with(data=12),
        "message.data: 12 is not a base64 string",
        "sensor_thermo_beacon",
    ),
    "data not ASCII": (
        message_with(data="\u00e9"),
        'message.data: "\\u00e9" is not valid base64',
        "sensor_thermo_beacon",
    ),
    "data base64 of UTF-16": (
        push_body(UTF16_ROW),
        "message.data: not UTF-8 (byte 0xff at offset 0)",
        "sensor_thermo_beacon",
    ),
    "data with a byte-order mark": (
        push_body(BOM_ROW),
        "message.data: not JSON (Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 "
        "column 1 (char 0))",
        "sensor_thermo_beacon",
    ),
    "duplicate keys": (
        push_body(DUPLICATE_KEYS),
        'message.data: key "day" appears twice in one object (ambiguous JSON)',
        "sensor_thermo_beacon",
    ),
    "NaN literal": (push_body(NAN_ROW), f"message.data: NaN {NO_NAN}", "sensor_thermo_beacon"),
    "-Infinity literal": (
        push_body(MINUS_INFINITY_ROW),
        f"message.data: -Infinity {NO_NAN}",
        "sensor_thermo_beacon",
    ),
    "data empty": (
        message_with(data=""),
        "message.data: empty, with no row to store",
        "sensor_thermo_beacon",
    ),
    "data missing": (
        message_with(data=None),
        "message.data: empty, with no row to store",
        "sensor_thermo_beacon",
    ),
    "empty array": (
        push_body(b"[]"),
        "message.data: [] is an empty list, with no row to store",
        "sensor_thermo_beacon",
    ),
    "null": (
        push_body(b"null"),
        "message.data: null is neither a row nor a list",
        "sensor_thermo_beacon",
    ),
    "a number": (
        push_body(b"42"),
        "message.data: 42 is neither a row nor a list",
        "sensor_thermo_beacon",
    ),
    "not JSON": (
        push_body(b"{not json"),
        "message.data: not JSON (Expecting property name enclosed in double quotes: line 1 "
        "column 2 (char 1))",
        "sensor_thermo_beacon",
    ),
    "10,001 rows": (
        push_body(TEN_THOUSAND_AND_ONE_ROWS),
        "message.data: 10001 rows, more than the 10000 one message may hold",
        "sensor_thermo_beacon",
    ),
    "table_id with SQL in it": (
        push_body([READING], {"table_id": "sensor_thermo_beacon; DROP TABLE x"}),
        f"table_id: table 'sensor_thermo_beacon; DROP TABLE x' is not defined in schemas/ {KNOWN}",
        "sensor_thermo_beacon; DROP TABLE x",
    ),
    "table_id with a newline": (
        push_body([READING], {"table_id": "a\nb"}),
        f'table_id: table "a\\nb" is not defined in schemas/ {KNOWN}',
        "a\nb",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_MESSAGES)
def test_hostile_message_is_acknowledged_and_dead_lettered_once(
    client: flask.testing.FlaskClient, settings: Settings, case: str
) -> None:
    body, reason, target = HOSTILE_MESSAGES[case]
    for _ in range(2):  # a redelivery adds no second dead letter
        response = client.post("/", json=body, headers=binary_headers("h-1"))
        assert response.status_code == 200
    dead = stored(settings, DEAD_SQL)
    # An envelope that is no Pub/Sub message is filed under the CloudEvent's id; a message
    # whose content is bad, under its Pub/Sub messageId.
    envelope = reason.startswith(("message.attributes", "message.messageId")) or (
        "base64" in reason
    )
    assert [(d["reason"], d["target_table"], d["message_id"]) for d in dead] == [
        (reason, target, "h-1" if envelope else "1001")
    ]
    assert stored(settings, SENSOR_SQL) == []


@pytest.mark.parametrize(
    ("data", "payload"),
    [([1, 2], "[1, 2]"), ("hello", '"hello"'), (None, "null")],
    ids=["a list", "a string", "null"],
)
def test_cloud_event_whose_data_is_no_object_is_dead_lettered(
    client: flask.testing.FlaskClient, settings: Settings, data: Any, payload: str
) -> None:
    event = json.loads(structured_event({}))
    event["data"] = data
    response = client.post(
        "/", data=json.dumps(event), headers={"Content-Type": "application/cloudevents+json"}
    )
    assert response.status_code == 200
    assert stored(settings, DEAD_SQL) == [
        {
            "message_id": "1001",
            "target_table": None,
            "reason": "CloudEvent data has no Pub/Sub 'message' object",
            "payload": payload,
        }
    ]


def test_undecodable_bytes_are_kept_as_base64(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post(
        "/", json=push_body(b"\xff\xfe", {"table_id": "users"}), headers=binary_headers()
    )
    assert response.status_code == 200
    assert stored(settings, DEAD_SQL) == [
        {
            "message_id": "1001",
            "target_table": "users",
            "reason": f"table_id: table 'users' is not defined in schemas/ {KNOWN} "
            "(the payload is not UTF-8: kept as base64)",
            "payload": "base64://4=",
        }
    ]


def test_enormous_message_is_dead_lettered_as_a_prefix_and_kept_whole_in_the_bucket(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    """Issue 16 changed this: the whole payload is kept in the data bucket (the table keeps a
    1 MB prefix), so nothing a message held is lost."""
    data = b'{"note": "' + b"x" * 3_000_000 + b'"'  # not JSON: no closing brace
    response = client.post("/", json=push_body(data), headers=binary_headers())
    assert response.status_code == 200
    [dead] = stored(settings, DEAD_SQL)
    assert dead["payload"] == data[:1_000_000].decode()
    digest = hashlib.sha256(data).hexdigest()
    [day] = [p.name for p in (settings.home / "bucket" / "dead-letters").iterdir()]
    key = f"dead-letters/{day}/{digest}"
    assert dead["reason"] == (
        "message.data: not JSON (Expecting ',' delimiter: line 1 column 3000012 (char 3000011)) "
        f"[payload of {len(data)} bytes cut to its first 1000000; kept whole at {key} in the "
        f"data bucket; sha256 of the whole: {digest}]"
    )
    assert settings.open_bucket().get(key) == data


def test_valid_rows_beside_hostile_ones_land(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    rows = [reading(0), None, [1], 7, "x", reading(10, temperature=1e308), reading(20)]
    body = push_body(json.dumps(rows).replace("1e+308", "1e999").encode())
    response = client.post("/", json=body, headers=binary_headers())
    assert response.status_code == 200
    assert [r["timestamp"] for r in stored(settings, SENSOR_SQL)] == [
        "2024-11-29 14:00:00",
        "2024-11-29 14:20:00",
    ]
    assert [d["reason"] for d in stored(settings, DEAD_SQL)] == [
        "row 1: row: expected a JSON object, got null",
        "row 2: row: expected a JSON object, got [1]",
        "row 3: row: expected a JSON object, got 7",
        'row 4: row: expected a JSON object, got "x"',
        "row 5: data.temperature: Infinity is not a finite number",
    ]


def test_negative_zero_and_zero_are_one_row(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    zero = push_body([reading(0, temperature=0)])
    negative = push_body(
        json.dumps([reading(0, temperature=0)]).replace(": 0,", ": -0.0,", 1).encode()
    )
    assert b"-0.0" in base64.b64decode(negative["message"]["data"])
    for body in (zero, negative):
        assert client.post("/", json=body, headers=binary_headers()).status_code == 200
    assert len(stored(settings, SENSOR_SQL)) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            '{"message": {"data": "", "messageId": ' + "1" * 5000 + "}}",
            "request body: not JSON this platform reads (Exceeds the limit (4300 digits) for "
            "integer string conversion: value has 5000 digits; use "
            "sys.set_int_max_str_digits() to increase the limit)",
            id="integer of 5,000 digits",
        ),
        pytest.param(
            '{"message": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "request body: not JSON this platform reads (nested deeper than 32 levels)",
            id="nested 100k deep",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["binary", "structured", "push"])
def test_request_body_the_framework_cannot_parse_is_400(
    client: flask.testing.FlaskClient, settings: Settings, body: str, problem: str, mode: str
) -> None:
    """Not a message at all (Pub/Sub always sends well-formed JSON): refused, not retried.
    Issue 16: every error answer is one JSON line (it was a line of text)."""
    headers = {
        "binary": {**binary_headers(), "Content-Type": "application/json"},
        "structured": {"Content-Type": "application/cloudevents+json"},
        "push": {"Content-Type": "application/json"},
    }[mode]
    response = client.post("/", data=body, headers=headers)
    assert (response.status_code, json.loads(response.get_data(as_text=True))) == (
        400,
        {"status": 400, "error": problem, "retry": False},
    )
    assert stored(settings, DEAD_SQL) == []


def test_request_body_not_utf8_is_400(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post(
        "/",
        data=b'{"message": {"data": "\xff", "messageId": "x"}, "subscription": "s"}',
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.get_data(as_text=True)) == (
        400,
        '{"status":400,"error":"request body: not UTF-8 (byte 0xff at offset 22)","retry":false}\n',
    )


def test_invalid_base64_is_dead_lettered(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    body = push_body([READING])
    body["message"]["data"] = "%%% not base64"
    assert client.post("/", json=body, headers=binary_headers()).status_code == 200
    assert [d["reason"] for d in stored(settings, DEAD_SQL)] == [
        'message.data: "%%% not base64" is not valid base64'
    ]


def test_event_without_pubsub_message_is_dead_lettered_whole(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post("/", json={"unexpected": True}, headers=binary_headers("odd-1"))
    assert response.status_code == 200
    assert stored(settings, DEAD_SQL) == [
        {
            "message_id": "odd-1",
            "target_table": None,
            "reason": "CloudEvent data has no Pub/Sub 'message' object",
            "payload": '{"unexpected": true}',
        }
    ]


def test_sink_failure_answers_500_and_the_redelivery_lands(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    body = push_body([READING])
    warehouse = shared_warehouse(settings)
    warehouse.close()  # the warehouse goes away mid-flight
    with pytest.raises(WarehouseError, match="was closed"):  # what the function then meets
        warehouse.query("SELECT 1")
    assert client.post("/", json=body, headers=binary_headers()).status_code == 500
    shared_warehouse.cache_clear()  # it comes back; Pub/Sub redelivers
    assert client.post("/", json=body, headers=binary_headers()).status_code == 200
    assert stored(settings, SENSOR_SQL) == [READING_ROW]


def test_unreachable_warehouse_answers_500(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    settings.home.parent.mkdir(parents=True, exist_ok=True)
    settings.home.write_text("a file where the state folder should be")
    assert client.post("/", json=push_body([READING]), headers=binary_headers()).status_code == 500


def test_processed_message_is_logged_as_structured_json(
    client: flask.testing.FlaskClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    client.post(
        "/",
        json=push_body([READING, reading(5, temperature=-99.0)]),
        headers=binary_headers("log-1"),
    )
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = next(e for e in entries if e["message"] == "message processed")
    assert {k: summary[k] for k in ("severity", "event_id", "table", "loaded", "rejected")} == {
        "severity": "INFO",
        "event_id": "log-1",
        "table": "sensor_thermo_beacon",
        "loaded": 1,
        "rejected": 1,
    }
    rejected = next(e for e in entries if e["message"] == "rejected")
    assert rejected["severity"] == "WARNING"
    assert "-99.0 is outside" in rejected["reason"]
