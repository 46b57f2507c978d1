"""Fixtures for the FinOps tests: measurements of rows our own code produces."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from livability.cli import finops as command
from livability.finops import model as finops


@pytest.fixture(scope="session")
def simulated_rows() -> dict[str, list[dict[str, Any]]]:
    return command.sample_rows()


@pytest.fixture(scope="session")
def measured(simulated_rows: dict[str, list[dict[str, Any]]]) -> finops.Measurements:
    return command.measurements(simulated_rows)


@pytest.fixture(scope="session")
def book() -> finops.PriceBook:
    return finops.PriceBook.load()


def read_week(archive: Path, table: str) -> list[dict[str, Any]]:
    """The rows of the real archived week, as BigQuery exported them."""
    rows = []
    for path in sorted((archive / "2024-12-01" / table).glob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows
