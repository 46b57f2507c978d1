"""Cloud Function `event_processor`: Pub/Sub messages in, warehouse rows or dead letters out.

Thin: it wires settings, logging and the framework's error hook to `livability.ingest`,
where the logic lives in typed helpers that take their clients as arguments. Settings and
clients are built on first call, never at import."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime

import flask
import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http.event import CloudEvent

from livability.ingest.messages import body_problem, event_id_text, process_event
from livability.logs import configure_logging
from livability.settings import Settings, shared_warehouse
from schemas.validation import shown

log = logging.getLogger(
    "functions.event_processor"
)  # a fixed name: the runtime loads this file by path


@functions_framework.cloud_event
def event_processor(cloud_event: CloudEvent) -> None:
    """Pub/Sub → warehouse rows. Raising makes the platform answer 500 and redeliver.

    Only a backend failure (`WarehouseError`) raises: whatever a message holds, it is
    stored or dead-lettered with its reason and acknowledged.
    """
    configure_logging(replace=False)
    warehouse = shared_warehouse(Settings.from_env())
    event_id = cloud_event["id"]
    outcome = process_event(cloud_event.data, event_id, warehouse, received_at=datetime.now(UTC))
    log.info(
        "message processed",
        extra={
            "event_id": event_id_text(event_id) or shown(event_id),
            "table": outcome.table,
            "poison": outcome.poison,
            **asdict(outcome.result),
        },
    )


def malformed_request(error: Exception) -> tuple[str, int]:
    """The framework failed to parse the request body into a CloudEvent: answer 400 when the
    body is at fault (`body_problem`), as the framework does to requests that are not
    CloudEvents. An error whose body parses is not the body's fault: re-raised, it is a 500
    with its traceback.
    """
    problem = body_problem(flask.request.get_data())
    if problem is None:
        raise error
    log.warning("malformed request", extra={"reason": problem})
    return f"Bad Request: {problem}\n", 400


# The framework executes this file inside the app it creates; parsing the body happens in
# the framework before `event_processor` runs, so only an app error handler can answer it.
if flask.has_app_context():
    for _error in (GenericException, ValueError, RecursionError):
        flask.current_app.register_error_handler(_error, malformed_request)
