"""The OpenWeatherMap client against a real local HTTP server: pacing, and the API key in no
log line or error message.

Runs the real `OpenWeatherClient` (requests.Session, urllib3) against pytest-httpserver on
127.0.0.1; every failure family is driven through a poll, so the reasons it reports are checked
too. The key must appear in no log line, caught both by caplog and by the platform's JSON
handler, including urllib3's own DEBUG log of each URL.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from livability.adapters.local_bucket import LocalBucket
from livability.weather.client import OpenWeatherClient
from livability.weather.locations import Location
from livability.weather.poller import poll
from tests.weather.fixtures import (
    LUTON_POINT,
    PATH,
    Sleeps,
    bucket,
    client,
    json_logs_with_urls,
    sleeps,
)
from tests.weather.owm_bodies import KEY, LUTON, NOT_FOUND, TOO_MANY, UNAUTHORIZED

__all__ = ["bucket", "client", "sleeps"]  # fixtures, imported for pytest


def test_calls_are_paced_to_the_plan(httpserver: HTTPServer, sleeps: Sleeps) -> None:
    httpserver.expect_request(PATH).respond_with_json(LUTON)
    now = [100.0]
    owm = OpenWeatherClient(
        KEY,
        base_url=httpserver.url_for("/"),
        calls_per_minute=60,
        clock=lambda: now[0],
        sleep=sleeps,
    )
    try:
        for _ in range(3):
            owm.current(LUTON_POINT)
    finally:
        owm.close()

    # Three calls at the same instant: the 2nd waits 1 s, the 3rd 2 s (60 calls a minute).
    assert sleeps == [1.0, 2.0]


# --- The key in no log line --------------------------------------------------------------------


def every_failure(httpserver: HTTPServer, client: OpenWeatherClient, bucket: LocalBucket) -> None:
    """Drive every failure family once, with DEBUG logging everywhere (urllib3 included)."""

    class Refusing:
        def publish(self, table: str, rows: Any) -> list[str]:
            return [str(i) for i, _ in enumerate(rows)]

        def close(self) -> None:
            pass

    httpserver.expect_ordered_request(PATH).respond_with_json(NOT_FOUND, status=404)
    httpserver.expect_ordered_request(PATH).respond_with_data("<html>502</html>", status=502)
    httpserver.expect_ordered_request(PATH).respond_with_data("not json")
    httpserver.expect_ordered_request(PATH).respond_with_json(TOO_MANY, status=429)
    httpserver.expect_ordered_request(PATH).respond_with_json(LUTON)
    httpserver.expect_ordered_request(PATH).respond_with_json(UNAUTHORIZED, status=401)
    points = [Location(float(i), float(i)) for i in range(6)]
    reports = [poll(client, Refusing(), bucket, points)]
    # A refused connection: requests quotes the whole URL, appid included, in its error.
    closed = OpenWeatherClient(KEY, base_url="http://127.0.0.1:9", timeout=(0.5, 0.5))
    try:
        reports.append(poll(closed, Refusing(), bucket, [LUTON_POINT]))
    finally:
        closed.close()
    text = json.dumps([r.to_json() for r in reports])
    assert "request failed: ConnectionError" in text
    assert "appid=***" in text  # the URL is quoted, with the key scrubbed out
    assert KEY not in text


def test_the_key_is_in_no_captured_log_record(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    bucket: LocalBucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # root: urllib3 logs each URL at DEBUG

    every_failure(httpserver, client, bucket)

    # werkzeug's access log is the OpenWeatherMap stand-in's own log, not ours.
    messages = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert any("/data/2.5/weather" in m for m in messages), "urllib3's URL log was not captured"
    assert any("rejected the API key" in m for m in messages)
    assert not [m for m in messages if KEY in m]


def test_the_key_is_in_no_json_log_line(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    bucket: LocalBucket,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with json_logs_with_urls():
        every_failure(httpserver, client, bucket)

    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "livability.weather.poller" for e in entries)
    assert any("/data/2.5/weather" in e["message"] for e in entries)
    assert not [line for line in lines if KEY in line]


def test_a_key_that_urls_encode_is_scrubbed_in_every_form(bucket: LocalBucket) -> None:
    odd = "k3y+/=with space&more"  # not an OWM key's shape, but it must not leak either
    owm = OpenWeatherClient(odd, base_url="http://127.0.0.1:9", timeout=(0.5, 0.5))
    try:
        report = poll(owm, publisher=None, bucket=bucket, locations=[LUTON_POINT])  # type: ignore[arg-type]
    finally:
        owm.close()

    [result] = report.results
    assert result.reason is not None
    assert result.reason.startswith("request failed: ConnectionError")
    assert "appid=***" in result.reason
    assert "k3y" not in result.reason
