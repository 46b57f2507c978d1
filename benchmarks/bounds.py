"""Event processor bounds: peak RSS of the `livability serve` worker per body, against a baseline.

Each case starts a fresh server (functions-framework's gunicorn, one worker), posts one body
over a real socket and reads the worker's peak resident set (VmHWM, /proc). The named baseline,
measured in the same run, is an empty push (a message without data: one dead letter). Ratios,
no assertion on memory or time.

Cases: the largest body the server accepts (a push of 10 MiB of data, the Pub/Sub maximum:
10,000 valid rows padded with an undeclared field, all stored); the same size as one 10 MiB
string (a poison message, dead-lettered, kept whole in the bucket); 10 MiB of `[{},{},...]`
(refused by the JSON counts before it is parsed); a gzip bomb (refused at 100:1); a
Content-Length of 400 MB (refused before a byte is read).

Then `livability load-archive`, one process per case (its peak RSS from `wait4`), against an
archive of one row as the baseline: 64 lines just under the 1 MiB line cap (all stored, in
batches cut at 8 MiB); one 64 MiB line (refused at the cap as it grows); 1,000,000 `{}` lines
(1,000 dead letters, then one summary record); a gzip bomb of 1 GiB of newlines (stopped at
200:1 past 16 MiB).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.ingest import serving
from livability.archive.format import MAX_LINE_BYTES
from livability.ingest.delivery import MAX_BODY_BYTES, MAX_MESSAGE_DATA
from livability.net import free_port

BIN = Path(sys.executable).parent
HEADERS = (
    "ce-id: bench\r\nce-specversion: 1.0\r\nce-source: //pubsub.googleapis.com/projects/b/"
    "topics/sensor_data\r\nce-type: google.cloud.pubsub.topic.v1.messagePublished\r\n"
)


def push(data: bytes) -> bytes:
    message = {
        "data": base64.b64encode(data).decode(),
        "attributes": {"table_id": "sensor_thermo_beacon"},
        "messageId": "bench",
    }
    return json.dumps({"message": message, "subscription": "projects/b/subscriptions/b"}).encode()


def largest_rows() -> bytes:
    """10,000 valid readings (the most one message may hold) padded to 10 MiB of data."""
    rows = []
    for i in range(10_000):
        minute, second = divmod(i, 60)
        rows.append(
            {
                "day": "2024-11-29",
                "timestamp": f"2024-11-29T{minute // 60:02d}:{minute % 60:02d}:{second:02d}Z",
                "data": {"mac": 42, "home_id": 3, "temperature": 20.5, "humidity": 48.0},
                "note": "",
            }
        )
    base = len(json.dumps(rows))
    pad = (MAX_MESSAGE_DATA - base) // len(rows) - 1
    for row in rows:
        row["note"] = "x" * pad
    data = json.dumps(rows).encode()
    assert len(data) <= MAX_MESSAGE_DATA, len(data)
    return data


def one_string() -> bytes:
    return json.dumps("x" * (MAX_MESSAGE_DATA - 2)).encode()


def empty_objects() -> bytes:
    count = (MAX_MESSAGE_DATA - 2) // 3
    return b"[" + b",".join([b"{}"] * count) + b"]"


def request(body: bytes, extra: str = "", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (
        f"POST / HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n{HEADERS}{extra}"
        f"Content-Length: {size}\r\n\r\n"
    ).encode() + body


def exchange(port: int, raw: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=600) as conn:
        conn.sendall(raw)
        answer = b""
        while b"\r\n" not in answer:
            piece = conn.recv(4096)
            if not piece:
                break
            answer += piece
    return int(answer.split(b" ", 2)[1])


def worker_peak_kib(pid: int) -> int:
    """VmHWM of the server's gunicorn worker (the serve process's child)."""
    children = [
        int(c)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for c in (task / "children").read_text().split()
    ]
    peaks = []
    for child in children or [pid]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]))
    return max(peaks)


def measure(raw: Callable[[], bytes]) -> tuple[int, int, int]:
    """(status, body bytes sent, worker peak KiB) for one request to a fresh server."""
    data = raw()
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        command = [str(BIN / "livability"), "serve", "--port", str(port)]
        with serving(command, {"LIVABILITY_HOME": home}, port) as pid:
            status = exchange(port, data)
            time.sleep(0.2)  # let the worker finish writing before /proc is read
            return status, len(data), worker_peak_kib(pid)


CASES: dict[str, Callable[[], bytes]] = {
    "baseline: empty push (one dead letter)": lambda: request(push(b"")),
    "largest accepted body: 10 MiB of valid rows (10,000 stored)": lambda: request(
        push(largest_rows())
    ),
    "10 MiB string (poison, kept whole in the bucket)": lambda: request(push(one_string())),
    "10 MiB of [{},{},...] (refused by the JSON counts)": lambda: request(push(empty_objects())),
    "gzip bomb: 14.8 MB of spaces in 15 KB (413 at 100:1)": lambda: request(
        gzip.compress(b" " * MAX_BODY_BYTES), "Content-Encoding: gzip\r\n"
    ),
    "Content-Length of 400 MB, no body (413)": lambda: request(b"", length=400_000_000),
}


def main() -> None:
    console = Console()
    title = "Event processor: peak RSS of the serve worker per request"
    measured = ((name, measure(raw)) for name, raw in CASES.items())
    console.print(_peaks(title, ("status", "body bytes"), measured))
    console.print(f"Body bound: {MAX_BODY_BYTES:,} bytes (livability/ingest/delivery.py).")
    main_archive(console)


def row_line(index: int, pad: int = 0) -> bytes:
    """A valid row as a line; with `pad`, padded to `pad` bytes with an undeclared field of
    random hex (2:1 in gzip, so the ratio cap is not what a large line meets)."""
    minute, second = divmod(index, 60)
    row = {
        "day": "2024-12-02",
        "timestamp": f"2024-12-02T{minute // 60:02d}:{minute % 60:02d}:{second:02d}Z",
        "data": {"mac": 42, "home_id": 3, "temperature": 20.5, "humidity": 48.0},
    }
    if pad:
        row["note"] = ""
        row["note"] = os.urandom(pad).hex()[: pad - len(json.dumps(row))]
    return json.dumps(row).encode() + b"\n"


def archive_of(pieces: Callable[[], Iterator[bytes]]) -> Callable[[Path], None]:
    """An archive of one export file holding `pieces` (streamed: this process stays small,
    and a child inherits its parent's peak RSS at fork on Linux)."""

    def write(root: Path) -> None:
        folder = root / "2024-12-02" / "sensor_thermo_beacon"
        folder.mkdir(parents=True)
        with gzip.open(folder / "000000000000.gz", "wb", compresslevel=1) as out:
            for piece in pieces():
                out.write(piece)

    return write


def one_long_line() -> Iterator[bytes]:
    for _ in range(128):  # 64 MiB of hex, then the newline
        yield os.urandom(1 << 18).hex().encode()
    yield b"\n"


ARCHIVES: dict[str, Callable[[Path], None]] = {
    "baseline: one row": archive_of(lambda: iter([row_line(0)])),
    "64 lines at the 1 MiB line cap (stored)": archive_of(
        lambda: (row_line(i, MAX_LINE_BYTES - 1) for i in range(64))
    ),
    "one 64 MiB line (refused at the line cap)": archive_of(one_long_line),
    "1,000,000 {} lines (dead-letter cap)": archive_of(lambda: (b"{}\n" for _ in range(10**6))),
    "gzip bomb: 1 GiB of newlines (ratio cap)": archive_of(
        lambda: (b"\n" * (1 << 20) for _ in range(1024))
    ),
}


# Linux hands a child its parent's resident size at fork as the start of its peak (ru_maxrss
# and VmHWM), and this process holds the large bodies above: a small launcher process starts
# each load and reports the load's own peak from wait4.
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def load_peak(write: Callable[[Path], None]) -> tuple[int, int, int]:
    """(exit status, compressed bytes, peak RSS KiB) of one `load-archive` in a fresh home."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        write(root)
        size = sum(p.stat().st_size for p in root.rglob("*.gz"))
        env = {**os.environ, "LIVABILITY_HOME": str(Path(folder) / "state")}
        command = [str(BIN / "livability"), "load-archive", str(root), "--json"]
        answer = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *command],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return int(answer[0]), size, int(answer[1])


def main_archive(console: Console) -> None:
    title = "load-archive: peak RSS of the process per archive"
    measured = ((name, load_peak(write)) for name, write in ARCHIVES.items())
    console.print(_peaks(title, ("exit", "gzip bytes"), measured))
    console.print(f"Line cap: {MAX_LINE_BYTES:,} bytes (livability/archive/format.py).")


def _peaks(
    title: str, columns: tuple[str, str], measured: Iterable[tuple[str, tuple[int, int, int]]]
) -> Table:
    """A table of (case, (status, input bytes, peak KiB)), each peak against the first case's."""
    table = Table(title=title)
    for column in ("case", *columns, "peak RSS MiB", "x baseline"):
        table.add_column(column, justify="left" if column == "case" else "right")
    baseline: float | None = None
    for name, (status, size, peak) in measured:
        baseline = baseline or peak
        table.add_row(
            name, str(status), f"{size:,}", f"{peak / 1024:.0f}", f"{peak / baseline:.2f}"
        )
    return table


SUITE = "bounds: peak RSS per body (serve) and per archive (load-archive) against a baseline"

if __name__ == "__main__":
    main()
