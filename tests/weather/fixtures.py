"""Stand-ins the weather tests share: the Secret Manager server (`drongo`, over REST), an
OpenWeatherMap client on the local HTTP server with its waits recorded, the Pub/Sub publisher
against its gRPC stand-in, and every log line as JSON with urllib3's DEBUG log of the URLs.

Imported by name by the test modules that use them, not a conftest.py: the `client` fixture
here would shadow tests/conftest.py's (the event processor) in the function's tests.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from livability.adapters.local_bucket import LocalBucket
from livability.adapters.pubsub import PubSubPublisher
from livability.logs import configure_logging
from livability.weather.client import OpenWeatherClient
from livability.weather.locations import Location
from tests.support.grpc_publisher import FakePublisher, fake_publisher
from tests.weather.owm_bodies import KEY
from tools.storage_emulator import answers, free_port

PROJECT = "test-proj"
DRONGO = Path(sys.executable).parent / "drongo"
START_TIMEOUT = 30.0
PATH = "/data/2.5/weather"
LUTON_POINT = Location(51.9, -0.4)


@contextmanager
def drongo_server(log_dir: Path) -> Iterator[str]:
    """`drongo server` on a free port of 127.0.0.1; yields its endpoint, stops it after."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = log_dir / "drongo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(DRONGO), "server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not answers(endpoint):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"drongo did not start on {endpoint}: "
                        f"{log_path.read_text(errors='replace')[-2000:]}"
                    )
                time.sleep(0.05)  # polling a port that is not open yet
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def secret_client(endpoint: str) -> Any:
    """The real Secret Manager client, REST transport, anonymous, at `endpoint`."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def create_secret(endpoint: str, secret_id: str, value: str) -> str:
    """Create `secret_id` with one version holding `value`; its `versions/latest` name."""
    client = secret_client(endpoint)
    parent = f"projects/{PROJECT}"
    secret = client.create_secret(
        request={
            "parent": parent,
            "secret_id": secret_id,
            "secret": {"replication": {"automatic": {}}},
        }
    )
    client.add_secret_version(request={"parent": secret.name, "payload": {"data": value.encode()}})
    return f"{secret.name}/versions/latest"


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


TOPIC = "projects/test-proj/topics/meteo_data"


@pytest.fixture
def fake() -> Iterator[FakePublisher]:
    with fake_publisher() as running:
        yield running


@pytest.fixture
def publisher(fake: FakePublisher) -> Iterator[PubSubPublisher]:
    pub = PubSubPublisher(TOPIC, emulator=fake.host, batch_max_latency=0.01, deadline=5)
    yield pub
    pub.close()


@contextmanager
def json_logs_with_urls() -> Iterator[None]:
    """The platform's JSON log lines on stderr at DEBUG, urllib3's (which print each URL,
    key included) through the same handler."""
    configure_logging(logging.DEBUG, "stderr")
    urllib3_log = logging.getLogger("urllib3")
    urllib3_log.setLevel(logging.DEBUG)
    urllib3_log.addHandler(logging.getLogger("livability").handlers[0])
    try:
        yield
    finally:
        urllib3_log.handlers.clear()
        urllib3_log.setLevel(logging.NOTSET)
