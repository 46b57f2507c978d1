"""`livability serve` as a subprocess: the console script, waiting for it, posting to it."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from livability.net import wait_listening

LIVABILITY = Path(sys.executable).parent / "livability"  # the console script
STARTUP_SECONDS = 30


def wait_until_listening(port: int, server: subprocess.Popen[bytes]) -> None:
    wait_listening(port, server, STARTUP_SECONDS)


def post(port: int, body: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=body.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
