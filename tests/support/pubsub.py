"""Pub/Sub deliveries as the platform makes them, for posting to the event processor."""

from __future__ import annotations

import base64
import json
from typing import Any

TOPIC = "//pubsub.googleapis.com/projects/test-proj/topics/sensor_data"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
SENSOR_ATTRIBUTES = {"dataset_id": "sensor_data", "table_id": "sensor_thermo_beacon"}


def push_body(
    data: Any, attributes: dict[str, str] | None = None, message_id: str = "1001"
) -> dict[str, Any]:
    """A Pub/Sub push body; `data` is JSON-encoded unless already bytes."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return {
        "message": {
            "data": base64.b64encode(raw).decode(),
            "attributes": SENSOR_ATTRIBUTES if attributes is None else attributes,
            "messageId": message_id,
            "publishTime": "2024-11-29T14:33:36.000Z",
        },
        "subscription": "projects/test-proj/subscriptions/event-processor",
    }


def binary_headers(event_id: str = "1001") -> dict[str, str]:
    """The ce-* headers of a binary-mode CloudEvent, as Eventarc sends Pub/Sub messages."""
    return {
        "ce-id": event_id,
        "ce-specversion": "1.0",
        "ce-type": PUBLISHED,
        "ce-source": TOPIC,
        "ce-time": "2024-11-29T14:33:36.000Z",
    }


def structured_event(body: dict[str, Any], event_id: str = "1001") -> str:
    """A structured-mode CloudEvent (`application/cloudevents+json`) carrying `body`."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": TOPIC,
            "type": PUBLISHED,
            "datacontenttype": "application/json",
            "data": body,
        }
    )
