"""Weather poller benchmark: a tick against a misbehaving OpenWeatherMap, vs its deadline.

A local HTTP server stands in for OpenWeatherMap; one tick of the real poller (client, poll,
mapping; rows to a counting publisher, state in a local bucket) runs in real time with a
10 s budget against:

1. a 429 storm: every answer 429 with `Retry-After: 6` (below the client's 10 s cap), for
   5 locations (the issue measured a 25.8 s tick against a 10 s budget before the deadline);
2. a trickle: a body sent a byte every 0.5 s, never tripping the 10 s read timeout (before,
   60.6 s against the function's 60 s);
3. the named baseline: the same 5 locations answered at once.
Figures: the tick's time and its ratio to the deadline (at most 1 is the goal).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rich.console import Console
from rich.table import Table

from livability.adapters.local_bucket import LocalBucket
from livability.logs import configure_logging
from livability.weather.client import OpenWeatherClient
from livability.weather.locations import Location
from livability.weather.poller import poll

BUDGET = 10.0
KEY = "0123456789abcdef0123456789abcdef"
BODY = {
    "weather": [{"description": "broken clouds"}],
    "main": {"temp": 11.5, "humidity": 97, "pressure": 1013},
    "wind": {"speed": 4.63, "deg": 180},
    "clouds": {"all": 75},
    "dt": 1733051400,
    "sys": {"sunrise": 1733039242, "sunset": 1733068480},
    "cod": 200,
}
MODES = {1.0: "storm", 2.0: "trickle", 3.0: "ok"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        lat = float(parse_qs(urlsplit(self.path).query).get("lat", ["3"])[0])
        mode = MODES.get(lat, "ok")
        body = json.dumps(BODY).encode()
        try:
            if mode == "storm":
                body = b'{"cod": 429, "message": "limit"}'
                self.send_response(429)
                self.send_header("Retry-After", "6")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode != "trickle":
                self.wfile.write(body)
                return
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:  # the client hung up at its deadline
            self.close_connection = True

    def log_message(self, *_: Any) -> None:
        pass


class _Counting:
    def __init__(self) -> None:
        self.rows = 0

    def publish(self, table: str, rows: Any) -> list[str]:
        self.rows += len(rows)
        return [str(i) for i, _ in enumerate(rows)]

    def publish_raw(self, data: bytes, attributes: Any) -> str:
        return "0"

    def close(self) -> None:
        pass


def tick(url: str, lat: float, folder: Path) -> tuple[float, str]:
    """One tick over 5 locations at `lat`: its time (s) and the first location's outcome."""
    client = OpenWeatherClient(KEY, base_url=url, calls_per_minute=6000)
    points = [Location(lat, float(lon)) for lon in range(5)]
    began = time.monotonic()
    try:
        report = poll(client, _Counting(), LocalBucket(folder), points, budget=BUDGET)
    finally:
        client.close()
    took = time.monotonic() - began
    first = report.results[0]
    return took, f"{first.outcome}: {(first.reason or '')[:60]}"


def main() -> None:
    console = Console(width=None if sys.stdout.isatty() else 130)
    configure_logging(logging.ERROR, "stderr")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    console.print(f"weather: three ticks against a misbehaving stand-in, {BUDGET:g} s budget…")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cases = {
                "429 storm (Retry-After 6 s), 5 locations": tick(url, 1.0, Path(tmp) / "a"),
                "body trickling a byte every 0.5 s": tick(url, 2.0, Path(tmp) / "b"),
            }
            baseline, _ = tick(url, 3.0, Path(tmp) / "c")
    finally:
        server.shutdown()
    table = Table(title=f"Weather tick vs its deadline, same run, {os.cpu_count()} cores")
    for column in ("case", "tick", "deadline", "tick / deadline", "baseline", "first location"):
        table.add_column(
            column, justify="left" if column in ("case", "first location") else "right"
        )
    for case, (took, outcome) in cases.items():
        table.add_row(
            case,
            f"{took:.2f} s",
            f"{BUDGET:g} s",
            f"{took / BUDGET:.2f}",
            f"{baseline:.2f} s (prompt answers)",
            outcome,
        )
    console.print(table)


if __name__ == "__main__":
    main()
