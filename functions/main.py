"""Cloud Function `event_processor`: Pub/Sub messages in, warehouse rows or dead letters out.

Thin: it wires settings, logging and the request hook to `livability.ingest`, where the logic
lives in typed helpers that take their clients as arguments. Settings and clients are built on
first call, never at import.

functions-framework would turn the request into a CloudEvent before `event_processor` runs,
and some bodies (a JSON list, a push without `data`) make that conversion fail with a 500,
which Pub/Sub redelivers forever. So a request hook reads every request first, within bounds
(`livability.ingest.delivery`), and answers it itself: 200 once it is stored or
dead-lettered, a final 4xx for what is no delivery at all, 500 only when a backend fails.
Every answer is one JSON line.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework
from cloudevents.http.event import CloudEvent
from werkzeug.exceptions import ClientDisconnected, HTTPException

from livability.ingest.delivery import (
    Answer,
    Event,
    Refusal,
    classify,
    decoded,
    outcome_answer,
    read_body,
)
from livability.ingest.messages import Outcome, event_id_text, process_event, process_message
from livability.logs import configure_logging
from livability.settings import Settings, shared_bucket, shared_warehouse
from schemas.validation import shown

log = logging.getLogger(
    "functions.event_processor"
)  # a fixed name: the runtime loads this file by path

# What the servers raise for a body that ends early or arrives malformed in transit: the
# connection dropped (OSError, and gunicorn's NoMoreData), werkzeug's own short-read check, and
# gunicorn's chunk errors (a chunked body cut mid-chunk). Answered 400, to be sent again.
_CUT_OFF: tuple[type[BaseException], ...] = (OSError, ClientDisconnected)
try:
    from gunicorn.http.errors import ParseException

    _CUT_OFF += (ParseException,)
except ImportError:  # served by werkzeug (functions-framework --debug)
    pass


@functions_framework.cloud_event
def event_processor(cloud_event: CloudEvent) -> None:
    """Pub/Sub → warehouse rows. Raising makes the platform answer 500 and redeliver.

    Only a backend failure (`WarehouseError`, `BucketError`) raises: whatever a message
    holds, it is stored or dead-lettered with its reason and acknowledged. The request hook
    below calls `_process` for every request the server receives; this is the target the
    runtime names.
    """
    _process(Event(cloud_event.data, event_id_text(cloud_event["id"])))


def _process(item: Any) -> Outcome:
    configure_logging(replace=False)
    settings = Settings.from_env()
    warehouse, spill = shared_warehouse(settings), shared_bucket(settings)
    now = datetime.now(UTC)
    if isinstance(item, Event):
        outcome = process_event(item.data, item.event_id, warehouse, received_at=now, spill=spill)
        event_id = item.event_id
    else:
        outcome = process_message(item, warehouse, received_at=now, spill=spill)
        event_id = None
    log.info(
        "message processed",
        extra={
            "event_id": event_id or shown(event_id),
            "table": outcome.table,
            "poison": outcome.poison,
            **asdict(outcome.result),
        },
    )
    return outcome


def _respond(answer: Answer) -> flask.Response:
    return flask.Response(answer.text(), answer.status, mimetype="application/json")


def _bound_socket_wait(seconds: float) -> None:
    """Bound the next read of the body (gunicorn hands its socket to the app)."""
    sock = flask.request.environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        sock.settimeout(max(seconds, 0.001))


def handle_request() -> flask.Response | None:
    """Every POST, answered here (a Flask `before_request` hook: the framework's own
    conversion never runs). Other methods fall through to the framework's 405."""
    request = flask.request
    if request.method != "POST":
        return None
    sock = request.environ.get("gunicorn.socket")
    before = sock.gettimeout() if isinstance(sock, socket.socket) else None
    try:
        body = read_body(
            request.stream.read,
            request.content_length,
            cut_off=_CUT_OFF,
            wait=_bound_socket_wait,
        )
        item = classify(
            decoded(body, request.headers.get("Content-Encoding")),
            {name.lower(): value for name, value in request.headers.items()},
            request.args.to_dict(flat=False),
        )
    except Refusal as refusal:
        log.warning("request refused", extra={"status": refusal.status, "reason": refusal.reason})
        return _respond(refusal.answer())
    finally:
        if isinstance(sock, socket.socket):
            sock.settimeout(before)
    return _respond(outcome_answer(_process(item)))


def http_error(error: HTTPException) -> flask.Response:
    """A 4xx of the framework (405 for a GET): one JSON line, never an HTML page."""
    return _respond(Answer(error.code or 400, {"error": error.name, "retry": False}))


def crash(error: Exception) -> tuple[flask.Response, int, dict[str, str]]:
    """A backend failure: 500, so Pub/Sub redelivers. The traceback goes to the log only."""
    answer = Answer(500, {"error": "internal error: the message will be retried", "retry": True})
    # The framework's own crash header: the platform logs the crash.
    return _respond(answer), 500, {"X-Google-Status": "crash"}


# The framework executes this file inside the app it creates, so the hook and the handlers
# are registered on the very app that serves the function, here and in the cloud.
if flask.has_app_context():
    flask.current_app.before_request(handle_request)
    flask.current_app.register_error_handler(HTTPException, http_error)
    flask.current_app.register_error_handler(500, crash)
