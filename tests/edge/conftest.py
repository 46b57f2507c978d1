"""Fixtures of the gateway tests (helpers are in support.py)."""

from __future__ import annotations

import pytest

from livability.sim.radio import VirtualTimeLoop


@pytest.fixture
def loop() -> VirtualTimeLoop:
    """An event loop on virtual time: hours of a gateway's life in a blink."""
    return VirtualTimeLoop()
