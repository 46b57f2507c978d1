"""Where the project and the shared data are. A plain module, not `conftest`: each test folder
may have a conftest of its own, and only one module can be named `conftest` at a time."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = ROOT.parent / "shared" / "data" / "archive"
