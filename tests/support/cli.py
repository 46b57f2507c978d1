"""The installed `livability` command run as a user runs it: its own process, a home of its
own and no other environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.server import LIVABILITY


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIVABILITY), *args],
        env={"LIVABILITY_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
