"""The Pub/Sub publisher: the real google-cloud-pubsub client, tested at the wire.

Runs the real `PublisherClient` (batching, google.api_core retry, gRPC) against a gRPC
Publisher service in this test suite (`tests/grpc_publisher.py`) that records the
PublishRequests it receives and fails on demand; no faithful Pub/Sub emulator installs
here (../shared/EMULATORS.md). The round trip ends in the real event processor and the
embedded DuckDB warehouse. Not proven here: IAM, topic existence, real server limits and
message ordering, which the fake does not model.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from livability.adapters.pubsub import PubSubPublisher
from livability.ingest.messages import message_from_event, process_message
from livability.ingest.rows import IngestResult
from livability.ports import InvalidMessageError, PublishError
from livability.settings import Settings, open_warehouse
from schemas import registry
from schemas.validation import RowError
from tests.support.grpc_publisher import FakePublisher, fake_publisher
from tests.support.pubsub import push_body

TOPIC = "projects/test-proj/topics/sensor-data"
SENSOR_ATTRIBUTES = {
    "table_id": "sensor_thermo_beacon",
    "schema_version": str(registry()["sensor_thermo_beacon"].version),
}
READING = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 7, "temperature": 22.938, "humidity": 43.312},
}
# READING as the message body: normalised, compact, with the top-level home_id the platform
# derives, the battery the reading does not carry (v3) and the row id (pinned: a changed key
# would break de-duplication across versions; battery is an identity column, so v2's key holds).
READING_BODY = (
    b'{"day":"2024-11-29","timestamp":"2024-11-29T14:33:35.855000Z",'
    b'"data":{"mac":123,"home_id":7,"temperature":22.938,"humidity":43.312,"location":null},'
    b'"home_id":7,"battery":null,"room":null,"row_id":"8ed513ca7a33c25d826fc37c43c19ccb"}'
)
WEATHER = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T15:00:00Z",
    "data": {"temperature": 8.5, "humidity": 81.0, "description": "light rain"},
}
SENSOR_SQL = """
SELECT CAST(day AS VARCHAR) AS day, CAST(timestamp AS VARCHAR) AS timestamp,
       data.mac AS mac, data.temperature AS temperature, home_id, battery, row_id
FROM sensor_data.sensor_thermo_beacon ORDER BY timestamp
"""

Factory = Callable[..., PubSubPublisher]


def reading(minute: int) -> dict[str, Any]:
    return {**READING, "timestamp": f"2024-11-29T14:{minute:02d}:00Z"}


@pytest.fixture
def fake() -> Iterator[FakePublisher]:
    with fake_publisher() as running:
        yield running


@pytest.fixture
def publisher(fake: FakePublisher) -> Iterator[Factory]:
    """Publishers on the fake with short backoffs; each closed after the test."""
    made: list[PubSubPublisher] = []

    def make(**options: Any) -> PubSubPublisher:
        settings: dict[str, Any] = {
            "emulator": fake.host,
            "initial_backoff": 0.01,
            "max_backoff": 0.05,
            "deadline": 30.0,
            "timeout": 10.0,
        }
        made.append(PubSubPublisher(TOPIC, **(settings | options)))
        return made[-1]

    yield make
    for each in made:
        each.close()


def messages(fake: FakePublisher) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every message Pub/Sub accepted, as (row, attributes)."""
    return [
        (json.loads(m.data), dict(m.attributes))
        for request in fake.accepted
        for m in request.messages
    ]


def test_each_row_is_one_message_with_its_table_and_schema_version(
    fake: FakePublisher, publisher: Factory
) -> None:
    ids = publisher().publish("sensor_thermo_beacon", [READING, reading(40)])
    assert {request.topic for request in fake.accepted} == {TOPIC}
    sent = [m for request in fake.accepted for m in request.messages]
    assert [dict(m.attributes) for m in sent] == [SENSOR_ATTRIBUTES, SENSOR_ATTRIBUTES]
    [other] = [m.data for m in sent if m.data != READING_BODY]
    second = json.loads(other)
    assert (second["timestamp"], second["home_id"]) == ("2024-11-29T14:40:00.000000Z", 7)
    assert second["row_id"] != json.loads(READING_BODY)["row_id"]
    assert ids == [fake.message_id(READING_BODY), fake.message_id(other)]


def test_battery_travels_in_the_message_but_not_in_the_row_id(
    fake: FakePublisher, publisher: Factory
) -> None:
    publisher().publish("sensor_thermo_beacon", [{**READING, "battery": 87}])
    [(row, attributes)] = messages(fake)
    assert attributes == SENSOR_ATTRIBUTES
    assert row == {**json.loads(READING_BODY), "battery": 87}  # the same pinned row_id


def test_weather_rows_carry_their_own_table(fake: FakePublisher, publisher: Factory) -> None:
    publisher().publish("weather_data", [WEATHER])
    [(row, attributes)] = messages(fake)
    version = str(registry()["weather_data"].version)
    assert attributes == {"table_id": "weather_data", "schema_version": version}
    assert row["data"]["description"] == "light rain"
    assert row["timestamp"] == "2024-11-29T15:00:00.000000Z"
    assert row["observed_at"] is None  # v3 column, not sent by this row
    assert len(row["row_id"]) == 32


def test_rows_published_together_share_requests_of_the_batch_size(
    fake: FakePublisher, publisher: Factory
) -> None:
    # A full request goes out as the next message arrives; the last one after the latency,
    # long enough that publish() has handed over all five rows by then. Requests are sent
    # from several threads, so they may arrive in any order.
    batched = publisher(batch_max_messages=2, batch_max_latency=1.0)
    rows = [reading(minute) for minute in range(0, 50, 10)]
    ids = batched.publish("sensor_thermo_beacon", rows)
    assert sorted(
        [json.loads(m.data)["timestamp"][11:16] for m in request.messages]
        for request in fake.accepted
    ) == [["14:00", "14:10"], ["14:20", "14:30"], ["14:40"]]
    # Each row gets the id Pub/Sub gave its message, in the order of the rows.
    bodies = [m.data for request in fake.accepted for m in request.messages]
    by_time = sorted(bodies, key=lambda data: json.loads(data)["timestamp"])
    assert ids == [fake.message_id(data) for data in by_time]
    assert sorted(ids) == ["m1", "m2", "m3", "m4", "m5"]


def test_unavailable_is_retried_and_every_row_is_published_once(
    fake: FakePublisher, publisher: Factory
) -> None:
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, times=2)
    rows = [reading(0), reading(10), reading(20)]
    ids = publisher().publish("sensor_thermo_beacon", rows)
    codes = [call.code for call in fake.calls]
    assert codes.count(grpc.StatusCode.UNAVAILABLE) == 2
    assert codes.count(grpc.StatusCode.OK) == len(fake.accepted)
    # Each failed request was sent again as it was; Pub/Sub stored every row exactly once.
    stored = [m.data for request in fake.accepted for m in request.messages]
    failed = [
        m.data for c in fake.calls if c.code != grpc.StatusCode.OK for m in c.request.messages
    ]
    assert set(failed) <= set(stored)
    assert sorted(row["timestamp"][11:16] for row, _ in messages(fake)) == [
        "14:00",
        "14:10",
        "14:20",
    ]
    assert sorted(ids) == ["m1", "m2", "m3"]


def test_deadline_exceeded_is_retried(fake: FakePublisher, publisher: Factory) -> None:
    fake.fail_next(grpc.StatusCode.DEADLINE_EXCEEDED)
    ids = publisher().publish("sensor_thermo_beacon", [READING])
    assert [call.code for call in fake.calls] == [
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.OK,
    ]
    assert [m.data for request in fake.accepted for m in request.messages] == [READING_BODY]
    assert ids == ["m1"]


def test_invalid_argument_is_a_clear_error_without_retry(
    fake: FakePublisher, publisher: Factory
) -> None:
    fake.fail_next(grpc.StatusCode.INVALID_ARGUMENT, message="Invalid data in message: bad field")
    with pytest.raises(InvalidMessageError) as error:
        publisher().publish("sensor_thermo_beacon", [READING])
    assert str(error.value) == (
        "Pub/Sub refused a sensor_thermo_beacon message as invalid: Invalid data in message: "
        f"bad field (1 of 1 sensor_thermo_beacon messages were not published to {TOPIC})"
    )
    assert [call.code for call in fake.calls] == [grpc.StatusCode.INVALID_ARGUMENT]
    assert fake.accepted == []


def test_persistent_unavailable_is_a_publish_error_after_the_deadline(
    fake: FakePublisher, publisher: Factory
) -> None:
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, times=10_000)
    impatient = publisher(deadline=0.5)
    with pytest.raises(PublishError) as error:
        impatient.publish("sensor_thermo_beacon", [READING])
    assert type(error.value) is PublishError
    message = str(error.value)
    assert "1 of 1 sensor_thermo_beacon messages were not published" in message
    assert "ServiceUnavailable: fake UNAVAILABLE" in message
    assert message.endswith("publishing the same rows again is safe")
    assert {call.code for call in fake.calls} == {grpc.StatusCode.UNAVAILABLE}
    assert fake.accepted == []
    # Once Pub/Sub is back, the same publisher sends the same rows.
    fake.heal()
    impatient.publish("sensor_thermo_beacon", [READING])
    assert [m.data for request in fake.accepted for m in request.messages] == [READING_BODY]


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ("livability_scores", "table_id 'livability_scores' is not an ingest table"),
        ("dead_letter", "table_id 'dead_letter' is not an ingest table"),
        ("sensor_data", "table_id 'sensor_data': table 'sensor_data' is not defined in schemas/"),
    ],
)
def test_only_ingest_tables_are_published(
    fake: FakePublisher, publisher: Factory, table: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        publisher().publish(table, [READING])
    assert fake.calls == []


def test_an_invalid_row_is_refused_and_nothing_is_published(
    fake: FakePublisher, publisher: Factory
) -> None:
    hot = {**READING, "data": {**READING["data"], "temperature": 999.0}}  # type: ignore[dict-item]
    with pytest.raises(RowError) as error:
        publisher().publish("sensor_thermo_beacon", [READING, hot])
    assert error.value.problems == [
        "sensor_thermo_beacon row 1: data.temperature: 999.0 is outside the physical range -40..85"
    ]
    assert fake.calls == []


def test_a_row_too_large_for_any_request_is_an_invalid_message(
    fake: FakePublisher, publisher: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The contract bounds every string taken from outside (weather_data's description: 200
    # characters), so no row of today's tables gets this large; a table without that bound
    # still meets the publisher's own size check.
    contract = registry()
    unbounded = dataclasses.replace(contract["weather_data"], lengths={})
    tables = {**contract.tables, "weather_data": unbounded}
    monkeypatch.setattr(
        "livability.adapters.pubsub.registry",
        lambda: dataclasses.replace(contract, tables=tables),
    )
    huge = {**WEATHER, "data": {"description": "x" * 10_000_000}}  # Pub/Sub's limit: 10 MB
    with pytest.raises(InvalidMessageError, match="would exceed the maximum allowed size"):
        publisher().publish("weather_data", [huge])
    assert fake.calls == []


def test_a_string_beyond_the_contract_s_length_is_refused_before_any_call(
    fake: FakePublisher, publisher: Factory
) -> None:
    huge = {**WEATHER, "data": {"description": "x" * 10_000_000}}
    with pytest.raises(RowError, match=r"data\.description: .* is longer than 200 characters"):
        publisher().publish("weather_data", [huge])
    assert fake.calls == []


def test_no_rows_publish_nothing(fake: FakePublisher, publisher: Factory) -> None:
    assert publisher().publish("sensor_thermo_beacon", []) == []
    assert fake.calls == []


def test_the_emulator_host_is_used_whatever_the_environment_says(
    fake: FakePublisher, publisher: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")  # nothing listens there
    publisher(emulator=f"http://{fake.host}").publish("sensor_thermo_beacon", [READING])
    assert [m.data for request in fake.accepted for m in request.messages] == [READING_BODY]


def test_a_closed_publisher_refuses_to_publish(fake: FakePublisher, publisher: Factory) -> None:
    closing = publisher()
    closing.publish("sensor_thermo_beacon", [READING])
    closing.close()
    closing.close()  # idempotent
    with pytest.raises(PublishError, match="is closed"):
        closing.publish("sensor_thermo_beacon", [READING])
    assert len(fake.calls) == 1


def test_a_published_row_lands_once_through_the_event_processor(
    fake: FakePublisher, publisher: Factory, settings: Settings
) -> None:
    sender = publisher()
    ids = sender.publish("sensor_thermo_beacon", [READING])
    # A gateway re-publishing after a timeout: a new message with the same row.
    ids += sender.publish("sensor_thermo_beacon", [READING])
    sent = [m for request in fake.accepted for m in request.messages]
    assert ids == ["m1", "m2"]
    deliveries = [
        message_from_event(push_body(m.data, dict(m.attributes), message_id=message_id))
        for m, message_id in zip(sent, ids, strict=True)
    ]
    warehouse = open_warehouse(settings)
    try:
        received_at = datetime(2024, 11, 29, 14, 34, tzinfo=UTC)
        outcomes = [process_message(d, warehouse, received_at=received_at) for d in deliveries]
        stored = warehouse.query(SENSOR_SQL).to_pylist()
    finally:
        warehouse.close()
    assert [(o.table, o.result) for o in outcomes] == [
        ("sensor_thermo_beacon", IngestResult(loaded=1)),
        ("sensor_thermo_beacon", IngestResult(duplicates=1)),
    ]
    assert stored == [
        {
            "day": "2024-11-29",
            "timestamp": "2024-11-29 14:33:35.855",
            "mac": 123,
            "temperature": 22.938,
            "home_id": 7,
            "battery": None,
            "row_id": "8ed513ca7a33c25d826fc37c43c19ccb",
        }
    ]


def test_rows_per_message_batches_rows_into_arrays_the_event_processor_stores(
    fake: FakePublisher, publisher: Factory, settings: Settings
) -> None:
    """Ingest mode `function`: N rows per message (the reference's JSON array), one function
    run each; every row lands once with the same key as when sent one per message."""
    rows = [reading(minute) for minute in range(7)]
    ids = publisher(rows_per_message=3).publish("sensor_thermo_beacon", rows)
    sent = [m for request in fake.accepted for m in request.messages]
    assert len(ids) == len(sent) == 3
    bodies = [json.loads(m.data) for m in sent]
    assert [len(body) for body in bodies] == [3, 3, 1]
    assert {tuple(sorted(m.attributes.items())) for m in sent} == {
        tuple(sorted(SENSOR_ATTRIBUTES.items()))
    }
    # The same rows one per message, as a BigQuery subscription's topic takes them.
    single = publisher().publish("sensor_thermo_beacon", rows)
    assert len(single) == 7
    one_each = [json.loads(m.data) for request in fake.accepted for m in request.messages][3:]
    assert [row for body in bodies for row in body] == one_each

    warehouse = open_warehouse(settings)
    try:
        received_at = datetime(2024, 11, 29, 15, 0, tzinfo=UTC)
        outcomes = [
            process_message(
                message_from_event(push_body(m.data, dict(m.attributes), message_id=i)),
                warehouse,
                received_at=received_at,
            )
            for m, i in zip(sent, ids, strict=True)
        ]
        stored = warehouse.query(SENSOR_SQL).to_pylist()
    finally:
        warehouse.close()
    assert [o.result for o in outcomes] == [
        IngestResult(loaded=3),
        IngestResult(loaded=3),
        IngestResult(loaded=1),
    ]
    assert [row["row_id"] for row in stored] == [row["row_id"] for row in one_each]


@pytest.mark.parametrize("size", [0, 1001])
def test_rows_per_message_out_of_range_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="rows_per_message must be 1 to 1000"):
        PubSubPublisher(TOPIC, rows_per_message=size)
