"""Delivery guarantees of the gateway, against real components: the event processor (the
functions-framework app in process behind a real local HTTP server, pytest-httpserver; or
`livability serve` under gunicorn in its own process), a DuckDB warehouse in tmp, the outbox
on disk. The BLE radio is `livability.sim.radio` (bleak's scanner and client at the library
boundary); time is virtual in the 24 h test and real in the kill -9 test, where the agent is
a real `livability edge run` process.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask.testing
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from edge.config import Config, Gateway, Sensor
from edge.outbox import Outbox
from edge.sinks import HttpSink
from livability.net import free_port, wait_listening
from livability.settings import Settings
from livability.sim import make_homes, sensor_rows, weather_rows
from livability.sim.radio import Radio, VirtualTimeLoop, homes_sensors, virtual_clock
from tests.edge.support import START, Simulation, hours

LIVABILITY = Path(sys.executable).parent / "livability"
SEED = 5


def simulated(count: int, days: int) -> list[tuple[Any, list[dict[str, Any]]]]:
    homes = make_homes(count, SEED)
    return [
        (h, sensor_rows(h, weather_rows(h.site, START, days, SEED), START, days, SEED))
        for h in homes
    ]


def sensors_of(pairs: list[tuple[Any, list[dict[str, Any]]]]) -> tuple[Sensor, ...]:
    return tuple(
        Sensor("thermobeacon", h.mac, h.home_id, h.site.latitude, h.site.longitude)
        for h, _ in pairs
    )


def stored_row_ids(settings: Settings) -> list[str]:
    warehouse = settings.open_warehouse()
    try:
        table = warehouse.query(f"SELECT row_id FROM {settings.dataset}.sensor_thermo_beacon")
    finally:
        warehouse.close()
    return [str(r) for r in table.column("row_id").to_pylist()]


def test_sink_offline_for_a_day_then_every_reading_arrives_once(
    tmp_path: Path,
    settings: Settings,
    client: flask.testing.FlaskClient,
    httpserver: HTTPServer,
) -> None:
    loop = VirtualTimeLoop()
    clock = virtual_clock(loop, START)
    back = START + hours(24)
    pairs = simulated(3, days=2)
    radio = Radio(homes_sensors(pairs, boot_at=START - timedelta(days=3)), clock)
    acknowledged: list[str] = []
    refused = []

    def event_processor(request: Request) -> Response:
        if clock() < back:
            refused.append(clock())
            return Response("unavailable", status=503)
        answer = client.post("/", data=request.get_data(), headers=dict(request.headers))
        if answer.status_code == 200:
            data = json.loads(request.get_data())["message"]["data"]
            acknowledged.extend(r["row_id"] for r in json.loads(base64.b64decode(data)))
        return Response(answer.get_data(), status=answer.status_code)

    httpserver.expect_request("/", method="POST").respond_with_handler(event_processor)
    config = Config(Gateway(outbox=tmp_path / "outbox.sqlite"), sensors_of(pairs))
    sink = HttpSink(httpserver.url_for("/"))
    sim = Simulation(config, sink, radio.scanner_class(), radio.client_class(), loop)
    try:
        sim.run(until=START + hours(26))
        produced = sim.agent.counters.readings + sim.agent.counters.backfilled
        depth = sim.outbox.depth()
    finally:
        sim.close()
        sink.close()
    assert depth == 0
    assert len(acknowledged) == produced > 3 * 6 * 24
    assert len(set(acknowledged)) == len(acknowledged), "a reading was delivered twice"
    assert sorted(stored_row_ids(settings)) == sorted(acknowledged)
    # Backoff: retried all day, at most 5 min apart, and not more often than that allows.
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(refused)]
    assert max(gaps) <= 300
    assert 24 * 3600 / 300 <= len(refused) <= 24 * 3600 / 150 + 20


# --- kill -9 mid-drain ---


def depth_of(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        (depth,) = db.execute("SELECT count(*) FROM outbox").fetchone()
    return int(depth)


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling the outbox file, not standing in for a result


@pytest.fixture
def served(settings: Settings) -> Any:
    port = free_port()
    env = {**os.environ, "LIVABILITY_HOME": str(settings.home)}
    server = subprocess.Popen(
        [str(LIVABILITY), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, server, 60)
        yield port, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def test_kill_9_mid_drain_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, settings: Settings, served: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, server = served
    pairs = simulated(3, days=4)
    outbox = tmp_path / "outbox.sqlite"
    config = tmp_path / "gateway.toml"
    sensors = "".join(
        f'[[sensors]]\nmac = "{s.address}"\nhome_id = {s.home_id}\n'
        f"location = [{s.latitude}, {s.longitude}]\n\n"
        for s in sensors_of(pairs)
    )
    config.write_text(
        f'[gateway]\nsink = "http://127.0.0.1:{port}/"\noutbox = "{outbox}"\n'
        f"batch_size = 10\nsend_every = 0\nbackfill = false\n\n{sensors}"
    )
    with Outbox(outbox) as box:
        for _, rows in pairs:
            box.put("sensor_thermo_beacon", rows, START)
        queued = [p.row_id for p in box.batch(100_000)]
    assert len(queued) > 1500
    env = {**os.environ, "LIVABILITY_HOME": str(settings.home)}
    command = [str(LIVABILITY), "edge", "run", "--config", str(config), "--simulate"]

    agent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: depth_of(outbox) < 0.7 * len(queued), 120, "the drain to start")
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.communicate(timeout=30)
    left = depth_of(outbox)
    assert 0 < left < len(queued), "the kill did not land mid-drain"

    again = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: depth_of(outbox) == 0, 180, "the restarted gateway to drain")
    finally:
        again.send_signal(signal.SIGTERM)
        _, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, stderr.decode()

    server.send_signal(signal.SIGTERM)  # DuckDB: one process holds the file
    server.communicate(timeout=60)
    stored = stored_row_ids(settings)
    assert len(stored) == len(set(stored)), "a duplicate row in the warehouse"
    assert set(queued) <= set(stored), f"{len(set(queued) - set(stored))} readings lost"
