"""Every body the event processor can receive: stored or dead-lettered (200), or a final 4xx
that stores nothing, never a 5xx; every answer one JSON line that echoes no header.

functions-framework's real WSGI app in process (the `client` fixture), as the platform calls
it; `tests/cli/test_serve_transport.py` repeats what only a real socket can show (a body cut
short, a chunked body, a Content-Length of 400 MB) against `livability serve`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import flask.testing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livability.ingest.delivery import MAX_BODY_BYTES, MAX_GZIP_RATIO
from livability.settings import Settings, shared_warehouse
from tests.ingest.test_hostile import HOSTILE, json_values, sensor_rows
from tests.support.pubsub import binary_headers, push_body, structured_event

READING = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 7, "temperature": 22.938, "humidity": 43.312},
}
JSON = {"Content-Type": "application/json"}
SECRET_HEADER = {"Authorization": "Bearer do-not-echo-me"}
NOT_A_DELIVERY = (
    "the body is not a Pub/Sub push (a JSON object with a 'message'), not a CloudEvent, and no "
    "?table= names the table its rows are for"
)


def state(settings_: Settings) -> tuple[int, int]:
    """(sensor rows stored, dead letters)."""
    warehouse = shared_warehouse(settings_)
    return tuple(  # type: ignore[return-value]
        int(warehouse.query(f"SELECT count(*) AS n FROM sensor_data.{t}").column("n")[0].as_py())
        for t in ("sensor_thermo_beacon", "dead_letter")
    )


def empty(settings_: Settings) -> None:
    warehouse = shared_warehouse(settings_)
    for name in ("sensor_thermo_beacon", "weather_data", "dead_letter"):
        warehouse.query(f"DELETE FROM sensor_data.{name}")


def answer(response: Any) -> dict[str, Any]:
    """The one JSON line of an answer, checked to be one line with the response's status."""
    text = response.get_data(as_text=True)
    assert text.endswith("\n"), text
    assert text.count("\n") == 1, text
    assert response.mimetype == "application/json"
    assert "do-not-echo-me" not in text
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == response.status_code
    return body


# --- Named members of each family: (body, headers) -> (status, sensor rows, dead letters) -----

FAMILIES: dict[str, tuple[bytes, dict[str, str], tuple[int, int, int]]] = {
    "top-level list": (b"[1]", JSON, (400, 0, 0)),
    "top-level string": (b'"x"', JSON, (400, 0, 0)),
    "top-level number": (b"12", JSON, (400, 0, 0)),
    "huge number": (b"1" * 5000, JSON, (400, 0, 0)),
    "null": (b"null", JSON, (400, 0, 0)),
    "empty body": (b"", JSON, (400, 0, 0)),
    "list of pushes": (b'[{"message":{}}]', JSON, (400, 0, 0)),
    "invalid UTF-8": (b'{"message": "\xff"}', JSON, (400, 0, 0)),
    "deep nesting": (b'{"message": ' + b"[" * 40 + b"]" * 40 + b"}", JSON, (400, 0, 0)),
    "push without data": (b'{"message": {"messageId": "7"}}', JSON, (200, 0, 1)),
    "push with message null": (b'{"message": null}', JSON, (200, 0, 1)),
    "empty message": (b'{"message":{}}', JSON, (200, 0, 1)),
    "binary list": (b'[{"message":{}}]', {**JSON, **binary_headers()}, (200, 0, 1)),
    "binary string": (b'"x"', {**JSON, **binary_headers()}, (200, 0, 1)),
    "binary without ce-id": (
        json.dumps(push_body([READING])).encode(),
        {**JSON, **{k: v for k, v in binary_headers().items() if k != "ce-id"}},
        (200, 1, 0),  # not a CloudEvent, but a push: stored as one
    ),
    "structured missing id": (
        json.dumps({**json.loads(structured_event(push_body([READING]))), "id": ""}).encode(),
        {"Content-Type": "application/cloudevents+json"},
        (400, 0, 0),
    ),
    "structured data a list": (
        json.dumps({**json.loads(structured_event({})), "data": [1]}).encode(),
        {"Content-Type": "application/cloudevents+json; charset=utf-8"},
        (200, 0, 1),
    ),
    "push as text/plain": (json.dumps(push_body([READING])).encode(), {}, (200, 1, 0)),
    "push as a form": (
        json.dumps(push_body([READING])).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
        (200, 1, 0),
    ),
    "push as multipart": (
        json.dumps(push_body([READING])).encode(),
        {"Content-Type": "multipart/form-data; boundary=x"},
        (200, 1, 0),
    ),
    "brotli": (b"\x0b\x02\x80{}\x03", {**JSON, "Content-Encoding": "br"}, (415, 0, 0)),
    "gzip twice": (
        gzip.compress(gzip.compress(json.dumps(push_body([READING])).encode())),
        {**JSON, "Content-Encoding": "gzip, gzip"},
        (415, 0, 0),
    ),
    "gzip corrupt": (b"\x1f\x8b\x08\x00garbage", {**JSON, "Content-Encoding": "gzip"}, (400, 0, 0)),
    "gzip cut short": (
        gzip.compress(json.dumps(push_body([READING])).encode())[:-6],
        {**JSON, "Content-Encoding": "gzip"},
        (400, 0, 0),
    ),
    "gzip push": (
        gzip.compress(json.dumps(push_body([READING])).encode()),
        {**JSON, **binary_headers(), "Content-Encoding": "gzip"},
        (200, 1, 0),
    ),
    "gzip bomb": (
        gzip.compress(b" " * (MAX_GZIP_RATIO * 2_000 + 70_000)),
        {**JSON, "Content-Encoding": "gzip"},
        (413, 0, 0),
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_answered_as_documented(
    client: flask.testing.FlaskClient, settings: Settings, family: str
) -> None:
    body, headers, (status, rows, dead) = FAMILIES[family]
    response = client.post("/", data=body, headers={**headers, **SECRET_HEADER})
    reply = answer(response)
    assert (response.status_code, *state(settings)) == (status, rows, dead), reply
    if status >= 400:
        assert set(reply) == {"status", "error", "retry"}
        assert reply["retry"] is False


def test_not_a_delivery_says_what_would_be(client: flask.testing.FlaskClient) -> None:
    reply = answer(client.post("/", data=b"[1]", headers=JSON))
    assert reply == {"status": 400, "error": NOT_A_DELIVERY, "retry": False}


def test_a_get_is_a_json_405(client: flask.testing.FlaskClient) -> None:
    response = client.get("/", headers=SECRET_HEADER)
    assert answer(response) == {"status": 405, "error": "Method Not Allowed", "retry": False}


def test_a_body_shorter_than_its_content_length_is_a_400_to_retry(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    """Issue 17 #10: the fragment of a body cut in transit is never dead-lettered."""
    data = json.dumps(push_body([READING])).encode()
    response = client.post(
        "/", data=data[:40], headers=JSON, environ_overrides={"CONTENT_LENGTH": str(len(data))}
    )
    assert (response.status_code, answer(response), state(settings)) == (
        400,
        {
            "status": 400,
            "error": "the body was cut off after 40 bytes (ClientDisconnected)",
            "retry": True,
        },
        (0, 0),
    )


def test_a_content_length_over_the_bound_is_a_413_before_reading(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    response = client.post(
        "/",
        data=b"{}",
        headers=JSON,
        environ_overrides={"CONTENT_LENGTH": str(MAX_BODY_BYTES + 1)},
    )
    reply = answer(response)
    assert (response.status_code, reply["retry"], state(settings)) == (413, False, (0, 0))
    assert (
        f"Content-Length {MAX_BODY_BYTES + 1:,} is over {MAX_BODY_BYTES:,} bytes"
        in (reply["error"])
    )


def test_the_bound_is_the_largest_push_pubsub_can_send() -> None:
    """10 MiB of data as base64, 100 attributes of 256 + 1024 bytes escaped 6:1, 64 KiB."""
    assert MAX_BODY_BYTES == 4 * -(-10 * 2**20 // 3) + 100 * 6 * 1280 + 65536 == 14_814_552


# --- Rows named by ?table= (the README's curl) --------------------------------------------------


def test_rows_with_a_table_parameter_are_stored(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    second = {**READING, "timestamp": "2024-11-29T14:43:35.855Z"}
    many = client.post("/?table=sensor_thermo_beacon", json=[READING, second])
    assert answer(many) == {
        "status": 200,
        "table": "sensor_thermo_beacon",
        "loaded": 2,
        "duplicates": 0,
        "dead_lettered": 0,
    }
    one = client.post("/?table=sensor_thermo_beacon", json=READING)
    assert answer(one)["duplicates"] == 1
    assert state(settings) == (2, 0)


def test_rows_for_an_unknown_table_are_one_dead_letter(
    client: flask.testing.FlaskClient, settings: Settings
) -> None:
    reply = answer(client.post("/?table=users", json=[READING]))
    assert (reply["dead_lettered"], reply["reason"].split(":")[0]) == (1, "table_id")
    assert state(settings) == (0, 1)


def test_the_table_parameter_twice_is_refused(client: flask.testing.FlaskClient) -> None:
    response = client.post("/?table=sensor_thermo_beacon&table=weather_data", json=[READING])
    assert answer(response) == {
        "status": 400,
        "error": "the table parameter is given 2 times (give it once)",
        "retry": False,
    }


# --- Generated members of every family ---------------------------------------------------------

raw_bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["message", "subscription", "data", "id"]), json_values).map(
        lambda d: json.dumps(d).encode()
    ),
    st.lists(sensor_rows(), min_size=1, max_size=3).map(lambda r: json.dumps(r).encode()),
)
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "application/cloudevents+json", "text/plain", "", "x/\u00e9"]
        ),
        "ce-specversion": st.sampled_from(["1.0", "0.3", "", "\u00ff"]),
        "ce-id": st.text(max_size=5),
        "ce-source": st.just("//pubsub"),
        "ce-type": st.just("t"),
        "Content-Encoding": st.sampled_from(["identity", "gzip", "deflate", ""]),
    },
).map(lambda h: {k: v.encode("latin-1", "replace").decode("latin-1") for k, v in h.items()})


@settings(HOSTILE, max_examples=60)
@given(
    body=raw_bodies,
    headers=header_sets,
    query=st.sampled_from(["", "?table=sensor_thermo_beacon", "?table=", "?table=%ff"]),
    compress=st.booleans(),
)
def test_any_body_is_answered_with_one_json_line_and_never_a_5xx(
    client: flask.testing.FlaskClient,
    settings: Settings,
    body: bytes,
    headers: dict[str, str],
    query: str,
    compress: bool,
) -> None:
    empty(settings)
    if compress and headers.get("Content-Encoding") == "gzip":
        body = zlib.compress(body, wbits=31)
    response = client.post("/" + query, data=body, headers={**headers, **SECRET_HEADER})
    reply = answer(response)
    assert response.status_code in (200, 400, 413, 415), reply
    if response.status_code != 200:
        assert state(settings) == (0, 0)  # refused: nothing stored, nothing dead-lettered
    else:
        assert reply["loaded"] + reply["duplicates"] + reply["dead_lettered"] >= 1
