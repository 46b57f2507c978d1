"""`livability serve` over a real socket: what only a real server shows. A body cut short (fewer
bytes than its Content-Length, or a chunked body without its last chunk) is a 400 to retry,
never a dead letter (issue 17 #10); a body over the bound is a 413 before it is read, whether
its Content-Length says so or a chunked body passes it; the README's curl works.

The server is the real one (functions-framework's gunicorn), started once for this module.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livability.ingest.delivery import MAX_BODY_BYTES
from livability.net import free_port
from livability.settings import Settings
from tests.support.pubsub import binary_headers, push_body
from tests.support.server import LIVABILITY, wait_until_listening

READING = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T15:00:00Z",
    "data": {"mac": 42, "home_id": 3, "temperature": 20.5, "humidity": 48.0},
}
PUSH = json.dumps(push_body([READING])).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    home = tmp_path_factory.mktemp("serve") / "state"
    port = free_port()
    env = {**os.environ, "LIVABILITY_HOME": str(home)}
    env.pop("LIVABILITY_WAREHOUSE", None)
    proc = subprocess.Popen(
        [str(LIVABILITY), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(port, proc)
        yield port, home
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def exchange(port: int, head: bytes, body: bytes = b"", *, finish: bool = True) -> tuple[int, Any]:
    """Send `head` + `body` on a fresh connection; with `finish`, close our sending side (the
    sender is gone). Returns the status and the JSON answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head + body)
        if finish:
            conn.shutdown(socket.SHUT_WR)
        return read_answer(conn)


def read_answer(conn: socket.socket) -> tuple[int, Any]:
    received = b""
    while b"\r\n\r\n" not in received:
        piece = conn.recv(65536)
        assert piece, f"connection closed before an answer: {received!r}"
        received += piece
    head, _, rest = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        piece = conn.recv(65536)
        assert piece, "connection closed mid-answer"
        rest += piece
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(rest[:length])


def head(length: int | None, extra: str = "") -> bytes:
    sizing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{sizing}\r\n{extra}\r\n"
    ).encode()


def chunked(data: bytes, size: int = 4096) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def dead_letters(home: Path) -> int:
    """Dead letters in the server's warehouse (read while it idles: it releases the file)."""
    warehouse = Settings(home=home).open_warehouse()
    try:
        return int(
            warehouse.query("SELECT count(*) AS n FROM sensor_data.dead_letter")
            .column("n")[0]
            .as_py()
        )
    finally:
        warehouse.close()


def test_a_whole_push_lands_and_chunked_works_too(served: tuple[int, Path]) -> None:
    port, _ = served
    assert exchange(port, head(len(PUSH)), PUSH)[0] == 200
    assert exchange(port, head(None), chunked(PUSH, 100))[0] == 200


def test_a_body_cut_short_is_a_400_to_retry_and_no_dead_letter(served: tuple[int, Path]) -> None:
    port, home = served
    before = dead_letters(home)
    short = exchange(port, head(len(PUSH)), PUSH[: len(PUSH) // 2])
    cut_chunked = exchange(port, head(None), chunked(PUSH, 50)[:120])
    assert (short[0], short[1]["retry"], cut_chunked[0], cut_chunked[1]["retry"]) == (
        400,
        True,
        400,
        True,
    )
    assert short[1]["error"] == (
        f"the body was cut off: {len(PUSH) // 2:,} of the {len(PUSH):,} bytes its "
        "Content-Length announced arrived"
    )
    assert dead_letters(home) == before


def test_a_content_length_over_the_bound_is_refused_before_the_body_is_sent(
    served: tuple[int, Path],
) -> None:
    port, _ = served
    # 400 MB announced, nothing sent and the connection kept open: the answer comes anyway.
    status, answer = exchange(port, head(400_000_000), finish=False)
    assert (status, answer["retry"]) == (413, False)


def test_a_chunked_body_is_cut_off_once_it_passes_the_bound(served: tuple[int, Path]) -> None:
    port, _ = served
    block = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:

        def send() -> None:
            try:  # the server stops reading at the bound; the rest may never be taken
                conn.sendall(head(None))
                for _ in range(MAX_BODY_BYTES // (1 << 20) + 40):
                    conn.sendall(block)
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        status, answer = read_answer(conn)
    assert (status, answer["retry"]) == (413, False)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_stores_rows(served: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = served
    rows = tmp_path / "rows.json"
    second = {**READING, "timestamp": "2024-11-29T15:05:00Z"}
    rows.write_text(json.dumps([READING, second]))
    url = f"http://127.0.0.1:{port}"
    result = subprocess.run(
        ["curl", "-sS", "--data-binary", f"@{rows}", f"{url}/?table=sensor_thermo_beacon"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["loaded"] + answer["duplicates"]) == (200, 2)


def test_a_gzip_push_in_binary_mode_lands(served: tuple[int, Path]) -> None:
    port, _ = served
    other = json.dumps(push_body([{**READING, "timestamp": "2024-11-29T15:09:00Z"}])).encode()
    data = gzip.compress(other)
    extra = "".join(f"{k}: {v}\r\n" for k, v in binary_headers("gz").items())
    status, answer = exchange(port, head(len(data), extra + "Content-Encoding: gzip\r\n"), data)
    assert (status, answer["loaded"]) == (200, 1)
