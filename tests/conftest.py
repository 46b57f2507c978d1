"""Shared fixtures: an isolated state folder per test and the real archive from ../shared."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import flask.testing
import functions_framework
import pytest
from hypothesis import HealthCheck, settings

from livability.logs import LOGGERS
from livability.settings import Settings, shared_warehouse
from tests.support.paths import ROOT, SHARED_ARCHIVE

# Property tests judge behaviour, never speed: no per-example deadline and no "too slow" health
# check, which fail on a loaded machine (CI's 2 shared cores) for reasons that are not bugs.
settings.register_profile("livability", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("livability")

# Fixtures every folder may use: each warehouse adapter on a real backend.
pytest_plugins = ["tests.support.warehouses"]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """LIVABILITY_HOME in a fresh folder, as every entry point reads it."""
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("LIVABILITY_DATASET", raising=False)
    yield Settings.from_env()
    shared_warehouse.cache_clear()


@pytest.fixture
def client(settings: Settings) -> flask.testing.FlaskClient:
    """The event processor as the platform calls it: functions-framework's real WSGI app."""
    app = functions_framework.create_app(
        target="event_processor",
        source=str(ROOT / "functions" / "main.py"),
        signature_type="cloudevent",
    )
    return app.test_client()


@pytest.fixture(autouse=True)
def unconfigured_logging() -> Iterator[None]:
    """Each test starts, as a fresh process does, with the platform's logging not set up."""
    yield
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


@pytest.fixture
def archive() -> Path:
    if not SHARED_ARCHIVE.is_dir():
        pytest.skip(f"the real archived week is not at {SHARED_ARCHIVE} (../shared is absent)")
    return SHARED_ARCHIVE
