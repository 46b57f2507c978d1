"""The gateway's Pub/Sub sink: the agent's drain through the data plane's publisher (the real
google-cloud-pubsub client) to the suite's gRPC Publisher service on 127.0.0.1
(tests/grpc_publisher.py), which records requests and fails on demand. Real time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from edge.agent import Agent
from edge.config import Config
from edge.outbox import Outbox
from edge.sinks import open_sink
from livability.settings import Emulators, Settings
from tests.edge.support import START, gateway, sensor
from tests.support.grpc_publisher import FakePublisher, fake_publisher

TOPIC = "projects/livability-test/topics/sensor_data"


@pytest.fixture
def fake() -> Iterator[FakePublisher]:
    with fake_publisher() as running:
        yield running


class Idle:
    def __init__(self, *_: object, **__: object) -> None:
        pass


def readings(count: int) -> list[dict[str, object]]:
    return [
        {
            "day": "2025-01-06",
            "timestamp": (START + timedelta(minutes=10 * k)).isoformat(),
            "data": {"mac": 0x70F70000111A, "home_id": 1, "temperature": 20 + k / 16},
            "battery": 97,
        }
        for k in range(count)
    ]


def test_drain_publishes_one_row_per_message_and_keeps_what_failed(
    tmp_path: Path, fake: FakePublisher
) -> None:
    settings = Settings(topic=TOPIC, emulators=Emulators(pubsub=fake.host))
    config = Config(gateway(tmp_path, batch_size=5, send_every=0), (sensor("70:F7:00:00:11:1A"),))
    sink = open_sink("pubsub", settings)
    outbox = Outbox(config.gateway.outbox)
    agent = Agent(config, outbox, sink, scanner_class=Idle, client_class=Idle)
    try:
        outbox.put("sensor_thermo_beacon", readings(12), START)
        # Pub/Sub refuses for a while: every attempt retried by the client fails.
        fake.fail_next(grpc.StatusCode.PERMISSION_DENIED, times=1)
        assert asyncio.run(agent.drain()) == 0
        assert outbox.depth() == 12
        agent.sender.retry_at = None  # the backoff has passed
        assert asyncio.run(agent.drain()) == 12
        assert outbox.depth() == 0
    finally:
        outbox.close()
        sink.close()
    messages = [m for request in fake.accepted for m in request.messages]
    assert len(messages) == 12
    assert {m.attributes["table_id"] for m in messages} == {"sensor_thermo_beacon"}
    assert {m.attributes["schema_version"] for m in messages} == {"4"}  # v4: room
    rows = sorted((json.loads(m.data) for m in messages), key=lambda r: r["timestamp"])
    assert [r["data"]["temperature"] for r in rows] == [20 + k / 16 for k in range(12)]
    assert all(r["battery"] == 97 and len(r["row_id"]) == 32 for r in rows)
