"""Where the outbox drains to: Pub/Sub (the data plane's publisher) or `livability serve`.

A sink's `send(table, rows)` returns only when the sink has acknowledged every row, and
raises `SinkError` otherwise; the outbox keeps the rows until it returns. Rows carry their
`row_id`, so sending a batch again after an unknown outcome adds nothing downstream.

A `SinkError` says how to go on: `retry_after` (seconds the sink asked for, HTTP
`Retry-After` as seconds or a date, taken at most `RETRY_AFTER_MAX`) and `permanent` (the
sink refuses these rows as they are: HTTP 4xx other than those that blame the moment or the
set-up, Pub/Sub INVALID_ARGUMENT). 401, 403, 404, 405, 407 blame the configuration (a
credential, the URL), not the rows, so they are retried like an outage.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import requests

    from livability.ports import Publisher
    from livability.settings import Settings

PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
SOURCE = "//pubsub.googleapis.com/projects/livability-local/topics/sensor_data"
SUBSCRIPTION = "projects/livability-local/subscriptions/edge-gateway"


RETRY_AFTER_MAX = 900.0  # seconds: a longer wish is capped; the outbox keeps the rows
# 4xx answers that do not blame the rows: a retry may succeed once the moment or set-up passes.
RETRYABLE_4XX = frozenset({401, 403, 404, 405, 407, 408, 425, 429})
ANSWER_BYTES = 1024  # of a refusal's body, kept for the log


class SinkError(RuntimeError):
    """The sink did not acknowledge; the rows stay in the outbox and are sent again later."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


def retry_after(value: str | None, date: str | None = None) -> float | None:
    """`Retry-After` in seconds, in 0..RETRY_AFTER_MAX; None when absent or unreadable.

    A date is taken relative to the answer's own `Date` (the server's clock), else (none,
    or not one readable date) to ours, which may be wrong: the cap bounds the harm.
    """
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(text[:12]), RETRY_AFTER_MAX)
    when = _http_date(text)
    if when is None:
        return None
    server_now = _http_date(date) if date else None
    wait = when - (server_now if server_now is not None else time.time())
    return min(max(wait, 0.0), RETRY_AFTER_MAX)


def _http_date(text: str) -> float | None:
    if len(text) > 40 or text.count(",") > 1:  # not one date (two headers joined, say)
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, by RFC 5322
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Sink(Protocol):
    def send(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def close(self) -> None: ...


def batch_id(rows: Sequence[Mapping[str, Any]]) -> str:
    """A message id that follows from the rows: a re-send of the same batch has the same id."""
    digest = hashlib.sha256("".join(str(r["row_id"]) for r in rows).encode()).hexdigest()
    return f"edge-{digest[:32]}"


def cloud_event(
    table: str, rows: Sequence[Mapping[str, Any]], version: int, now: datetime
) -> tuple[dict[str, str], bytes]:
    """A binary-mode CloudEvent as Eventarc delivers a Pub/Sub message: the rows as one
    JSON array (the reference's message format), routed by the `table_id` attribute."""
    message_id = batch_id(rows)
    when = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    headers = {
        "Content-Type": "application/json",
        "ce-id": message_id,
        "ce-specversion": "1.0",
        "ce-type": PUBLISHED,
        "ce-source": SOURCE,
        "ce-time": when,
    }
    data = json.dumps(list(rows), separators=(",", ":")).encode()
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": {"table_id": table, "schema_version": str(version)},
            "messageId": message_id,
            "publishTime": when,
        },
        "subscription": SUBSCRIPTION,
    }
    return headers, json.dumps(body, separators=(",", ":")).encode()


class HttpSink:
    """POSTs each batch to an event processor (`livability serve`) over HTTP."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, session: requests.Session | None = None
    ) -> None:
        import requests

        from schemas import registry

        self.url = url
        self._timeout = timeout
        self._session = session or requests.Session()
        self._versions = {name: t.version for name, t in registry().tables.items()}

    def send(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        import requests

        headers, body = cloud_event(table, rows, self._versions[table], datetime.now(UTC))
        try:
            response = self._session.post(
                self.url, data=body, headers=headers, timeout=self._timeout, stream=True
            )
            try:
                status = response.status_code
                # At most ANSWER_BYTES of an answer are read: it is not ours to trust. (A
                # short answer read whole lets the connection go back to the pool.)
                answer = next(response.iter_content(ANSWER_BYTES), b"")
            finally:
                response.close()
        except requests.RequestException as err:
            raise SinkError(f"{self.url}: {type(err).__name__}: {err}") from err
        if status // 100 != 2:
            text = answer.decode("utf-8", "replace")[:200]
            raise SinkError(
                f"{self.url} answered {status} to {len(rows)} {table} rows: {text!r}",
                retry_after=retry_after(
                    response.headers.get("Retry-After"), response.headers.get("Date")
                ),
                permanent=status // 100 == 4 and status not in RETRYABLE_4XX,
            )

    def close(self) -> None:
        self._session.close()


class PubSubSink:
    """Publishes through the data plane's publisher: one validated row per message."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    def send(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        from livability.ports import InvalidMessageError, PublishError

        try:
            self._publisher.publish(table, rows)
        except PublishError as err:
            raise SinkError(str(err), permanent=isinstance(err, InvalidMessageError)) from err

    def close(self) -> None:
        self._publisher.close()


def open_sink(target: str, settings: Settings | None = None) -> Sink:
    """`pubsub` (the topic from LIVABILITY_TOPIC, via `settings`) or an http(s) URL."""
    if target == "pubsub":
        if settings is None:
            from livability.settings import Settings

            settings = Settings.from_env()
        from livability.settings import open_publisher

        return PubSubSink(open_publisher(settings))
    return HttpSink(target)
