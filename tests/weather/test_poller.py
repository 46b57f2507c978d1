"""The poller against a real local HTTP server serving real OpenWeatherMap bodies.

Runs the real `OpenWeatherClient` (requests.Session, urllib3) against pytest-httpserver on
127.0.0.1, the real `PubSubPublisher` against the gRPC Publisher service of this suite
(tests/grpc_publisher.py: no Pub/Sub emulator installs here) and the local bucket for the
poller's state. Failure families: 401, 429 (with and without Retry-After), 404 with a string
`cod`, a body that is not JSON, a body without `dt`, values outside the contract and a read
timeout. The client's pacing and the key in no log line: test_client.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from livability.adapters.local_bucket import LocalBucket
from livability.adapters.pubsub import PubSubPublisher
from livability.weather.client import OpenWeatherClient
from livability.weather.locations import Location
from livability.weather.poller import SENT_KEY, PollReport, poll
from schemas import registry
from tests.support.grpc_publisher import FakePublisher
from tests.weather.fixtures import (
    LUTON_POINT,
    PATH,
    Sleeps,
    bucket,
    client,
    fake,
    publisher,
    sleeps,
)
from tests.weather.owm_bodies import (
    KEY,
    LUTON,
    LUTON_DT,
    NOT_FOUND,
    TOO_MANY,
    UNAUTHORIZED,
    ZOCCA,
    luton,
)

__all__ = ["bucket", "client", "fake", "publisher", "sleeps"]  # fixtures, imported for pytest

TOPIC = "projects/test-proj/topics/meteo_data"
ZOCCA_POINT = Location(44.34, 10.99)
OXFORD_POINT = Location(51.75, -1.26)


def query(location: Location) -> dict[str, str]:
    return {"lat": repr(location.lat), "lon": repr(location.lon), "units": "metric", "appid": KEY}


def metric_zocca() -> dict[str, Any]:
    return {**ZOCCA, "main": {**ZOCCA["main"], "temp": 25.33}}


def published(fake: FakePublisher) -> list[tuple[dict[str, Any], dict[str, str]]]:
    return [
        (json.loads(m.data), dict(m.attributes))
        for request in fake.accepted
        for m in request.messages
    ]


def outcomes(report: PollReport) -> dict[str, tuple[str, str | None]]:
    return {r.location: (r.outcome, r.reason) for r in report.results}


# --- Success and re-polls ----------------------------------------------------------------------


def test_each_location_is_published_once_with_its_table_and_version(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    httpserver.expect_request(PATH, query_string=query(LUTON_POINT)).respond_with_json(LUTON)
    httpserver.expect_request(PATH, query_string=query(ZOCCA_POINT)).respond_with_json(
        metric_zocca()
    )

    report = poll(client, publisher, bucket, [LUTON_POINT, ZOCCA_POINT])

    assert report.to_json()["published"] == 2
    assert report.to_json()["failures"] == []
    rows = published(fake)
    assert [attributes for _, attributes in rows] == [
        {"table_id": "weather_data", "schema_version": str(registry()["weather_data"].version)}
    ] * 2
    luton_row = next(row for row, _ in rows if row["data"]["location"] == "POINT(-0.4 51.9)")
    assert luton_row["timestamp"] == luton_row["observed_at"] == "2024-12-01T11:10:00.000000Z"
    assert luton_row["data"]["temperature"] == 11.5
    assert len(luton_row["row_id"]) == 32
    assert json.loads(bucket.get(SENT_KEY)) == {
        str(LUTON_POINT): LUTON_DT,
        str(ZOCCA_POINT): ZOCCA["dt"],
    }


def test_a_repoll_of_the_same_observation_publishes_nothing(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    httpserver.expect_ordered_request(PATH, query_string=query(LUTON_POINT)).respond_with_json(
        LUTON
    )
    httpserver.expect_ordered_request(PATH, query_string=query(LUTON_POINT)).respond_with_json(
        LUTON
    )
    httpserver.expect_ordered_request(PATH, query_string=query(LUTON_POINT)).respond_with_json(
        luton(dt=LUTON_DT + 600, main={**LUTON["main"], "temp": 11.2})
    )

    first = poll(client, publisher, bucket, [LUTON_POINT])
    second = poll(client, publisher, bucket, [LUTON_POINT])
    third = poll(client, publisher, bucket, [LUTON_POINT])

    assert [r.to_json()["published"] for r in (first, second, third)] == [1, 0, 1]
    assert outcomes(second) == {str(LUTON_POINT): ("skipped", None)}
    temperatures = [row["data"]["temperature"] for row, _ in published(fake)]
    assert temperatures == [11.5, 11.2]
    httpserver.check_assertions()


def test_an_older_observation_than_the_last_sent_is_skipped(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(LUTON)
    httpserver.expect_ordered_request(PATH).respond_with_json(luton(dt=LUTON_DT - 600))

    poll(client, publisher, bucket, [LUTON_POINT])
    report = poll(client, publisher, bucket, [LUTON_POINT])

    assert report.to_json()["skipped"] == 1
    assert len(published(fake)) == 1


# --- Failures, one location at a time ---------------------------------------------------------


def test_401_stops_the_tick_after_one_call(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    httpserver.expect_request(PATH).respond_with_json(UNAUTHORIZED, status=401)

    report = poll(client, publisher, bucket, [LUTON_POINT, ZOCCA_POINT, OXFORD_POINT])

    assert len(httpserver.log) == 1  # no retry storm: the key fails for every location
    assert report.key_rejected is not None
    assert report.key_rejected.startswith("OpenWeatherMap rejected the API key (401): ")
    assert "Invalid API key" in report.key_rejected
    assert [r.outcome for r in report.results] == ["failed"] * 3
    assert all(r.reason and r.reason.startswith("not polled: ") for r in report.results[1:])
    assert fake.calls == []
    assert bucket.list("state/") == []


def test_429_backs_off_as_retry_after_says_then_polls(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
    sleeps: Sleeps,
) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        TOO_MANY, status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(LUTON)

    report = poll(client, publisher, bucket, [LUTON_POINT])

    assert report.to_json()["published"] == 1
    assert 7.0 in sleeps
    assert len(httpserver.log) == 2


def test_429_that_persists_ends_the_tick_without_a_storm(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
    sleeps: Sleeps,
) -> None:
    httpserver.expect_request(PATH).respond_with_json(TOO_MANY, status=429)

    report = poll(client, publisher, bucket, [LUTON_POINT, ZOCCA_POINT, OXFORD_POINT])

    assert len(httpserver.log) == 3  # 1 call + 2 retries for the first location, then stop
    backoffs = [s for s in sleeps if s >= 1.0]
    assert backoffs == [1.0, 2.0]  # exponential, no Retry-After header
    reasons = [r.reason or "" for r in report.results]
    assert reasons[0].startswith("rate limited by OpenWeatherMap (429) after 3 calls")
    assert all(reason.startswith("not polled: rate limited") for reason in reasons[1:])
    assert report.key_rejected is None
    assert fake.calls == []


def test_404_a_malformed_body_and_a_contract_breach_fail_alone(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    nowhere, garbled, kelvin, no_dt = (
        Location(0.0, 0.0),
        Location(1.0, 1.0),
        Location(44.34, 10.99),
        Location(2.0, 2.0),
    )
    httpserver.expect_request(PATH, query_string=query(nowhere)).respond_with_json(
        NOT_FOUND, status=404
    )
    httpserver.expect_request(PATH, query_string=query(garbled)).respond_with_data(
        '{"coord": {"lon": 1.0, "lat"', content_type="application/json"
    )
    httpserver.expect_request(PATH, query_string=query(kelvin)).respond_with_json(ZOCCA)
    httpserver.expect_request(PATH, query_string=query(no_dt)).respond_with_json(
        {k: v for k, v in LUTON.items() if k != "dt"}
    )
    httpserver.expect_request(PATH, query_string=query(LUTON_POINT)).respond_with_json(LUTON)

    report = poll(client, publisher, bucket, [nowhere, garbled, kelvin, no_dt, LUTON_POINT])

    result = outcomes(report)
    assert result[str(nowhere)] == (
        "failed",
        'OpenWeatherMap answered HTTP 404 (cod "404"): "city not found"',
    )
    assert result[str(garbled)][1] is not None
    assert result[str(garbled)][1].startswith("malformed body: not JSON")
    assert result[str(kelvin)] == (
        "failed",
        "contract: data.temperature: 298.48 is outside the physical range -90..60",
    )
    assert result[str(no_dt)] == ("failed", "malformed body: dt: required field is missing")
    assert result[str(LUTON_POINT)] == ("published", None)
    assert len(published(fake)) == 1


def test_a_200_whose_cod_says_otherwise_fails_its_location(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    bucket: LocalBucket,
) -> None:
    httpserver.expect_request(PATH).respond_with_json({"cod": "400", "message": "wrong latitude"})

    report = poll(client, publisher, bucket, [LUTON_POINT])

    assert outcomes(report)[str(LUTON_POINT)] == (
        "failed",
        'OpenWeatherMap answered cod "400": "wrong latitude"',
    )


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A server that answers while another request stalls (the shared one is sequential)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_a_timeout_fails_its_location_and_the_next_is_polled(
    threaded_server: HTTPServer,
    sleeps: Sleeps,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    httpserver = threaded_server
    client = OpenWeatherClient(
        KEY, base_url=httpserver.url_for("/"), timeout=(1.0, 0.5), sleep=sleeps
    )
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(5)  # longer than the client's 0.5 s read timeout; released at the end
        return Response(json.dumps(LUTON), content_type="application/json")

    httpserver.expect_request(PATH, query_string=query(OXFORD_POINT)).respond_with_handler(stall)
    httpserver.expect_request(PATH, query_string=query(LUTON_POINT)).respond_with_json(LUTON)
    try:
        report = poll(client, publisher, bucket, [OXFORD_POINT, LUTON_POINT])
    finally:
        release.set()
        client.close()

    assert outcomes(report) == {
        str(OXFORD_POINT): ("failed", "no answer from OpenWeatherMap within 0.5 s (connect 1 s)"),
        str(LUTON_POINT): ("published", None),
    }


# --- A list longer than one tick ---------------------------------------------------------------


def test_no_call_starts_after_the_budget_and_the_rest_go_first_next_tick(
    httpserver: HTTPServer,
    client: OpenWeatherClient,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    bucket: LocalBucket,
) -> None:
    httpserver.expect_request(PATH).respond_with_json(LUTON)
    points = [LUTON_POINT, ZOCCA_POINT, OXFORD_POINT]
    # The tick's clock: read at the start, then before each location, 30 s apart.
    first_tick = iter([0.0, 0.0, 30.0, 60.0])

    first = poll(client, publisher, bucket, points, budget=50, clock=lambda: next(first_tick))
    second = poll(client, publisher, bucket, points, budget=50, clock=lambda: 0.0)

    assert [(r.location, r.outcome) for r in first.results] == [
        (str(LUTON_POINT), "published"),
        (str(ZOCCA_POINT), "published"),
        (str(OXFORD_POINT), "failed"),
    ]
    assert first.results[2].reason == (
        "not polled: the tick's budget of 50 s is spent; first next tick"
    )
    # Oxford, never sent, is called first in the second tick; the report is in call order.
    second_calls = [request.args["lat"] for request, _ in httpserver.log[2:]]
    assert second_calls[0] == repr(OXFORD_POINT.lat)
    assert [(r.location, r.outcome) for r in second.results] == [
        (str(OXFORD_POINT), "published"),
        (str(LUTON_POINT), "skipped"),
        (str(ZOCCA_POINT), "skipped"),
    ]
