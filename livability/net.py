"""Local servers the platform starts for itself (`serve` under the demo, the stand-ins under
the tests): a free port to give them, and whether they answer yet. Local only."""

from __future__ import annotations

import http.client
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import ExitStack

_POLL = 0.1  # between probes of a starting server


class NotListeningError(RuntimeError):
    """A server process exited, or did not listen in time; the message says which."""


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_ports(count: int) -> tuple[int, ...]:
    """`count` distinct free ports of 127.0.0.1: every probe stays bound until all are picked,
    so a server given two of them (HTTP and gRPC) never gets the same port twice."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            probe = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            probe.bind(("127.0.0.1", 0))
            ports.append(int(probe.getsockname()[1]))
        return tuple(ports)


def answers(url: str) -> bool:
    """Whether a local server answers HTTP at `url`, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=1.0):  # noqa: S310 - http to 127.0.0.1
            return True
    except urllib.error.HTTPError:
        return True  # it answered, even if with an error status
    except (OSError, http.client.HTTPException):
        return False  # not listening yet, or not HTTP (a gRPC port answers with HTTP/2 frames)


def wait_listening(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    """Return once something accepts TCP connections on 127.0.0.1:`port`; raise
    `NotListeningError` as soon as `process` exits, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotListeningError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(_POLL)
            continue
        return
    raise NotListeningError(f"nothing listening on port {port} after {seconds:g} s")
