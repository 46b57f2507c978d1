"""The event processor's size (infra/sizing.py): derived from the load, documented, and its
memory bound measured.

Runs against: infra/sizing.py with the FinOps profile (livability.finops.Profile) and the
real environment files; the real event processor (`livability.ingest.messages.process_event` on a
DuckDB file) handling the largest message the contract lets through, under tracemalloc; and
docs/deploy.md's sizing table. No timing is asserted: durations come from the FinOps profile,
which `make bench` measures.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra import config, sizing
from infra.entrypoints import REPO
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.finops import Profile
from livability.ingest.messages import MAX_ROWS, process_event
from schemas import registry

MIB = 2**20
PUBSUB_MAX_BYTES = 10_000_000  # a Pub/Sub message's data, at most (cloud.google.com/pubsub/quotas)
HEADER = "| environment | homes | rows a message | burst | one message | in flight | size |"


def _largest_message() -> dict[str, object]:
    """10,000 valid readings padded to just under 10 MB: the heaviest request there can be."""
    rows = [
        {
            "day": "2024-11-29",
            "timestamp": f"2024-11-29T14:{i % 60:02d}:{i // 60 % 60:02d}.{i:06d}Z",
            "data": {
                "mac": i,
                "home_id": 1 + i,
                "temperature": 20.5,
                "humidity": 50.0,
                "location": "POINT(-0.41472 51.87833)",
            },
            "note": "x" * 800,  # not a column: read, then dropped by the validator
        }
        for i in range(MAX_ROWS)
    ]
    raw = json.dumps(rows).encode()
    assert PUBSUB_MAX_BYTES * 0.95 < len(raw) <= PUBSUB_MAX_BYTES
    return {
        "message": {
            "data": base64.b64encode(raw).decode(),
            "attributes": {"table_id": "sensor_thermo_beacon"},
            "messageId": "largest",
        }
    }


def test_the_largest_message_fits_the_memory_each_request_is_given(tmp_path: Path) -> None:
    body = _largest_message()
    carried = len(json.dumps(body))  # the push body the framework holds while we run
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", registry(), "sensor_data")
    warehouse.init()
    tracemalloc.start()
    try:
        outcome = process_event(body, "largest", warehouse, received_at=datetime.now(UTC))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        warehouse.close()
    assert (outcome.result.loaded, outcome.result.rejected) == (MAX_ROWS, 0)
    assert (peak + carried) / MIB <= sizing.WORST_REQUEST_MIB, f"{(peak + carried) / MIB:.1f}"


def test_sizes_follow_the_load_model() -> None:
    prod = config.load("prod")
    size = sizing.processor_size(prod)
    profile = Profile()
    cpu = profile.processor_cpu_ms + profile.processor_cpu_ms_per_row * 6
    assert size.duration_ms == profile.processor_io_ms + cpu
    assert size.burst == 1_000_000 // 6 + 1
    by_memory = (sizing.MEMORY_MIB - sizing.RUNTIME_MIB) // sizing.WORST_REQUEST_MIB
    assert size.concurrency == min(int(sizing.TARGET_CPU * size.duration_ms / cpu), by_memory)
    # Twice the homes, twice the instances (give or take the rounding up).
    double = sizing.processor_size(
        dataclasses.replace(prod, load=dataclasses.replace(prod.load, homes=2_000_000))
    )
    assert double.concurrency == size.concurrency
    assert abs(double.max_instances - 2 * size.max_instances) <= 1
    # A slower drain needs fewer instances; a small deployment keeps the floor.
    slow = sizing.processor_size(
        dataclasses.replace(prod, load=dataclasses.replace(prod.load, drain_seconds=600))
    )
    assert slow.max_instances < size.max_instances
    assert sizing.processor_size(config.load("dev")).max_instances == sizing.MIN_INSTANCES


@pytest.mark.parametrize("rows", [1, 6, 100, 1000])
def test_concurrency_never_leaves_the_cpu_idle_nor_overbooked(rows: int) -> None:
    prod = config.load("prod")
    env = dataclasses.replace(prod, load=dataclasses.replace(prod.load, rows_per_message=rows))
    size = sizing.processor_size(env)
    profile = Profile()
    cpu = profile.processor_cpu_ms + profile.processor_cpu_ms_per_row * rows
    assert 1 <= size.concurrency <= sizing.MAX_CONCURRENCY
    # Concurrent requests keep at most TARGET_CPU of the vCPU busy.
    assert size.concurrency * cpu / size.duration_ms <= sizing.TARGET_CPU


def test_the_sizing_table_in_the_docs_is_the_code() -> None:
    lines = (REPO / "docs" / "deploy.md").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    documented = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        documented.append(line)
    assert documented == [sizing.markdown_row(config.load(name)) for name in config.names()]
