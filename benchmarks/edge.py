"""Edge gateway benchmark: the agent's memory, and how fast it drains a day's backlog.

1. RSS of the agent with 10 sensors: the gateway's `run_gateway` (what `python -m edge run`
   runs) with the simulated radio in place of BlueZ, in real time, posting to a local HTTP
   sink, read from /proc (VmRSS at the end, VmHWM the peak) after it has run a while.
   Goal: < 60 MB. Named baseline: a bare interpreter (`python -c`), the floor any Python
   gateway pays.
2. Peak RSS of the agent under a busy radio: 100 sensors advertising once a second for a
   full 10-minute window (60,000 reading packets), on virtual time. Goal: < 60 MB (the
   window summaries are bounded; before, every advert was kept: 53 MB). Same baseline.
3. Drain of a 24 h backlog of 100 sensors (14,400 readings) from the durable outbox (SQLite,
   WAL, fsync per commit) through the agent's drain loop and HTTP sink to `livability serve`
   (functions-framework under gunicorn, DuckDB), in readings/s. Named baseline: the same
   number of readings (other days, so both are fresh inserts) posted straight to the same
   server in the same batches by the same sink, no outbox.
Ratios, never absolute claims; no assertion on time.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.ingest import serving
from edge.agent import Agent
from edge.config import Config, Gateway, Sensor
from edge.outbox import Outbox
from edge.sinks import HttpSink
from livability.logs import configure_logging
from livability.net import free_port
from livability.sim import make_homes, sensor_rows, weather_rows

START = datetime(2025, 1, 6, tzinfo=UTC)
BIN = Path(sys.executable).parent
RSS_SECONDS = 25
SENSORS = 100
BATCH = 100

REAL_TIME_GATEWAY = """
import asyncio, sys
from pathlib import Path
from edge.cli import load_config, run_gateway
from livability.sim.radio import configured_radio
config = load_config(Path(sys.argv[1]))
asyncio.run(run_gateway(config, configured_radio(config)))
"""


def status_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":")
            fields[key] = int(value.split()[0])
    return fields


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def bench_rss(workdir: Path) -> tuple[dict[str, int], dict[str, int]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    homes = make_homes(10, seed=3)
    sensors = "".join(
        f'[[sensors]]\nmac = "{":".join(f"{b:02X}" for b in h.mac.to_bytes(6, "big"))}"\n'
        f"home_id = {h.home_id}\nlocation = [{h.site.latitude}, {h.site.longitude}]\n\n"
        for h in homes
    )
    config = workdir / "rss.toml"
    config.write_text(
        f'[gateway]\nsink = "http://127.0.0.1:{server.server_port}/"\n'
        f'outbox = "{workdir / "rss.sqlite"}"\nsend_every = 0\n\n{sensors}'
    )
    agent = subprocess.Popen(
        [sys.executable, "-c", REAL_TIME_GATEWAY, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(RSS_SECONDS)  # the measurement is what it holds after running a while
        ours, floor = status_kb(agent.pid), status_kb(bare.pid)
    finally:
        for process in (agent, bare):
            process.terminate()
            process.wait(timeout=30)
        server.shutdown()
    return ours, floor


def bench_busy(workdir: Path) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-m", "livability.sim.busy_radio", str(SENSORS), str(workdir)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    figures: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def backlog(days_from: int) -> list[dict[str, Any]]:
    """24 h of readings from SENSORS homes, starting `days_from` days after START."""
    start = START + timedelta(days=days_from)
    homes = make_homes(SENSORS, seed=4)
    weather = {s: weather_rows(s, start, 1, seed=4) for s in dict.fromkeys(h.site for h in homes)}
    return [r for h in homes for r in sensor_rows(h, weather[h.site], start, 1, seed=4)]


class _Idle:
    """A scanner for an agent that only drains here."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass


def bench_drain(workdir: Path) -> tuple[int, float, int, float]:
    home = workdir / "serve"
    port = free_port()
    ours_rows, base_rows = backlog(0), backlog(1)
    outbox = Outbox(workdir / "drain.sqlite", limit=10**6)
    outbox.put("sensor_thermo_beacon", ours_rows, START)
    sensors = (Sensor("thermobeacon", 1, 1, 0.0, 0.0),)
    config = Config(Gateway(outbox=outbox.path, batch_size=BATCH, send_every=0), sensors)
    url = f"http://127.0.0.1:{port}/"
    command = [str(BIN / "livability"), "serve", "--port", str(port)]
    with serving(command, {"LIVABILITY_HOME": str(home)}, port):
        # Baseline: the same sink, the same batches, straight from memory.
        from schemas import registry
        from schemas.validation import to_json, validate_row

        spec = registry()["sensor_thermo_beacon"]
        normalised = [to_json(validate_row(spec, r)) for r in base_rows]
        sink = HttpSink(url)
        began = time.perf_counter()
        for index in range(0, len(normalised), BATCH):
            sink.send("sensor_thermo_beacon", normalised[index : index + BATCH])
        baseline = time.perf_counter() - began
        sink.close()
        # Ours: the agent's drain loop from the outbox.
        sink = HttpSink(url)
        agent = Agent(config, outbox, sink, scanner_class=_Idle, client_class=_Idle)
        began = time.perf_counter()
        asyncio.run(agent.drain())
        ours = time.perf_counter() - began
        left = outbox.depth()
        sink.close()
    outbox.close()
    if left:
        raise RuntimeError(f"the drain left {left} readings")
    return len(ours_rows), ours, len(normalised), baseline


def main() -> None:
    console = Console(width=None if sys.stdout.isatty() else 130)
    configure_logging(logging.WARNING, "stderr")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        console.print(f"edge: agent with 10 sensors for {RSS_SECONDS} s, then a 24 h backlog…")
        rss, floor = bench_rss(workdir)
        console.print(f"edge: {SENSORS} sensors advertising at 1 Hz for a window (virtual time)…")
        busy = bench_busy(workdir)
        drained, ours, based, baseline = bench_drain(workdir)
    table = Table(title=f"Edge gateway: ours vs a named baseline, same run, {os.cpu_count()} cores")
    for column in ("case", "ours", "baseline", "baseline's", "ratio"):
        table.add_column(column, justify="left" if column in ("case", "baseline") else "right")
    table.add_row(
        "agent RSS, 10 sensors (goal < 60 MB)",
        f"{rss['VmRSS'] / 1024:.1f} MB (peak {rss['VmHWM'] / 1024:.1f})",
        "bare python interpreter",
        f"{floor['VmRSS'] / 1024:.1f} MB",
        f"{rss['VmRSS'] / floor['VmRSS']:.1f}x",
    )
    table.add_row(
        f"agent peak RSS, {SENSORS} sensors at 1 Hz for a window, "
        f"{busy['adverts']:,} adverts (goal < 60 MB)",
        f"{busy['VmHWM'] / 1024:.1f} MB",
        "bare python interpreter",
        f"{floor['VmRSS'] / 1024:.1f} MB",
        f"{busy['VmHWM'] / floor['VmRSS']:.1f}x",
    )
    table.add_row(
        f"drain 24 h backlog, {SENSORS} sensors, to serve",
        f"{drained / ours:,.0f} readings/s",
        "same rows posted without the outbox",
        f"{based / baseline:,.0f} readings/s",
        f"{(drained / ours) / (based / baseline):.2f}x",
    )
    console.print(table)


if __name__ == "__main__":
    main()
