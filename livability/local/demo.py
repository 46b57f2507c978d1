"""The whole job on one machine: simulate homes, publish, ingest, score, publish scores.

Every message goes through the real event processor as Pub/Sub delivers it: a binary-mode
CloudEvent posted to the functions-framework app (in process, through its WSGI stack,
so no port is needed), with `SENDERS` deliveries in flight at once as a push subscription
has them; the warehouse commits the messages that are waiting together.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import polars as pl

import functions.main
from edge.messages import Message, hourly
from livability.local.simulator import Home, make_homes, sensor_rows, weather_rows
from livability.settings import Settings, shared_warehouse
from scoring import job

SENDERS = 8
TOPIC = "//pubsub.googleapis.com/projects/livability-local/topics/sensor_data"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


class DemoError(RuntimeError):
    """The event processor refused a message the simulator produced."""


@dataclass(frozen=True)
class DemoResult:
    homes: list[Home]
    messages: int
    weeks: list[date]
    vectors: pl.DataFrame  # every scored week, all homes


def default_start(today: date) -> date:
    """The Monday two complete weeks back, so both simulated weeks have ended."""
    return job.last_complete_week(today) - job.WEEK


def simulate(homes: list[Home], start: date, days: int, seed: int, dataset: str) -> list[Message]:
    """Every message the gateways and the weather poller would publish, in time order."""
    start_at = datetime.combine(start, time(), UTC)
    # Sites in order of first appearance, not set order (string hashes vary per process), so
    # the message sequence, and with it the message ids, is the same on every run.
    sites = dict.fromkeys(h.site for h in homes)
    weather = {site: weather_rows(site, start_at, days, seed) for site in sites}
    messages: list[Message] = []
    for site_rows in weather.values():
        messages += hourly("weather_data", site_rows, dataset)
    for home in homes:
        rows = sensor_rows(home, weather[home.site], start_at, days, seed)
        messages += hourly("sensor_thermo_beacon", rows, dataset)
    return sorted(messages, key=lambda m: m.published_at)


def cloud_event(message: Message, message_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and body of a binary-mode CloudEvent carrying `message`, as Eventarc sends it."""
    headers = {
        "ce-id": message_id,
        "ce-specversion": "1.0",
        "ce-type": PUBLISHED,
        "ce-source": TOPIC,
        "ce-time": message.published_at,
    }
    body = {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": dict(message.attributes),
            "messageId": message_id,
            "publishTime": message.published_at,
        },
        "subscription": "projects/livability-local/subscriptions/event-processor",
    }
    return headers, body


def run(
    settings: Settings,
    *,
    homes: int,
    seed: int,
    start: date,
    weeks: int,
    on_message: Callable[[int, int], None] = lambda _done, _total: None,
) -> DemoResult:
    """Simulate, deliver every message to the event processor, then score each week."""
    population = make_homes(homes, seed)
    messages = simulate(population, start, 7 * weeks, seed, settings.dataset)
    app = functions_framework.create_app(
        target="event_processor",
        source=str(Path(functions.main.__file__)),
        signature_type="cloudevent",
    )
    clients = threading.local()

    def deliver(index: int) -> None:
        if not hasattr(clients, "client"):
            clients.client = app.test_client()
        message = messages[index]
        headers, body = cloud_event(message, f"demo-{index}")
        response = clients.client.post("/", json=body, headers=headers)
        if response.status_code != 200:
            raise DemoError(
                f"event processor answered {response.status_code} to message {index} "
                f"({message.table}, {message.published_at})"
            )

    with ThreadPoolExecutor(SENDERS, thread_name_prefix="pubsub-push") as pool:
        pending = [pool.submit(deliver, index) for index in range(len(messages))]
        for done, future in enumerate(as_completed(pending), start=1):
            future.result()  # a refused message stops the demo with its reason
            on_message(done, len(messages))
    warehouse = shared_warehouse(settings)
    bucket = settings.open_bucket()
    scored = [start + timedelta(days=7 * w) for w in range(weeks)]
    now = datetime.now(UTC)
    vectors = pl.concat([job.run(warehouse, bucket, week, now).vectors for week in scored])
    return DemoResult(population, len(messages), scored, vectors)
