"""Sending and sensing apart: a slow sink does not stop windows closing; the HTTP sink's
`Retry-After` is honoured (bounded); a batch the sink refuses for good is narrowed down and
the refused reading set aside so the rest flows; a damaged outbox is a one-line error.

Real components: the sink is a real local HTTP server (pytest-httpserver) behind the real
`HttpSink`, or a sink that blocks its worker thread; the outbox a real SQLite file; the CLI
the installed `livability edge`/`python -m edge`. Time is virtual (`VirtualTimeLoop`).
"""

from __future__ import annotations

import base64
import itertools
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from edge.config import Config
from edge.outbox import Note, Outbox, OutboxError
from edge.sender import BACKOFF_MAX, SET_ASIDE_AFTER
from edge.sinks import RETRY_AFTER_MAX, HttpSink, SinkError, retry_after
from livability.sim.radio import VirtualTimeLoop, virtual_clock
from schemas import registry
from schemas.validation import to_json, validate_row
from tests.edge.support import START, RecordingSink, Simulation, gateway, sensor
from tests.edge.test_edge_decoder import THEENGS_1
from tests.edge.test_edge_transport import (
    SENSOR_A,
    Emission,
    NoClient,
    at,
    scanner_replaying,
    variant,
)

LIVABILITY = Path(sys.executable).parent / "livability"
TABLE = "sensor_thermo_beacon"


def readings(count: int, poison: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "day": "2025-01-06",
            "timestamp": (START + timedelta(minutes=k)).isoformat(),
            "data": {
                "mac": 0x70F70000111A,
                "home_id": 1,
                "temperature": 66.625 if k == poison else 20 + k / 16,
                "humidity": 50.0,
            },
            "battery": 90,
        }
        for k in range(count)
    ]


class Idle:
    """A scanner that hears nothing: these tests are about the sending side."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def rows_of(request: Request) -> list[dict[str, Any]]:
    message = json.loads(request.get_data())["message"]
    return list(json.loads(base64.b64decode(message["data"])))


# --- a slow sink ---


class SlowSink(RecordingSink):
    """The first `slow` sends each hold their worker thread for 45 minutes of (virtual) time."""

    def __init__(self, loop: VirtualTimeLoop, slow: int) -> None:
        super().__init__()
        self.loop = loop
        self.slow = slow

    def send(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if len(self.batches) < self.slow:
            until = self.loop.time() + 45 * 60
            waiting = threading.Event()
            while self.loop.time() < until:  # the loop's time moves on while this one waits
                waiting.wait(0.001)
        super().send(table, rows)


def test_a_slow_sink_does_not_stop_windows_closing(tmp_path: Path) -> None:
    loop = VirtualTimeLoop(threads_take_time=True)
    clock = virtual_clock(loop, START)
    emissions: list[Emission] = [
        (at(10 * k + 1), SENSOR_A, variant(THEENGS_1, temperature=20 + k / 16)) for k in range(18)
    ]
    config = Config(gateway(tmp_path, send_every=0, batch_size=1), (sensor(SENSOR_A),))
    sink = SlowSink(loop, slow=3)
    sim = Simulation(config, sink, scanner_replaying(emissions, clock), NoClient, loop)
    try:
        sim.run(until=at(180))
        stored = sim.agent.counters.readings
    finally:
        sim.close()
    # Every window closed on time with its own reading (none merged, none lost), though the
    # sink took 45 minutes a send for over two hours; the end of the run sent the rest.
    assert stored == 18
    assert [(r["timestamp"][11:16], r["data"]["temperature"]) for r in sink.rows] == [
        (f"{(10 * (k + 1)) // 60:02d}:{(10 * (k + 1)) % 60:02d}", 20 + k / 16) for k in range(18)
    ]


# --- Retry-After ---


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        ("120", None, 120.0),
        ("0", None, 0.0),
        ("86400", None, RETRY_AFTER_MAX),
        # A date: relative to the answer's own Date (a server whose clock is years off).
        ("Wed, 21 Oct 2015 07:30:00 GMT", "Wed, 21 Oct 2015 07:25:00 GMT", 300.0),
        ("Wed, 21 Oct 2015 07:20:00 GMT", "Wed, 21 Oct 2015 07:25:00 GMT", 0.0),
        # Two Date headers joined (or none): our own clock, here years later: no wait.
        (
            "Wed, 21 Oct 2015 07:30:00 GMT",
            "Wed, 21 Oct 2015 07:25:00 GMT, Sat, 05 Dec 2026 10:46:04 GMT",
            0.0,
        ),
        ("Wed, 21 Oct 2015 07:30:00 GMT", None, 0.0),
        ("Wed, 21 Oct 2099 07:30:00 GMT", None, RETRY_AFTER_MAX),
        ("soon", None, None),
        ("-5", None, None),
        ("9" * 400, None, RETRY_AFTER_MAX),
        (None, None, None),
    ],
)
def test_retry_after_is_read_and_bounded(
    value: str | None, date: str | None, expected: float | None
) -> None:
    assert retry_after(value, date) == expected


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "wait"),
    [
        (503, {"Retry-After": "120"}, False, 120.0),
        (429, {"Retry-After": "7200"}, False, RETRY_AFTER_MAX),
        (500, {}, False, None),
        (400, {}, True, None),
        (413, {}, True, None),
        (422, {}, True, None),
        # The configuration's fault, not the rows': retried like an outage, never set aside.
        (401, {}, False, None),
        (403, {}, False, None),
        (404, {}, False, None),
        (408, {}, False, None),
    ],
)
def test_the_http_sink_says_how_to_go_on(
    httpserver: HTTPServer, status: int, headers: dict[str, str], permanent: bool, wait: float
) -> None:
    httpserver.expect_request("/", method="POST").respond_with_response(
        Response("x" * 100_000, status=status, headers=headers)
    )
    sink = HttpSink(httpserver.url_for("/"))
    try:
        with pytest.raises(SinkError) as caught:
            sink.send(TABLE, [to_json(validate_row(registry()[TABLE], readings(1)[0]))])
    finally:
        sink.close()
    assert (caught.value.permanent, caught.value.retry_after) == (permanent, wait)
    assert len(str(caught.value)) < 400  # a huge answer is not carried into the log


def drain_against(
    httpserver: HTTPServer, tmp_path: Path, rows: list[dict[str, Any]], hours: float
) -> Simulation:
    loop = VirtualTimeLoop()
    config = Config(gateway(tmp_path, send_every=0, batch_size=8), (sensor(SENSOR_A),))
    sink = HttpSink(httpserver.url_for("/"))
    sim = Simulation(config, sink, Idle, NoClient, loop)
    sim.outbox.put(TABLE, rows, START)
    try:
        sim.run_for(hours * 3600)
    finally:
        sink.close()
    return sim


def test_retry_after_is_honoured(httpserver: HTTPServer, tmp_path: Path) -> None:
    answers = iter(
        [
            Response("busy", status=503, headers={"Retry-After": "120"}),
            # A date 10 minutes ahead of this host's (real) clock.
            Response(
                "busy",
                status=429,
                headers={
                    "Retry-After": format_datetime(
                        datetime.now(UTC) + timedelta(minutes=10), usegmt=True
                    )
                },
            ),
            Response("busy", status=503, headers={"Retry-After": "99999"}),
        ]
    )
    attempts: list[float] = []
    sim_box: list[Simulation] = []

    def handler(request: Request) -> Response:
        attempts.append(sim_box[0].loop.time() if sim_box else 0.0)
        return next(answers, Response("{}", status=200))

    httpserver.expect_request("/", method="POST").respond_with_handler(handler)
    loop = VirtualTimeLoop()
    config = Config(gateway(tmp_path, send_every=0), (sensor(SENSOR_A),))
    sink = HttpSink(httpserver.url_for("/"))
    sim = Simulation(config, sink, Idle, NoClient, loop)
    sim_box.append(sim)
    sim.outbox.put(TABLE, readings(3), START)
    try:
        sim.run_for(3600)
        depth = sim.outbox.depth()
    finally:
        sink.close()
        sim.close()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert depth == 0
    assert len(attempts) == 4
    # Never sooner than asked; the backoff's own jitter may add a little; 99999 s is capped.
    assert 120 <= gaps[0] < 121
    assert 598 <= gaps[1] < 602
    assert RETRY_AFTER_MAX <= gaps[2] < RETRY_AFTER_MAX + 4


# --- a batch refused for good ---


def test_a_refused_reading_is_set_aside_and_the_rest_flows(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    delivered: list[float] = []
    refusals = 0

    def handler(request: Request) -> Response:
        nonlocal refusals
        rows = rows_of(request)
        if any(r["data"]["temperature"] == 66.625 for r in rows):
            refusals += 1
            return Response('{"error": "data.temperature: out of range"}', status=400)
        delivered.extend(r["data"]["temperature"] for r in rows)
        return Response("{}", status=200)

    httpserver.expect_request("/", method="POST").respond_with_handler(handler)
    sim = drain_against(httpserver, tmp_path, readings(30, poison=7), hours=2)
    status = sim.outbox.status()
    counters = sim.agent.counters
    (aside,) = sqlite3.connect(sim.outbox.path).execute("SELECT reason FROM set_aside").fetchone()
    requeued = sim.outbox.requeue(START)
    sim.close()
    assert sorted(delivered) == [20 + k / 16 for k in range(30) if k != 7]
    assert (status.depth, status.set_aside, counters.set_aside) == (0, 1, 1)
    # Narrowed down by halves (8, 4, 2, 1), then refused alone SET_ASIDE_AFTER times.
    assert refusals == 3 + SET_ASIDE_AFTER
    assert status.counts["refused_batches"] == refusals
    assert "answered 400" in aside
    assert "out of range" in aside
    assert requeued == 1


@pytest.mark.parametrize(
    ("poisoned", "waiting"),
    [
        ((0,), ()),
        ((0, 1, 2), ()),
        # The newest is refused alone with nothing else left to send: it waits in the
        # outbox until the sink takes another reading beside it.
        ((13, 14, 29), (29,)),
    ],
)
def test_refused_readings_first_or_side_by_side_are_set_aside_and_the_rest_flows(
    httpserver: HTTPServer, tmp_path: Path, poisoned: tuple[int, ...], waiting: tuple[int, ...]
) -> None:
    bad = {20 + k / 16 for k in poisoned}
    delivered: list[float] = []

    def handler(request: Request) -> Response:
        temperatures = [r["data"]["temperature"] for r in rows_of(request)]
        if bad & set(temperatures):
            return Response('{"error": "data.temperature: refused"}', status=400)
        delivered.extend(temperatures)
        return Response("{}", status=200)

    httpserver.expect_request("/", method="POST").respond_with_handler(handler)
    sim = drain_against(httpserver, tmp_path, readings(30), hours=2)
    status = sim.outbox.status()
    aside = sorted(
        json.loads(body)["data"]["temperature"]
        for (body,) in sqlite3.connect(sim.outbox.path).execute("SELECT body FROM set_aside")
    )
    sim.close()
    assert sorted(delivered) == [20 + k / 16 for k in range(30) if k not in poisoned]
    assert aside == [20 + k / 16 for k in poisoned if k not in waiting]
    assert (status.depth, status.set_aside) == (len(waiting), len(poisoned) - len(waiting))


def test_a_sink_that_refuses_every_reading_sets_nothing_aside(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    """A broken deployment answering 400 to everything: the sink is blamed, not the
    readings; they stay in the outbox and the retries back off to the longest wait."""
    httpserver.expect_request("/", method="POST").respond_with_response(
        Response('{"error": "bad request"}', status=400)
    )
    sim = drain_against(httpserver, tmp_path, readings(40), hours=6)
    status = sim.outbox.status()
    attempts = len(httpserver.log)
    sim.close()
    assert (status.depth, status.set_aside) == (40, 0)
    # Backing off: 6 hours at no more than one try a 5-minute wait allows, after the ramp.
    assert attempts < 6 * 3600 / BACKOFF_MAX + 200


def test_a_sink_that_refuses_the_credentials_sets_nothing_aside(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/", method="POST").respond_with_response(Response("no", status=403))
    sim = drain_against(httpserver, tmp_path, readings(20), hours=2)
    status = sim.outbox.status()
    failures = sim.agent.counters.failures
    sim.close()
    assert (status.depth, status.set_aside) == (20, 0)
    assert failures > 10


def test_cli_status_and_requeue_show_and_return_what_was_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox:
        outbox.put(TABLE, readings(3), START)
        outbox.set_aside(outbox.batch(1), "sink answered 400: " + "x" * 1000, START)
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[gateway]\noutbox = "{path}"\n\n[[sensors]]\nmac = "{SENSOR_A}"\n'
        "home_id = 1\nlocation = [51.87833, -0.41472]\n"
    )
    status = subprocess.run(
        [str(LIVABILITY), "edge", "status", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "set aside 1 (edge requeue puts them back)" in status.stdout
    again = subprocess.run(
        [str(LIVABILITY), "edge", "requeue", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.stdout.strip() == "1 reading(s) back in the outbox"
    with Outbox(path) as outbox:
        assert (outbox.depth(), outbox.status().set_aside) == (3, 0)


# --- a damaged outbox ---


def damaged(path: Path) -> None:
    with Outbox(path) as outbox:
        outbox.put(TABLE, readings(400), START)
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page of the table overwritten
    path.write_bytes(bytes(data))


def with_value(sql: str) -> Callable[[Path], None]:
    """A sound outbox file in which one stored value was damaged (`sql` writes it)."""

    def make(path: Path) -> None:
        with Outbox(path) as outbox:
            outbox.put(TABLE, readings(3), START, [Note(0x70F70000111A, START, 20.0, 50.0, 90)])
            outbox.count({(0, "refused"): 1})
        db = sqlite3.connect(path)
        db.execute(sql)
        db.commit()
        db.close()

    return make


OUTBOXES = {
    "a directory": lambda p: p.mkdir(),
    "a folder that is a file": lambda p: p.parent.joinpath("file").write_text("x"),
    "random bytes": lambda p: p.write_bytes(bytes(range(256)) * 40),
    "an empty header": lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84),
    "a damaged page": damaged,
    "a truncated file": lambda p: (damaged(p), p.write_bytes(p.read_bytes()[:6000])),
    "another program's database": lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)"),
    "a stored time that is no time": with_value("UPDATE sensors SET last_timestamp = 'x\ny'"),
    "a stored time without a zone": with_value(
        "UPDATE sensors SET seen_at = '2025-01-06T00:00:00'"
    ),
    "a clock floor that is no time": with_value(
        "INSERT INTO meta VALUES ('time_floor', '2025-13-01T00:00:00+00:00')"
    ),
    "a count that is no number": with_value("INSERT INTO meta VALUES ('sent', 'many')"),
    "a stored time that is a number": with_value("UPDATE outbox SET stored_at = 12"),
}


@pytest.mark.parametrize("kind", OUTBOXES)
def test_a_bad_outbox_is_one_line_naming_the_file_and_the_recovery(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "outbox.sqlite"
    OUTBOXES[kind](path)
    if kind == "a folder that is a file":
        path = tmp_path / "file" / "outbox.sqlite"
    with pytest.raises(OutboxError) as caught:
        Outbox(path).close()
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert message.endswith("see edge/README.md, 'Recovering the outbox'")
    assert "\n" not in message


@pytest.mark.parametrize("command", ["run", "status", "requeue"])
def test_the_cli_on_a_bad_outbox_exits_with_one_line(tmp_path: Path, command: str) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(bytes(range(256)) * 40)
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[gateway]\noutbox = "{path}"\nsink = "http://127.0.0.1:9/"\n\n[[sensors]]\n'
        f'mac = "{SENSOR_A}"\nhome_id = 1\nlocation = [51.87833, -0.41472]\n'
    )
    for program in ([sys.executable, "-m", "edge"], [str(LIVABILITY), "edge"]):
        result = subprocess.run(
            [*program, command, "--config", str(config)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"{path}: cannot use: file is not a database" in result.stderr


def test_a_reading_damaged_in_the_outbox_is_set_aside_and_the_rest_flows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as outbox:
        outbox.put(TABLE, readings(5), START)
    db = sqlite3.connect(path)
    db.execute("UPDATE outbox SET body = substr(body, 1, 40) WHERE seq = 2")  # cut short
    db.execute("UPDATE outbox SET body = '[1, 2]' WHERE seq = 4")  # JSON, not a row
    db.commit()
    db.close()
    with Outbox(path) as outbox:
        sent = [p.row["data"]["temperature"] for p in outbox.batch(10)]
        status = outbox.status()
    reasons = [r[0] for r in sqlite3.connect(path).execute("SELECT reason FROM set_aside")]
    assert sent == [20.0, 20 + 2 / 16, 20 + 4 / 16]
    assert (status.depth, status.set_aside, status.counts["damaged_in_outbox"]) == (3, 2, 2)
    assert reasons == ["damaged in the outbox: its body is not a JSON object"] * 2


def test_an_outbox_of_the_first_release_opens_and_gains_its_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, row_id TEXT NOT NULL UNIQUE,
            table_id TEXT NOT NULL, body TEXT NOT NULL, stored_at TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sensors (mac INTEGER PRIMARY KEY, last_timestamp TEXT, temperature REAL,
            humidity REAL, battery INTEGER, seen_at TEXT, boot_at TEXT, history_next INTEGER,
            interval_s INTEGER);
        INSERT INTO sensors (mac, last_timestamp) VALUES (1, '2025-01-06T00:10:00.000000+00:00');
        """
    )
    old.close()
    with Outbox(path) as outbox:
        state = outbox.sensor(1)
        status = outbox.status()
    assert state is not None
    assert (state.last_timestamp, state.uptime_s, state.counts) == (
        START + timedelta(minutes=10),
        None,
        {},
    )
    assert (status.set_aside, status.time_floor) == (0, None)
