"""Fixtures for the FinOps tests: measurements of rows our own code produces."""

from __future__ import annotations

from typing import Any

import pytest

from livability import finops
from livability.cli import finops as command


@pytest.fixture(scope="session")
def simulated_rows() -> dict[str, list[dict[str, Any]]]:
    return command.sample_rows()


@pytest.fixture(scope="session")
def measured(simulated_rows: dict[str, list[dict[str, Any]]]) -> finops.Measurements:
    return command.measurements(simulated_rows)


@pytest.fixture(scope="session")
def book() -> finops.PriceBook:
    return finops.PriceBook.load()
