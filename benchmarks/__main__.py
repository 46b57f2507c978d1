"""`make bench`: how the ingest path compares with named baselines, measured in one run.

- ingest: validate + insert with idempotency keys (`livability.ingest.ingest_rows`) against
  the baseline DuckDB's own `read_json` insert of the same rows (no validation, no keys).
- archive: `load-archive` on the real week in ../shared (when present) against the same
  baseline reading those gz files directly.
- event processor: messages through functions-framework's WSGI app against the baseline
  of calling `process_message` directly (what the framework and CloudEvent parsing cost).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import functions_framework
from rich.console import Console
from rich.table import Table

import functions.main
from edge.messages import hourly
from functions.processor import PubSubMessage, process_message
from livability.archive import find_files, load
from livability.local.demo import cloud_event
from livability.ingest import ingest_rows
from livability.logs import configure_logging
from livability.settings import Settings, shared_warehouse
from livability.local.simulator import make_homes, sensor_rows, weather_rows
from livability.warehouse import DuckDBWarehouse
from schemas import registry

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "archive"
START = datetime(2025, 1, 6, tzinfo=UTC)


def timed(work: Callable[[], object], repeat: int = 3) -> float:
    """Best of `repeat` wall-clock runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return best


def count_lines(path: Path) -> int:
    with gzip.open(path, "rt") as lines:
        return sum(1 for _ in lines)


def simulated_rows(homes: int, days: int) -> list[dict[str, object]]:
    population = make_homes(homes, seed=1)
    weather = {
        s: weather_rows(s, START, days, seed=1) for s in dict.fromkeys(h.site for h in population)
    }
    return [r for h in population for r in sensor_rows(h, weather[h.site], START, days, seed=1)]


def fresh_warehouse(workdir: Path) -> DuckDBWarehouse:
    return Settings(home=Path(tempfile.mkdtemp(dir=workdir))).open_warehouse()


def baseline_read_json(workdir: Path, files: list[Path]) -> None:
    """DuckDB inserting the same NDJSON itself: parse and store, nothing checked."""
    warehouse = fresh_warehouse(workdir)
    table = "sensor_data.sensor_thermo_beacon"
    listing = ", ".join(f"'{f}'" for f in files)
    warehouse.query(f"CREATE TABLE bench AS SELECT * FROM {table} LIMIT 0")
    warehouse.query(
        f"INSERT INTO bench BY NAME SELECT md5(CAST(j AS VARCHAR)) AS _insert_id, j.* "
        f"FROM read_json([{listing}], columns={{day: 'DATE', timestamp: 'TIMESTAMP', "
        f"data: 'STRUCT(mac BIGINT, home_id BIGINT, temperature DOUBLE, humidity DOUBLE, "
        f"location VARCHAR)'}}) AS j"
    )
    warehouse.close()


def bench_ingest(workdir: Path) -> tuple[str, int, float, float]:
    rows = simulated_rows(homes=10, days=7)
    ndjson = workdir / "rows.ndjson.gz"
    with gzip.open(ndjson, "wt") as out:
        out.writelines(json.dumps(r) + "\n" for r in rows)
    table = registry()["sensor_thermo_beacon"]

    def ours() -> None:
        warehouse = fresh_warehouse(workdir)
        ingest_rows(warehouse, table, rows, source="bench", received_at=datetime.now(UTC))
        warehouse.close()

    return (
        "ingest 10 homes x 7 days",
        len(rows),
        timed(ours),
        timed(lambda: baseline_read_json(workdir, [ndjson])),
    )


def bench_archive(workdir: Path) -> tuple[str, int, float, float] | None:
    if not ARCHIVE.is_dir():
        return None
    files = find_files(ARCHIVE)
    rows = sum(count_lines(f.path) for f in files)

    def ours() -> None:
        warehouse = fresh_warehouse(workdir)
        load(warehouse, files, root=ARCHIVE)
        warehouse.close()

    sensor_files = [f.path for f in files if f.table == "sensor_thermo_beacon"]
    sensor_rows_ = sum(count_lines(f) for f in sensor_files)
    # The baseline reads only the sensor files: scale its time to the same row count.
    baseline = timed(lambda: baseline_read_json(workdir, sensor_files)) * rows / sensor_rows_
    return "load-archive (real week)", rows, timed(ours), baseline


def bench_event_processor(workdir: Path) -> tuple[str, int, float, float]:
    rows = simulated_rows(homes=2, days=5)
    messages = list(hourly("sensor_thermo_beacon", rows, "sensor_data"))
    app = functions_framework.create_app(
        target="event_processor", source=functions.main.__file__, signature_type="cloudevent"
    )
    client = app.test_client()
    requests = [cloud_event(m, f"bench-{i}") for i, m in enumerate(messages)]

    def fresh_settings() -> Settings:
        # Each run starts from an empty warehouse, so every message inserts its rows.
        home = Path(tempfile.mkdtemp(dir=workdir))
        os.environ["LIVABILITY_HOME"] = str(home)  # what the function runtime reads
        return Settings.from_env()

    def through_framework() -> None:
        fresh_settings()
        for headers, body in requests:
            client.post("/", json=body, headers=headers)

    def direct() -> None:
        warehouse = shared_warehouse(fresh_settings())
        for i, m in enumerate(messages):
            message = PubSubMessage(m.data, m.attributes, f"bench-{i}")
            process_message(message, warehouse, received_at=datetime.now(UTC))

    return "event processor (messages)", len(messages), timed(through_framework), timed(direct)


def main() -> None:
    console = Console()
    configure_logging(logging.WARNING, "stderr")  # the function logs every message at INFO
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = [bench_ingest(workdir), bench_archive(workdir), bench_event_processor(workdir)]
    table = Table(title="Benchmarks: ours vs baseline (best of 3, same run)")
    for column in ("case", "items", "ours items/s", "baseline", "baseline items/s", "ratio"):
        table.add_column(column, justify="left" if column in ("case", "baseline") else "right")
    baselines = {
        "ingest 10 homes x 7 days": "DuckDB read_json insert",
        "load-archive (real week)": "DuckDB read_json insert",
        "event processor (messages)": "process_message direct",
    }
    for result in results:
        if result is None:
            console.print("load-archive: skipped, ../shared/data/archive is absent")
            continue
        name, items, ours, baseline = result
        table.add_row(
            name,
            str(items),
            f"{items / ours:,.0f}",
            baselines[name],
            f"{items / baseline:,.0f}",
            f"{baseline / ours:.2f}x",
        )
    console.print(table)
    console.print("ratio = our throughput / baseline throughput (1.00x = as fast as the baseline)")


if __name__ == "__main__":
    main()
