"""Ingest benchmark: the ingest paths against named baselines, both measured in this run on the same
data and the same sink. Ratios, never absolute claims; no assertion on time.

1. HTTP, 100-row messages: our event processor under functions-framework (`livability serve`,
   gunicorn, 8 threads) against `benchmarks/reference_handler.py` (the reference PoC's way:
   a new client per call, every record printed, one insert, no validation) served the same
   way, into the same DuckDB table. 8 concurrent senders on keep-alive connections.
   Rows/s, and the servers' CPU ms per message (user + system, read from /proc).
2. HTTP, 6-row messages (a gateway's hourly batch), same two servers: messages/s.
3. load-archive of the real week (../shared, when present) into DuckDB against DuckDB's own
   `read_json` insert of the same files (no checks, no keys).
4. load-archive of the same week into the BigQuery stand-in (local-bigquery, when its venv
   exists) against a plain load job of the same rows (no checks, no keys).
"""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edge.messages import encode
from livability.archive.loader import load
from livability.archive.survey import find_files
from livability.logs import configure_logging
from livability.net import free_port
from livability.settings import Settings, open_warehouse
from livability.sim import make_homes, sensor_rows, weather_rows

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "archive"
BIN = Path(sys.executable).parent
START = datetime(2025, 1, 6, tzinfo=UTC)
SENDERS = 8
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    case: str
    unit: str
    items: int
    ours: float  # seconds
    baseline_name: str
    baseline: float | None  # seconds
    note: str = ""


def simulated_rows(homes: int, days: int) -> list[dict[str, object]]:
    population = make_homes(homes, seed=1)
    weather = {
        s: weather_rows(s, START, days, seed=1) for s in dict.fromkeys(h.site for h in population)
    }
    return [r for h in population for r in sensor_rows(h, weather[h.site], START, days, seed=1)]


def messages(rows: list[dict[str, object]], per_message: int) -> list[tuple[dict[str, str], bytes]]:
    """Binary-mode CloudEvents as Eventarc posts them, `per_message` rows each."""
    out = []
    for index in range(0, len(rows), per_message):
        message = encode("sensor_thermo_beacon", rows[index : index + per_message], "sensor_data")
        event_id = f"bench-{index}"
        headers = {
            "ce-id": event_id,
            "ce-specversion": "1.0",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-source": "//pubsub.googleapis.com/projects/bench/topics/sensor_data",
            "Content-Type": "application/json",
        }
        body = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": event_id,
            },
            "subscription": "projects/bench/subscriptions/bench",
        }
        out.append((headers, json.dumps(body).encode()))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's arbiter and worker)."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    server = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start") from None
                time.sleep(0.1)  # polling the port
        yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=60)


def send_all(port: int, requests: list[tuple[dict[str, str], bytes]]) -> None:
    """Post every request from SENDERS threads on keep-alive connections; all must be 200."""
    queue = list(reversed(requests))
    lock = threading.Lock()
    failures: list[str] = []

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                headers, body = queue.pop()
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"HTTP {response.status}")
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")


def measure_http(
    workdir: Path, requests: list[tuple[dict[str, str], bytes]], ours: bool
) -> tuple[float, float]:
    """Wall seconds and server CPU seconds for posting `requests` to a fresh server."""
    home = Path(tempfile.mkdtemp(dir=workdir))
    port = free_port()
    if ours:
        command = [str(BIN / "livability"), "serve", "--port", str(port)]
        env = {"LIVABILITY_HOME": str(home)}
    else:
        database = home / "baseline.duckdb"
        open_warehouse(Settings(home=home), init=True).close()  # same tables as ours
        (home / "warehouse.duckdb").rename(database)
        command = [
            str(BIN / "functions-framework"),
            "--target=reference_handler",
            f"--source={ROOT / 'benchmarks' / 'reference_handler.py'}",
            "--signature-type=cloudevent",
            "--host=127.0.0.1",
            f"--port={port}",
        ]
        env = {"BASELINE_DB": str(database)}
    with serving(command, env, port) as pid:
        send_all(port, requests[:SENDERS])  # warm-up: imports, first connection
        cpu_before, began = cpu_seconds(pid), time.perf_counter()
        send_all(port, requests[SENDERS:])
        return time.perf_counter() - began, cpu_seconds(pid) - cpu_before


def bench_http(workdir: Path, rows_per_message: int, count: int) -> list[Result]:
    # Distinct rows only: a repeated row would be a duplicate, which is not the case measured.
    needed = rows_per_message * (count + SENDERS)
    rows = simulated_rows(homes=1 + needed // (7 * 144), days=7)[:needed]
    requests = messages(rows, rows_per_message)
    measured = count
    ours_wall, ours_cpu = measure_http(workdir, requests, ours=True)
    base_wall, base_cpu = measure_http(workdir, requests, ours=False)
    name = f"HTTP, {rows_per_message}-row messages"
    baseline = "reference-style handler"
    return [
        Result(f"{name}: messages", "msgs", measured, ours_wall, baseline, base_wall),
        Result(
            f"{name}: rows", "rows", measured * rows_per_message, ours_wall, baseline, base_wall
        ),
        Result(
            f"{name}: CPU ms/message",
            "ms",
            measured,
            ours_cpu,
            baseline,
            base_cpu,
        ),
    ]


def count_lines(path: Path) -> int:
    with gzip.open(path, "rb") as lines:
        return sum(1 for _ in lines)


def bench_archive_duckdb(workdir: Path) -> Result | None:
    if not ARCHIVE.is_dir():
        return None
    files = find_files(ARCHIVE)
    rows = sum(count_lines(f.path) for f in files)

    def ours() -> None:
        warehouse = open_warehouse(Settings(home=Path(tempfile.mkdtemp(dir=workdir))))
        load(warehouse, files, root=ARCHIVE)
        warehouse.close()

    def baseline() -> None:
        import duckdb

        con = duckdb.connect(str(Path(tempfile.mkdtemp(dir=workdir)) / "b.duckdb"))
        for table in ("sensor_thermo_beacon", "weather_data"):
            listing = ", ".join(f"'{f.path}'" for f in files if f.table == table)
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_json([{listing}])")
        con.close()

    return Result(
        "load-archive, real week, DuckDB",
        "rows",
        rows,
        best(ours),
        "DuckDB read_json insert",
        best(baseline),
    )


def best(work: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def bench_archive_bigquery(workdir: Path) -> Result | str:
    from tools import emulators

    if not ARCHIVE.is_dir():
        return "load-archive into BigQuery: skipped, ../shared/data/archive is absent"
    if emulators.bigquery_emulator_python() is None:
        return "load-archive into BigQuery: skipped, no Python 3.13 for local-bigquery"
    from google.cloud import bigquery

    from livability.adapters.bigquery import BigQueryWarehouse
    from schemas import registry

    root = emulators.DEFAULT_ROOT
    files = find_files(ARCHIVE)
    lines = {f.path: gzip.decompress(f.path.read_bytes()).splitlines() for f in files}
    rows = sum(len(v) for v in lines.values())
    with emulators.running_bigquery(root, workdir / "bq") as host:
        warehouse = BigQueryWarehouse("test-proj", "bench_ours", registry(), emulator=host)
        warehouse.init(registry())
        began = time.perf_counter()
        load(warehouse, files, root=ARCHIVE)
        ours = time.perf_counter() - began
        # The baseline: the same lines in one plain load job per table, nothing checked.
        client = warehouse.client
        client.create_dataset("bench_plain")
        began = time.perf_counter()
        for table in ("sensor_thermo_beacon", "weather_data"):
            body = b"\n".join(line for f in files if f.table == table for line in lines[f.path])
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                schema=[
                    bigquery.SchemaField.from_api_repr(f) for f in registry()[table].bigquery_json()
                ],
            )
            client.load_table_from_file(
                io.BytesIO(body), f"bench_plain.{table}", job_config=config
            ).result()
        baseline = time.perf_counter() - began
        warehouse.close()
    return Result(
        "load-archive, real week, BigQuery stand-in",
        "rows",
        rows,
        ours,
        "plain load job, no checks",
        baseline,
    )


def main() -> None:
    console = Console(width=None if sys.stdout.isatty() else 130)
    configure_logging(logging.WARNING, "stderr")
    results: list[Result] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console, transient=True) as bar:
        workdir = Path(tmp)
        steps: list[Callable[[], list[Result] | Result | str | None]] = [
            lambda: bench_http(workdir, 100, 300),
            lambda: bench_http(workdir, 6, 2000),
            lambda: bench_archive_duckdb(workdir),
            lambda: bench_archive_bigquery(workdir),
        ]
        task = bar.add_task("benchmarks", total=len(steps))
        for step in steps:
            outcome = step()
            if isinstance(outcome, list):
                results += outcome
            elif isinstance(outcome, Result):
                results.append(outcome)
            elif isinstance(outcome, str):
                notes.append(outcome)
            else:
                notes.append("load-archive into DuckDB: skipped, ../shared/data/archive is absent")
            bar.advance(task)
    table = Table(title=f"Benchmarks: ours vs a named baseline, same run, {os.cpu_count()} cores")
    for column in ("case", "ours", "baseline", "baseline's", "ratio"):
        table.add_column(column, justify="left" if column in ("case", "baseline") else "right")
    for r in results:
        if r.unit == "ms":  # CPU per message: lower is better, ratio = how many times less
            ours = f"{1000 * r.ours / r.items:.2f} ms"
            base = f"{1000 * r.baseline / r.items:.2f} ms" if r.baseline else "-"
            ratio = f"{r.baseline / r.ours:.1f}x less" if r.baseline else "-"
        else:
            ours = f"{r.items / r.ours:,.0f} {r.unit}/s"
            base = f"{r.items / r.baseline:,.0f} {r.unit}/s" if r.baseline else "-"
            ratio = f"{r.baseline / r.ours:.2f}x" if r.baseline else "-"
        table.add_row(r.case, ours, r.baseline_name, base, ratio)
    console.print(table)
    for note in notes:
        console.print(note)
    console.print("ratio: our throughput / the baseline's (CPU: the baseline's CPU / ours)")


if __name__ == "__main__":
    main()
