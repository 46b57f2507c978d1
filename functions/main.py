"""Cloud Functions entry points. Thin: settings and clients are built on first call,
never at import, and the logic lives in typed helpers that take them as arguments."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime

import flask
import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http.event import CloudEvent

from livability.ingest.messages import event_id_text, process_event
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


def body_problem(body: bytes) -> str | None:
    """Why a request body is not JSON anyone can parse, or None if it is."""
    try:
        json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as err:
        return f"request body: not UTF-8 (byte 0x{body[err.start]:02x} at offset {err.start})"
    except RecursionError:
        return "request body: JSON nested deeper than the parser's recursion limit"
    except ValueError as err:  # JSONDecodeError, or an integer of more than 4,300 digits
        return f"request body: not JSON this platform reads ({err})"
    return None


def malformed_request(error: Exception) -> tuple[str, int]:
    """The framework failed to parse the request body into a CloudEvent: answer 400.

    Pub/Sub and Eventarc always send well-formed JSON (the message itself is base64 inside
    it), so such a body comes from another sender; the framework answers 400 to requests
    that are not CloudEvents, and so does this. An error whose body parses is not the
    body's fault: re-raised, it is a 500 with its traceback.
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
