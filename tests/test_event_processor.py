"""The event processor as the platform calls it: functions-framework's real WSGI app.

Runs against the real embedded warehouse (DuckDB). Pub/Sub itself has no emulator here,
so deliveries are tested at the wire boundary: the exact HTTP bodies and headers that
Pub/Sub push and Eventarc send. `test_serve.py` repeats the key cases over a real socket.
"""

from __future__ import annotations

import json
from typing import Any

import flask.testing
import functions_framework
import pytest
from conftest import ROOT
from pubsub import binary_headers, push_body, structured_event

from livability.settings import Settings, shared_warehouse

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


@pytest.fixture
def client(settings: Settings) -> flask.testing.FlaskClient:
    app = functions_framework.create_app(
        target="event_processor",
        source=str(ROOT / "functions" / "main.py"),
        signature_type="cloudevent",
    )
    return app.test_client()


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
            "(known: dead_letter, livability_scores, sensor_thermo_beacon, weather_data)",
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


@pytest.mark.parametrize(
    ("data", "reason_start"),
    [
        (b"{not json", "message.data: not JSON"),
        (b"\xff\xfe", "message.data: not JSON"),
        (b"42", "message.data: 42 is neither a row nor a list"),
    ],
)
def test_poison_message_is_dead_lettered_and_acknowledged(
    client: flask.testing.FlaskClient, settings: Settings, data: bytes, reason_start: str
) -> None:
    response = client.post("/", json=push_body(data), headers=binary_headers())
    assert response.status_code == 200
    dead = stored(settings, DEAD_SQL)
    assert len(dead) == 1
    assert dead[0]["reason"].startswith(reason_start)


def test_invalid_base64_is_dead_lettered(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    body = push_body([READING])
    body["message"]["data"] = "%%% not base64"
    assert client.post("/", json=body, headers=binary_headers()).status_code == 200
    assert [d["reason"] for d in stored(settings, DEAD_SQL)] == [
        "message.data: '%%% not base64' is not valid base64"
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
    shared_warehouse(settings).close()  # the warehouse goes away mid-flight
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
