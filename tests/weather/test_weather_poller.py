"""The poller against a real local HTTP server serving real OpenWeatherMap bodies.

Runs the real `OpenWeatherClient` (requests.Session, urllib3) against pytest-httpserver on
127.0.0.1, the real `PubSubPublisher` against the gRPC Publisher service of this suite
(tests/grpc_publisher.py: no Pub/Sub emulator installs here) and the local bucket for the
poller's state. Failure families: 401, 429 (with and without Retry-After), 404 with a string
`cod`, a body that is not JSON, a body without `dt`, values outside the contract, a read
timeout and a refused connection; the API key must appear in no log line, caught both by
caplog and by the platform's JSON handler.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from livability.adapters.local_bucket import LocalBucket
from livability.adapters.pubsub import PubSubPublisher
from livability.logs import configure_logging
from livability.weather.poller import (
    SENT_KEY,
    Location,
    OpenWeatherClient,
    PollReport,
    poll,
)
from schemas import registry
from tests.support.grpc_publisher import FakePublisher, fake_publisher
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

TOPIC = "projects/test-proj/topics/meteo_data"
PATH = "/data/2.5/weather"
LUTON_POINT = Location(51.9, -0.4)
ZOCCA_POINT = Location(44.34, 10.99)
OXFORD_POINT = Location(51.75, -1.26)


def query(location: Location) -> dict[str, str]:
    return {"lat": repr(location.lat), "lon": repr(location.lon), "units": "metric", "appid": KEY}


def metric_zocca() -> dict[str, Any]:
    return {**ZOCCA, "main": {**ZOCCA["main"], "temp": 25.33}}


@pytest.fixture
def fake() -> Iterator[FakePublisher]:
    with fake_publisher() as running:
        yield running


@pytest.fixture
def publisher(fake: FakePublisher) -> Iterator[PubSubPublisher]:
    pub = PubSubPublisher(TOPIC, emulator=fake.host, batch_max_latency=0.01, deadline=5)
    yield pub
    pub.close()


@pytest.fixture
def bucket(tmp_path: Path) -> LocalBucket:
    return LocalBucket(tmp_path / "bucket")


class Sleeps(list[float]):
    """Records the waits the client asks for, instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(httpserver: HTTPServer, sleeps: Sleeps) -> Iterator[OpenWeatherClient]:
    owm = OpenWeatherClient(
        KEY,
        base_url=httpserver.url_for("/"),
        timeout=(1.0, 0.5),
        calls_per_minute=6000,
        sleep=sleeps,
    )
    yield owm
    owm.close()


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
    configure_logging(logging.DEBUG, "stderr")
    urllib3_log = logging.getLogger("urllib3")
    urllib3_log.setLevel(logging.DEBUG)
    urllib3_log.addHandler(logging.getLogger("livability").handlers[0])
    try:
        every_failure(httpserver, client, bucket)
    finally:
        urllib3_log.handlers.clear()
        urllib3_log.setLevel(logging.NOTSET)

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
