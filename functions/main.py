"""Cloud Functions entry points. Thin: settings and clients are built on first call,
never at import, and the logic lives in typed helpers that take them as arguments."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cache

import functions_framework
from cloudevents.http.event import CloudEvent

from functions.processor import process_event
from livability.logs import configure_logging
from livability.settings import Settings
from livability.warehouse import Warehouse

log = logging.getLogger(__name__)


@cache
def warehouse_for(settings: Settings) -> Warehouse:
    configure_logging()
    return settings.open_warehouse()


@functions_framework.cloud_event
def event_processor(cloud_event: CloudEvent) -> None:
    """Pub/Sub → warehouse rows. Raising makes the platform answer 500 and redeliver."""
    warehouse = warehouse_for(Settings.from_env())
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
