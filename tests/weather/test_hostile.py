"""The poller against a hostile OpenWeatherMap stand-in (a real HTTP server on 127.0.0.1,
`tests.weather.hostile_owm`): key echoes, a page quoting the URL across the cut, trickles,
huge bodies, a redirect to another port, replies without `main`, 429 storms.

The real client, poll, Pub/Sub publisher (at the wire, against the gRPC stand-in) and local
bucket run; every output (the report, each JSON log line with urllib3's DEBUG log, every
published byte, every byte the bucket keeps) is searched for the key and for every piece of
it 8 characters or longer, in any case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livability.adapters.local_bucket import LocalBucket
from livability.adapters.pubsub import PubSubPublisher
from livability.weather.client import BODY_LIMIT, OpenWeatherClient
from livability.weather.locations import Location
from livability.weather.poller import PollReport, poll
from tests.support.grpc_publisher import FakePublisher
from tests.weather.fixtures import fake, json_logs_with_urls, publisher
from tests.weather.hostile_owm import HUGE_BYTES, LATITUDES, Hostile, hostile_owm, leaks
from tests.weather.owm_bodies import KEY, LUTON_DT

__all__ = ["fake", "publisher"]  # fixtures, imported for pytest
ECHOES = [
    "cod",
    "cod_number_message",
    "main",
    "dt",
    "dt_number_text",
    "upper",
    "fragment",
    "description",
    "long_description",
    "html_url",
    "html_url_60",
    "not_json",
    "no_main",
    "main_null",
    "redirect",
    "huge",
    "huge_chunked",
    "ok",
]


class Nothing:
    """A publisher for ticks that publish nothing: a call is a failure of the test."""

    def publish(self, table: str, rows: Any) -> list[str]:
        raise AssertionError(f"nothing was to be published, got {len(rows)} {table} rows")

    def publish_raw(self, data: bytes, attributes: Any) -> str:
        raise AssertionError("nothing was to be published")

    def close(self) -> None:
        pass


NOTHING = Nothing()


def at(name: str) -> Location:
    return Location(LATITUDES[name], 0.0)


@pytest.fixture
def owm() -> Iterator[Hostile]:
    with hostile_owm() as running:
        yield running


def client_of(owm: Hostile, **options: Any) -> OpenWeatherClient:
    return OpenWeatherClient(
        KEY, base_url=owm.url, timeout=(1.0, 0.5), calls_per_minute=60_000, **options
    )


def outcomes(report: PollReport) -> dict[str, tuple[str, str]]:
    names = {str(at(name)): name for name in LATITUDES}
    return {names[r.location]: (r.outcome, r.reason or "") for r in report.results}


def stored_bytes(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


def test_no_piece_of_the_key_in_any_output_log_line_or_stored_byte(
    owm: Hostile,
    publisher: PubSubPublisher,
    fake: FakePublisher,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = LocalBucket(tmp_path / "bucket")
    client = client_of(owm)
    try:
        with json_logs_with_urls():
            report = poll(client, publisher, bucket, [at(name) for name in ECHOES])
    finally:
        client.close()
    lines = capsys.readouterr().err.splitlines()
    messages = [m.data.decode() for request in fake.accepted for m in request.messages]
    got = outcomes(report)

    # The key is really in what the stand-in sent back (it echoes the query), and nowhere in
    # what we wrote.
    assert any(KEY in target for target in owm.seen.requests)
    assert leaks(json.dumps(report.to_json()), KEY) == []
    assert [line for line in lines if leaks(line, KEY)] == []
    assert leaks("".join(messages), KEY) == []
    assert leaks(stored_bytes(tmp_path / "bucket"), KEY) == []
    assert any("/data/2.5/weather" in line for line in lines)  # urllib3's URL log was read
    # Each family fails its location alone, with a reason that names it; the rest publish.
    assert {name: outcome for name, (outcome, _) in got.items()} == {
        **dict.fromkeys(ECHOES, "failed"),
        "description": "published",
        "long_description": "published",
        "ok": "published",
    }
    assert got["cod"][1] == 'OpenWeatherMap answered cod "***": "ok"'
    assert got["main"][1] == 'malformed body: main: "***" is not an object'
    assert got["dt"][1] == 'malformed body: dt: "***" is not a Unix time'
    assert got["fragment"][1].startswith("OpenWeatherMap answered HTTP 404 (cod")
    assert got["html_url"][1].startswith('OpenWeatherMap answered HTTP 502: "<html>')
    assert got["html_url_60"][1].startswith('OpenWeatherMap answered HTTP 502: "/data/2.5/')
    assert "&appid=*" in got["html_url_60"][1]  # the key began before the cut, scrubbed first
    assert (
        got["no_main"][1]
        == got["main_null"][1]
        == ("malformed body: main: required field is missing")
    )
    assert got["redirect"][1].startswith("OpenWeatherMap answered HTTP 302: a redirect, not")
    assert owm.elsewhere.requests == []  # the other origin never saw the key
    assert got["huge"][1] == (
        f"OpenWeatherMap answered HTTP 200 with {HUGE_BYTES} bytes: more than {BODY_LIMIT} "
        "bytes, not read"
    )
    assert got["huge_chunked"][1] == (
        f"OpenWeatherMap answered HTTP 200 with more than {BODY_LIMIT} bytes: not read past them"
    )
    descriptions = sorted(json.loads(m)["data"]["description"] for m in messages)
    assert descriptions[0] == "broken clouds"
    assert descriptions[1] == "clouds *** and more"
    assert len(descriptions[2]) == 200
    assert descriptions[2].startswith("grey grey ")
    assert descriptions[2].endswith("…")


class VirtualTime:
    """The client's clock and sleep: a wait moves the clock, nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("storm", "budget", "calls", "reason"),
    [
        # Retry-After 2 s: two waits fit a 5 s tick; the third answer ends it.
        ("storm", 5.0, 3, "rate limited by OpenWeatherMap (429) after 3 calls with backoff"),
        # The second wait would pass a 3 s deadline: not taken.
        ("storm", 3.0, 2, "rate limited by OpenWeatherMap (429); its wait of 2 s would pass"),
        # An hour asked (capped at 10 s) with 10 s of tick: no wait at all.
        ("storm_long", 10.0, 1, "rate limited by OpenWeatherMap (429); its wait of 10 s"),
        # No Retry-After: 1 s, then 2 s, exponential.
        ("storm_bare", 10.0, 3, "rate limited by OpenWeatherMap (429) after 3 calls"),
    ],
)
def test_a_429_storm_ends_the_tick_within_its_deadline(
    owm: Hostile, tmp_path: Path, storm: str, budget: float, calls: int, reason: str
) -> None:
    time = VirtualTime()
    client = client_of(owm, clock=time.clock, sleep=time.sleep)
    points = [at(storm), Location(LATITUDES[storm], 1.0), Location(LATITUDES[storm], 2.0)]
    start = time.now
    try:
        report = poll(
            client, NOTHING, LocalBucket(tmp_path), points, budget=budget, clock=time.clock
        )
    finally:
        client.close()
    results = [(r.outcome, r.reason or "") for r in report.results]
    assert time.now - start <= budget
    assert len(owm.seen.requests) == calls
    assert results[0][1].startswith(reason)
    assert [r[0] for r in results] == ["failed"] * 3
    assert all(r[1].startswith("not polled: rate limited") for r in results[1:])


def test_a_trickling_body_ends_at_the_tick_s_deadline_not_its_own_pace(
    owm: Hostile, tmp_path: Path
) -> None:
    """A byte every 50 ms never trips the 0.5 s read timeout: only the tick's deadline
    (2 s here) ends it, and the location after it is left for the next tick."""
    client = client_of(owm)
    try:
        points = [at("trickle"), at("ok")]
        report = poll(client, NOTHING, LocalBucket(tmp_path), points, budget=2.0)
    finally:
        client.close()
    assert outcomes(report) == {
        "trickle": (
            "failed",
            "no complete answer from OpenWeatherMap before the tick's deadline",
        ),
        "ok": ("failed", "not polled: the tick's budget of 2 s is spent; first next tick"),
    }


def test_a_reply_within_the_deadline_is_unchanged(owm: Hostile, tmp_path: Path) -> None:
    client = client_of(owm)
    try:
        body = client.current(at("ok"))
    finally:
        client.close()
    assert (body["dt"], body["main"]["temp"], body["name"]) == (LUTON_DT, 11.5, "Luton")
