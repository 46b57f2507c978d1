"""The Cloud Storage stand-in (`gcp-storage-emulator`, PyPI), started and stopped for tests.

Local only, never shipped to a function. It runs as its own process, in memory (`-M`), on
a free port of 127.0.0.1; `STORAGE_EMULATOR_HOST` (or `GCSBucket(..., emulator=...)`) points
a client at `StorageEmulator.host`. What it does and does not enforce: ../shared/EMULATORS.md.

    with storage_emulator(log_dir) as emulator:
        GCSBucket("b", emulator=emulator.host)
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from livability.net import answers, free_port

START_TIMEOUT = 30.0  # seconds for the stand-in to answer; it starts in well under 1 s
STOP_TIMEOUT = 10.0
_ARGS = ("--host", "127.0.0.1", "--port")
_POLL = 0.05  # between readiness probes, spent waiting on the process (it may exit)


class StorageEmulatorError(RuntimeError):
    """The stand-in could not be started."""


@dataclass(frozen=True)
class StorageEmulator:
    host: str  # http://127.0.0.1:PORT, the form STORAGE_EMULATOR_HOST takes
    port: int
    process: subprocess.Popen[bytes]


def _answers(host: str) -> bool:
    return answers(f"{host}/storage/v1/b")


def start(log_dir: Path, port: int | None = None) -> StorageEmulator:
    """Start the stand-in and return once it answers HTTP; its log goes to `log_dir`."""
    port = port or free_port()
    host = f"http://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"storage-emulator-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", *_ARGS, str(port), "-M"],
            cwd=log_dir,  # it would keep state under ./.cloudstorage without -M
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(host):
        try:
            code = process.wait(timeout=_POLL)
        except subprocess.TimeoutExpired:
            if time.monotonic() < deadline:
                continue
            stop(process)
            raise StorageEmulatorError(
                f"gcp-storage-emulator did not answer on {host} within {START_TIMEOUT:.0f} s; "
                f"log: {log_path}"
            ) from None
        tail = log_path.read_text(errors="replace")[-2000:]
        raise StorageEmulatorError(f"gcp-storage-emulator exited with {code}: {tail}")
    return StorageEmulator(host, port, process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the stand-in and reap it (killed if it does not exit in time)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def storage_emulator(log_dir: Path) -> Iterator[StorageEmulator]:
    """A running stand-in for the duration of the block."""
    emulator = start(log_dir)
    try:
        yield emulator
    finally:
        stop(emulator.process)
