"""`livability serve`: the event processor under functions-framework's real server (gunicorn)
on 127.0.0.1, posted to over a real socket in every format Pub/Sub and Eventarc use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from livability.net import free_port
from livability.settings import Settings
from tests.support.pubsub import binary_headers, push_body, structured_event
from tests.support.server import LIVABILITY, post, wait_until_listening


def reading(minute: int) -> dict[str, object]:
    return {
        "day": "2024-11-29",
        "timestamp": f"2024-11-29T15:{minute:02d}:00Z",
        "data": {"mac": 42, "home_id": 3, "temperature": 20.5, "humidity": 48.0},
    }


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "LIVABILITY_HOME": str(settings.home)}
    proc = subprocess.Popen(
        [str(LIVABILITY), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(port, proc)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)


def test_serve_accepts_every_delivery_format_over_http(
    server: tuple[int, subprocess.Popen[bytes]], settings: Settings
) -> None:
    port, proc = server
    json_type = {"Content-Type": "application/json"}
    binary = post(port, json.dumps(push_body([reading(0)])), {**json_type, **binary_headers("b")})
    structured = post(
        port,
        structured_event(push_body([reading(10)]), "s"),
        {"Content-Type": "application/cloudevents+json"},
    )
    raw_push = post(port, json.dumps(push_body([reading(20)])), json_type)
    redelivery = post(port, json.dumps(push_body([reading(20)])), json_type)
    not_a_cloud_event = post(port, json.dumps({"hello": "world"}), json_type)
    assert (binary, structured, raw_push, redelivery, not_a_cloud_event) == (
        200,
        200,
        200,
        200,
        400,
    )

    proc.send_signal(signal.SIGTERM)  # DuckDB: one writer process per file
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    stored = settings.open_warehouse().query(
        "SELECT CAST(timestamp AS VARCHAR) AS ts FROM sensor_data.sensor_thermo_beacon ORDER BY 1"
    )
    assert stored.column("ts").to_pylist() == [
        "2024-11-29 15:00:00",
        "2024-11-29 15:10:00",
        "2024-11-29 15:20:00",
    ]


def test_serve_with_unusable_state_folder_fails_with_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = subprocess.run(
        [str(LIVABILITY), "serve", "--port", str(free_port())],
        env={**os.environ, "LIVABILITY_HOME": str(not_a_folder)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("livability: error: cannot open the warehouse at ")
    assert len(result.stderr.strip().splitlines()) == 1
