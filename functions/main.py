"""Cloud Functions entry points. Thin: settings and clients are built on first call,
never at import, and the logic lives in typed helpers that take them as arguments."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime

import functions_framework
from cloudevents.http.event import CloudEvent

from functions.processor import process_event
from livability.logs import configure_logging
from livability.settings import Settings, shared_warehouse

log = logging.getLogger(
    "functions.event_processor"
)  # a fixed name: the runtime loads this file by path


@functions_framework.cloud_event
def event_processor(cloud_event: CloudEvent) -> None:
    """Pub/Sub → warehouse rows. Raising makes the platform answer 500 and redeliver."""
    configure_logging(replace=False)
    warehouse = shared_warehouse(Settings.from_env())
    outcome = process_event(
        cloud_event.data, cloud_event["id"], warehouse, received_at=datetime.now(UTC)
    )
    log.info(
        "message processed",
        extra={
            "event_id": cloud_event["id"],
            "table": outcome.table,
            "poison": outcome.poison,
            **asdict(outcome.result),
        },
    )
