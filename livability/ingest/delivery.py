"""One HTTP request to the event processor: its body read within bounds, decoded, and told apart.

What a request may be (README, "Pushing to the event processor"):

- a **Pub/Sub push**: a JSON object with a `message` (Pub/Sub's push subscriptions);
- a **CloudEvent**, binary (`ce-specversion`, `ce-id`, `ce-source`, `ce-type` headers, the
  body its data) or structured (`Content-Type: application/cloudevents+json`), as Eventarc
  sends Pub/Sub messages;
- **rows** named by a `table` query parameter (`POST /?table=sensor_thermo_beacon`): the body
  is a message's data, one JSON row or an array of rows, as `curl` sends it.

Each is then stored or dead-lettered whole (200). Everything else is refused with a final 4xx
and stored nowhere: a retry sends the same bytes and gets the same answer. A body cut short in
transit is a 400 to retry (the next attempt may arrive whole), never a dead letter.

Bounds, all from Pub/Sub's own limits (cloud.google.com/pubsub/quotas): a message carries at
most 10 MB of data (counted here as 10 MiB, the larger reading), which a push sends as base64
(4 bytes per 3) beside at most 100 attributes of 256 + 1024 bytes, JSON-escaped (6 bytes per
byte at worst), and a few short fields. `MAX_BODY_BYTES` is that sum rounded up; a larger body
is refused (413) from its `Content-Length` before a byte is read, or as soon as a chunked body
passes it. A gzip body (`Content-Encoding: gzip`) is decoded up to the same bound and at most
`MAX_GZIP_RATIO` times its size (a decompression bomb is a 413 after at most that much work).
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from livability.ingest.decoding import PoisonMessageError, decode_json
from livability.ingest.messages import (
    MAX_ATTRIBUTE_KEY,
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTES,
    Outcome,
    PubSubMessage,
    event_id_text,
)
from livability.messages import TABLE_ATTRIBUTE

MAX_MESSAGE_DATA = 10 * 1024 * 1024
_BASE64_DATA = 4 * math.ceil(MAX_MESSAGE_DATA / 3)  # 13,981,016 bytes
_ESCAPED_ATTRIBUTES = MAX_ATTRIBUTES * 6 * (MAX_ATTRIBUTE_KEY + MAX_ATTRIBUTE_VALUE)  # 768,000
_FIELDS = 64 * 1024  # messageId, publishTime, orderingKey (1 KB), subscription, CloudEvent's
MAX_BODY_BYTES = _BASE64_DATA + _ESCAPED_ATTRIBUTES + _FIELDS  # 14,814,552 bytes (14.1 MiB)
# Rows of JSON compress about 10:1, base64 about 1.3:1; 100:1 is no honest body.
MAX_GZIP_RATIO = 100
# The whole body must arrive within this; a sender trickling it holds a server thread.
BODY_SECONDS = 60.0
_CHUNK = 64 * 1024
CLOUDEVENT_TYPE = "application/cloudevents+json"
_CE_REQUIRED = ("specversion", "id", "source", "type")


class Refusal(Exception):  # noqa: N818 -- an answer, not a failure of ours
    """A request answered with a 4xx: `retry` says whether sending it again can succeed."""

    def __init__(self, status: int, reason: str, *, retry: bool = False) -> None:
        super().__init__(reason)
        self.status, self.reason, self.retry = status, reason, retry

    def answer(self) -> Answer:
        return Answer(self.status, {"error": self.reason, "retry": self.retry})


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: `status` and one JSON object, sent as one line."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return json.dumps({"status": self.status, **self.body}, separators=(",", ":")) + "\n"


@dataclass(frozen=True)
class Event:
    """A CloudEvent's data (for a push: the push body itself) and its id, if it has one."""

    data: Any
    event_id: str | None


def read_body(
    read: Callable[[int], bytes],
    declared: int | None,
    *,
    cut_off: tuple[type[BaseException], ...] = (OSError,),
    wait: Callable[[float], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The request body, read `_CHUNK` bytes at a time, never more than `MAX_BODY_BYTES` + 1.

    `declared` is the Content-Length (None when chunked). `cut_off` are the errors the server
    raises for a body that ends early (a chunked body without its last chunk, a dropped
    connection); `wait(seconds)` bounds the next read, so the body arrives by `BODY_SECONDS`.
    """
    if declared is not None and declared > MAX_BODY_BYTES:
        raise Refusal(413, _too_large(f"Content-Length {declared:,}"))
    deadline = clock() + BODY_SECONDS
    body = bytearray()
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise Refusal(408, f"the body did not arrive within {BODY_SECONDS:g} s", retry=True)
        wait(remaining)
        try:
            piece = read(min(_CHUNK, MAX_BODY_BYTES + 1 - len(body)))
        except TimeoutError:
            raise Refusal(
                408, f"the body did not arrive within {BODY_SECONDS:g} s", retry=True
            ) from None
        except cut_off as err:
            raise Refusal(
                400,
                f"the body was cut off after {len(body):,} bytes ({type(err).__name__})",
                retry=True,
            ) from None
        if not piece:
            break
        body += piece
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(413, _too_large("the body"))
        if declared is not None and len(body) >= declared:
            break
    if declared is not None and len(body) < declared:
        raise Refusal(
            400,
            f"the body was cut off: {len(body):,} of the {declared:,} bytes its "
            "Content-Length announced arrived",
            retry=True,
        )
    return bytes(body)


def _too_large(what: str) -> str:
    return (
        f"{what} is over {MAX_BODY_BYTES:,} bytes, the largest Pub/Sub push (10 MiB of data "
        "as base64, with its attributes)"
    )


def decoded(body: bytes, content_encoding: str | None) -> bytes:
    """The body with its `Content-Encoding` undone: identity or one gzip, within bounds."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c not in ("", "identity")]
    if not codings:
        return body
    if codings not in (["gzip"], ["x-gzip"]):
        raise Refusal(
            415, f"Content-Encoding {content_encoding!r} is not supported (use gzip or none)"
        )
    limit = min(MAX_BODY_BYTES, MAX_GZIP_RATIO * len(body) + _CHUNK)
    inflate = zlib.decompressobj(wbits=31)  # gzip header and trailer, CRC-32 checked
    try:
        out = inflate.decompress(body, limit + 1)
        if len(out) <= limit and not inflate.eof:
            out += inflate.flush()
    except zlib.error as err:
        raise Refusal(400, f"the gzip body is corrupt ({err})") from None
    if len(out) > limit:
        raise Refusal(
            413,
            f"the gzip body inflates beyond {limit:,} bytes (at most {MAX_GZIP_RATIO} times its "
            f"{len(body):,} bytes, and {MAX_BODY_BYTES:,} in all)",
        )
    if not inflate.eof:
        raise Refusal(400, "the gzip body ends before its end marker")
    if inflate.unused_data:
        raise Refusal(400, "the gzip body has bytes after its end (one gzip member only)")
    return out


def classify(body: bytes, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> Any:
    """What the request is: an `Event`, or a `PubSubMessage` of rows (`?table=`).

    `headers` have lower-case names; `query` maps each parameter to all its values. Refuses
    (400, final) a body that is none of the documented shapes.
    """
    tables = query.get("table", [])
    if len(tables) > 1:
        raise Refusal(400, f"the table parameter is given {len(tables)} times (give it once)")
    if tables:
        return PubSubMessage(body, {TABLE_ATTRIBUTE: tables[0]})
    try:
        parsed = decode_json(body, "request body")
    except PoisonMessageError as err:
        raise Refusal(400, str(err)) from None
    if all(headers.get(f"ce-{name}") for name in _CE_REQUIRED):
        return Event(parsed, event_id_text(headers["ce-id"]))
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    structured = media == CLOUDEVENT_TYPE and isinstance(parsed, dict)
    if structured and all(isinstance(parsed.get(n), str) and parsed[n] for n in _CE_REQUIRED):
        return Event(parsed.get("data"), event_id_text(parsed["id"]))
    if isinstance(parsed, dict) and "message" in parsed:
        return Event(parsed, None)  # a push: its message carries its own id
    raise Refusal(
        400,
        "the body is not a Pub/Sub push (a JSON object with a 'message'), not a CloudEvent, "
        "and no ?table= names the table its rows are for",
    )


def outcome_answer(outcome: Outcome) -> Answer:
    """The 200 answer: where the rows went, and why a whole message was dead-lettered."""
    result = outcome.result
    body: dict[str, Any] = {
        "table": outcome.table,
        "loaded": result.loaded,
        "duplicates": result.duplicates,
        "dead_lettered": result.rejected,
    }
    if outcome.poison is not None:
        body["reason"] = outcome.poison[:500]
    return Answer(200, body)
