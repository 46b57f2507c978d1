"""Shared fixtures: an isolated state folder per test and the real archive from ../shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from livability.settings import Settings, shared_warehouse

ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = ROOT.parent / "shared" / "data" / "archive"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """LIVABILITY_HOME in a fresh folder, as every entry point reads it."""
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("LIVABILITY_DATASET", raising=False)
    yield Settings.from_env()
    shared_warehouse.cache_clear()


@pytest.fixture
def archive() -> Path:
    if not SHARED_ARCHIVE.is_dir():
        pytest.skip(f"the real archived week is not at {SHARED_ARCHIVE} (../shared is absent)")
    return SHARED_ARCHIVE
