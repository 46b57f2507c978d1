"""Fixtures of the archive tests: warehouses with a known week of rows, and archive buckets.

Backends are real: DuckDB in a fresh file; the local bucket (a folder); Cloud Storage through
google-cloud-storage against `gcp-storage-emulator`; BigQuery through google-cloud-bigquery
against `local-bigquery`, started here with `STORAGE_EMULATOR_HOST` so that its EXPORT DATA
writes into the Cloud Storage stand-in (the suite's shared fixture starts it without).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.net import free_ports
from livability.ports import Bucket
from schemas import registry
from tests.archive.support import new_gcs_bucket
from tests.support.paths import ROOT
from tools import emulators
from tools.storage_emulator import StorageEmulator, answers, storage_emulator


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb", registry(), "sensor_data")
    warehouse.init()
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageEmulator]:
    with storage_emulator(tmp_path_factory.mktemp("storage-emulator")) as running:
        yield running


@pytest.fixture(params=["local", "gcs"])
def archive_bucket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bucket]:
    """The archive on the local bucket, then on Cloud Storage (the stand-in)."""
    if request.param == "local":
        bucket: Bucket = LocalBucket(tmp_path / "archive")
    else:
        bucket = new_gcs_bucket(request.getfixturevalue("storage"))
    yield bucket
    bucket.close()


@pytest.fixture(scope="session")
def bigquery_with_storage(
    storage: StorageEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """local-bigquery whose EXPORT DATA writes into the Cloud Storage stand-in."""
    if emulators.bigquery_emulator_python() is None:
        pytest.skip("no Python 3.13 interpreter for local-bigquery")
    venv = emulators.build_bigquery_emulator(ROOT / ".emulators")
    data_dir = tmp_path_factory.mktemp("local-bigquery-export")
    port, grpc_port = free_ports(2)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HOME": str(ROOT / ".emulators" / "bigquery" / "home"),
        "STORAGE_EMULATOR_HOST": storage.host,
    }
    with ExitStack() as stack:
        log = stack.enter_context((data_dir / "local-bigquery.log").open("wb"))
        process = subprocess.Popen(
            [
                str(venv / "bin" / "local-bigquery"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--grpc-port",
                str(grpc_port),
                "--project",
                emulators.PROJECT,
                "--data-dir",
                str(data_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        stack.callback(_stop, process)
        deadline = time.monotonic() + emulators.START_TIMEOUT
        while not answers(endpoint):
            assert process.poll() is None, (data_dir / "local-bigquery.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "local-bigquery did not start"
            time.sleep(0.1)
        yield endpoint


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
