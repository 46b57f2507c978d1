"""Fixtures of the warehouse contract suite: `blank` and `warehouse`, once per adapter (the
`backend` fixture of tests/support/warehouses.py)."""

from __future__ import annotations

import pytest

from livability.ports import Warehouse
from schemas import registry
from tests.support.warehouses import SENSOR, Backend, only_tables


@pytest.fixture
def blank(backend: Backend) -> Warehouse:
    """A warehouse whose tables were never created."""
    return backend.open()


@pytest.fixture
def warehouse(blank: Warehouse) -> Warehouse:
    """A warehouse with the sensor table and its de-duplicated view (all the tests use)."""
    blank.init(only_tables(registry(), SENSOR))
    return blank
