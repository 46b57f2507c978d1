"""`meteodata_event` end to end, as Cloud Scheduler calls it.

Runs functions-framework's real app for `functions/weather.py` (HTTP signature) with every
collaborator real or at the wire: OpenWeatherMap as pytest-httpserver serving real bodies,
the key in the `drongo` Secret Manager server, the real Pub/Sub client against this suite's
gRPC Publisher service, the local bucket for the poller's state, and the embedded DuckDB
warehouse. The published messages are then pushed, as Pub/Sub would, through the real event
processor, and the rows read back from DuckDB.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import flask.testing
import functions_framework
import grpc
import pytest
from pytest_httpserver import HTTPServer

from livability.ingest.rows import ingest_rows
from livability.settings import Settings
from schemas import registry
from tests.support.grpc_publisher import FakePublisher, fake_publisher
from tests.support.paths import ROOT
from tests.support.pubsub import binary_headers, push_body
from tests.weather.fixtures import create_secret, drongo_server
from tests.weather.owm_bodies import KEY, LUTON, LUTON_DT, UNAUTHORIZED, ZOCCA, luton

PATH = "/data/2.5/weather"
TOPIC = "projects/test-proj/topics/meteo_data"
LUTON_QUERY = {"lat": "51.9", "lon": "-0.4", "units": "metric", "appid": KEY}
ZOCCA_QUERY = {"lat": "44.34", "lon": "10.99", "units": "metric", "appid": KEY}
WEATHER_SQL = """
SELECT CAST(timestamp AS VARCHAR) AS timestamp, CAST(observed_at AS VARCHAR) AS observed_at,
       data.temperature AS temperature, data.location AS location, row_id
FROM sensor_data.weather_data ORDER BY location
"""


@pytest.fixture(scope="module")
def drongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with drongo_server(tmp_path_factory.mktemp("drongo")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def secret(drongo: str) -> str:
    return create_secret(drongo, "OPENWEATHER_API_KEY", KEY)


@pytest.fixture
def fake() -> Iterator[FakePublisher]:
    with fake_publisher() as running:
        yield running


@pytest.fixture
def poller(
    settings: Settings,
    fake: FakePublisher,
    httpserver: HTTPServer,
    drongo: str,
    secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> flask.testing.FlaskClient:
    """The function as deployed: its environment (common.md's table) pointing at stand-ins."""
    for name, value in {
        "LIVABILITY_TOPIC": TOPIC,
        "PUBSUB_EMULATOR_HOST": fake.host,
        "OPENWEATHER_API_KEY_SECRET": secret,
        "SECRET_MANAGER_EMULATOR_HOST": drongo,
        "OPENWEATHER_BASE_URL": httpserver.url_for("/"),
        "OPENWEATHER_CALLS_PER_MINUTE": "6000",
        "LIVABILITY_WEATHER_LOCATIONS": "51.9,-0.4;44.34,10.99",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPENWEATHER_API_KEY", raising=False)
    app = functions_framework.create_app(
        target="meteodata_event",
        source=str(ROOT / "functions" / "weather.py"),
        signature_type="http",
    )
    return app.test_client()


def deliver(fake: FakePublisher, client: flask.testing.FlaskClient) -> None:
    """Push every accepted message to the event processor, as a Pub/Sub push would."""
    ids = (str(i) for i in range(1, 10_000))
    for request in fake.accepted:
        for message in request.messages:
            event_id = next(ids)
            response = client.post(
                "/",
                json=push_body(message.data, dict(message.attributes), event_id),
                headers=binary_headers(event_id),
            )
            assert response.status_code == 200, response.get_data(as_text=True)


def weather_rows(settings: Settings) -> list[dict[str, Any]]:
    warehouse = settings.open_warehouse()
    try:
        return warehouse.query(WEATHER_SQL).to_pylist()
    finally:
        warehouse.close()


def metric_zocca() -> dict[str, Any]:
    return {**ZOCCA, "main": {**ZOCCA["main"], "temp": 25.33}}


def test_a_tick_lands_in_the_warehouse_once_and_a_repoll_adds_nothing(
    poller: flask.testing.FlaskClient,
    client: flask.testing.FlaskClient,
    fake: FakePublisher,
    httpserver: HTTPServer,
    settings: Settings,
) -> None:
    httpserver.expect_request(PATH, query_string=LUTON_QUERY).respond_with_json(LUTON)
    httpserver.expect_request(PATH, query_string=ZOCCA_QUERY).respond_with_json(metric_zocca())

    first = poller.post("/")
    second = poller.post("/")

    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["published"] == 2
    assert (second.status_code, second.get_json()["skipped"]) == (200, 2)
    assert len(fake.accepted) >= 1
    deliver(fake, client)
    deliver(fake, client)  # a redelivery of everything: the row ids collapse it
    rows = weather_rows(settings)
    assert [(r["timestamp"], r["observed_at"], r["temperature"], r["location"]) for r in rows] == [
        ("2024-12-01 11:10:00", "2024-12-01 11:10:00", 11.5, "POINT(-0.4 51.9)"),
        ("2022-08-30 14:43:12", "2022-08-30 14:43:12", 25.33, "POINT(10.99 44.34)"),
    ]


def test_the_answer_says_what_was_polled_published_skipped_and_why(
    poller: flask.testing.FlaskClient, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(PATH, query_string=LUTON_QUERY).respond_with_json(LUTON)
    httpserver.expect_request(PATH, query_string=ZOCCA_QUERY).respond_with_data("oops")

    answer = poller.post("/")

    assert answer.status_code == 200
    body = answer.get_json()
    assert {k: body[k] for k in ("locations", "polled", "published", "skipped", "failed")} == {
        "locations": 2,
        "polled": 1,
        "published": 1,
        "skipped": 0,
        "failed": 1,
    }
    assert body["failures"] == [
        {"location": "44.34,10.99", "reason": 'malformed body: not JSON ("oops")'}
    ]
    assert body["key_rejected"] is None


def test_a_rejected_key_answers_500_after_one_call(
    poller: flask.testing.FlaskClient, httpserver: HTTPServer, fake: FakePublisher
) -> None:
    httpserver.expect_request(PATH).respond_with_json(UNAUTHORIZED, status=401)

    answer = poller.post("/")

    assert answer.status_code == 500
    assert answer.get_json()["key_rejected"].startswith("OpenWeatherMap rejected the API key")
    assert len(httpserver.log) == 1
    assert fake.calls == []
    assert KEY not in answer.get_data(as_text=True)


def test_a_publisher_failure_answers_500_and_the_retry_publishes_again(
    poller: flask.testing.FlaskClient,
    client: flask.testing.FlaskClient,
    httpserver: HTTPServer,
    fake: FakePublisher,
    settings: Settings,
) -> None:
    httpserver.expect_request(PATH, query_string=LUTON_QUERY).respond_with_json(LUTON)
    httpserver.expect_request(PATH, query_string=ZOCCA_QUERY).respond_with_json(metric_zocca())
    fake.fail_next(grpc.StatusCode.PERMISSION_DENIED, times=1, message="no pubsub.publisher")

    failed = poller.post("/")
    retried = poller.post("/")

    assert failed.status_code == 500
    assert "not published" in failed.get_json()["error"]
    assert (retried.status_code, retried.get_json()["published"]) == (200, 2)
    deliver(fake, client)
    assert len(weather_rows(settings)) == 2  # whatever went out twice is one row


def test_without_locations_the_homes_in_the_warehouse_are_polled_on_a_grid(
    poller: flask.testing.FlaskClient,
    httpserver: HTTPServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LIVABILITY_WEATHER_LOCATIONS")
    now = datetime.now(UTC)
    warehouse = settings.open_warehouse()
    try:
        readings = [
            {  # two neighbours near Luton share one grid point
                "day": now.date().isoformat(),
                "timestamp": now.isoformat(),
                "data": {
                    "mac": mac,
                    "home_id": home,
                    "temperature": 18.3,
                    "humidity": 67.0,
                    "location": location,
                },
            }
            for mac, home, location in (
                (1, 1, "POINT(-0.41472 51.87833)"),
                (2, 2, "POINT(-0.38 51.91)"),
            )
        ]
        ingest_rows(
            warehouse, registry()["sensor_thermo_beacon"], readings, source="t", received_at=now
        )
    finally:
        warehouse.close()
    httpserver.expect_request(PATH, query_string=LUTON_QUERY).respond_with_json(luton(dt=LUTON_DT))

    answer = poller.post("/")

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["results"] == [
        {
            "location": "51.9,-0.4",
            "outcome": "published",
            "observed_at": "2024-12-01T11:10:00+00:00",
        }
    ]
    assert len(httpserver.log) == 1
    cached = json.loads((settings.bucket_path / "state/weather/locations.json").read_bytes())
    assert cached["locations"] == [[51.9, -0.4]]


def test_a_bad_setting_answers_500_naming_it(
    poller: flask.testing.FlaskClient, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    monkeypatch.setenv("LIVABILITY_WEATHER_LOCATIONS", "north,south")

    answer = poller.post("/")

    assert answer.status_code == 500
    assert answer.get_json()["error"].startswith(
        "LIVABILITY_WEATHER_LOCATIONS: location 1 'north,south' is not 'lat,lon'"
    )
    assert httpserver.log == []
