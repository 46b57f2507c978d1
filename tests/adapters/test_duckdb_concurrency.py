"""The embedded warehouse shared in time: group commit within a process, turns between processes.

Runs against the real DuckDB file and, for the second-process case, the real `livability serve`
(functions-framework under gunicorn) on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.net import free_port
from livability.ports import WarehouseError
from livability.settings import Settings
from schemas import registry
from schemas.validation import validate_row
from tests.support.pubsub import binary_headers, push_body
from tests.support.server import LIVABILITY, post, wait_until_listening

SENSOR = registry()["sensor_thermo_beacon"]


def reading(minute: int, home: int = 3) -> dict[str, Any]:
    return {
        "day": "2024-11-26",
        "timestamp": f"2024-11-26T10:{minute:02d}:00Z",
        "data": {"mac": 42, "home_id": home, "temperature": 20.5, "humidity": 48.0},
    }


def test_concurrent_inserts_are_committed_together_and_exactly_once(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", registry(), "sensor_data")
    warehouse.init()
    # 8 senders, each with 20 rows; every row is also sent by the next sender (a redelivery).
    rows = [validate_row(SENSOR, reading(m % 60, home=1 + m // 60)) for m in range(80)]
    batches = [rows[10 * s : 10 * s + 20] for s in range(8)]
    inserted: list[int] = []
    start = threading.Barrier(len(batches))

    def send(batch: list[dict[str, Any]]) -> None:
        start.wait()
        result = warehouse.insert_rows(SENSOR.name, batch, [r["row_id"] for r in batch])
        inserted.append(result.inserted)

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = warehouse.query(
        "SELECT count(*) AS n, count(DISTINCT row_id) AS ids FROM sensor_data.sensor_thermo_beacon"
    ).to_pylist()
    warehouse.close()
    assert stored == [{"n": 80, "ids": 80}]
    assert sum(inserted) == 80  # each new row counted once, by the sender that brought it


def test_a_locked_file_is_a_warehouse_error_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"ready\n"
        warehouse = DuckDBWarehouse(path, registry(), "sensor_data", lock_timeout=0.3)
        with pytest.raises(WarehouseError, match="lock"):
            warehouse.init()
    finally:
        holder.communicate(b"", timeout=30)


@pytest.fixture
def server(settings: Settings) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [str(LIVABILITY), "serve", "--port", str(port)],
        env={**os.environ, "LIVABILITY_HOME": str(settings.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_second_process_scores_while_serve_runs(server: int, settings: Settings) -> None:
    body = json.dumps(push_body([reading(m) for m in range(0, 60, 10)], message_id="a"))
    assert post(server, body, binary_headers("a")) == 200
    scored = subprocess.run(
        [str(LIVABILITY), "score", "--week", "2024-11-25", "--json"],
        env={**os.environ, "LIVABILITY_HOME": str(settings.home)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert scored.returncode == 0, scored.stderr.decode()
    assert [v["home_id"] for v in json.loads(scored.stdout)] == [3]
    # ...and the server gets the file back for the next message.
    later = json.dumps(push_body([reading(m) for m in range(5, 60, 10)], message_id="b"))
    assert post(server, later, binary_headers("b")) == 200
