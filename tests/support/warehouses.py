"""Every warehouse adapter on a real backend, for any folder's tests (a pytest plugin that
tests/conftest.py loads): `backend` runs a test once per adapter, DuckDB in a fresh file and
BigQuery on the real local stand-in (`local-bigquery` in its own Python 3.13 venv, started
once per session as `bigquery_endpoint`) with a fresh dataset per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from livability.adapters.bigquery import BigQueryWarehouse
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.ports import Warehouse
from schemas import Registry, registry
from tests.support.paths import ROOT
from tools.emulators import bigquery_emulator_python, running_bigquery

PROJECT = "test-proj"
DATASET = "sensor_data"
DEADLINE = 8.0  # seconds of retries: an emulator 500 would otherwise retry for minutes
BACKENDS = ("duckdb", "bigquery")
NO_EMULATOR = "no Python 3.13 interpreter for local-bigquery"
SENSOR = "sensor_thermo_beacon"


@pytest.fixture(scope="session")
def bigquery_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local BigQuery stand-in, started once per session: its http://127.0.0.1:PORT."""
    if bigquery_emulator_python() is None:
        pytest.skip(NO_EMULATOR)
    with running_bigquery(ROOT / ".emulators", tmp_path_factory.mktemp("local-bigquery")) as url:
        yield url


def bigquery_warehouse(endpoint: str, schemas: Registry, dataset: str) -> BigQueryWarehouse:
    return BigQueryWarehouse(PROJECT, dataset, schemas, emulator=endpoint, deadline=DEADLINE)


def new_dataset() -> str:
    return f"contract_{uuid.uuid4().hex[:12]}"


def drop_dataset(endpoint: str, dataset: str) -> None:
    """Drop a test's dataset: the stand-in slows down with every live table it holds."""
    warehouse = bigquery_warehouse(endpoint, registry(), dataset)
    try:
        warehouse.client.delete_dataset(
            f"{PROJECT}.{dataset}", delete_contents=True, not_found_ok=True
        )
    finally:
        warehouse.close()


def initialised(
    request: pytest.FixtureRequest, tmp_path: Path, *tables: str
) -> Iterator[Warehouse]:
    """For a fixture with `params=BACKENDS`: a warehouse initialised with `tables` of the
    contract, on DuckDB (in `tmp_path`) or on the BigQuery stand-in (a new dataset, dropped
    after)."""
    schemas = only_tables(registry(), *tables)
    if request.param == "duckdb":
        found: Warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", schemas, "sensor_data")
        found.init(schemas)
        yield found
        found.close()
        return
    endpoint = request.getfixturevalue("bigquery_endpoint")
    dataset = new_dataset()
    found = bigquery_warehouse(endpoint, schemas, dataset)
    found.init(schemas)
    yield found
    found.close()
    drop_dataset(endpoint, dataset)


def only_tables(schemas: Registry, *names: str) -> Registry:
    """`schemas` cut down to `names`: each table costs the stand-in a few API calls."""
    return Registry({name: schemas[name] for name in names}, schemas.directory)


@dataclass
class Backend:
    """One adapter on its own storage; `open` gives another warehouse on the same storage."""

    name: str
    dataset: str
    opener: Callable[[Registry], Warehouse]
    cleanup: Callable[[], None] = lambda: None
    opened: list[Warehouse] = field(default_factory=list)

    def open(self, schemas: Registry | None = None) -> Warehouse:
        warehouse = self.opener(schemas or registry())
        self.opened.append(warehouse)
        return warehouse

    def close(self) -> None:
        for warehouse in self.opened:
            warehouse.close()
        self.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"
        found = Backend("duckdb", DATASET, lambda schemas: DuckDBWarehouse(path, schemas, DATASET))
    else:
        endpoint = request.getfixturevalue("bigquery_endpoint")
        dataset = new_dataset()
        found = Backend(
            "bigquery",
            dataset,
            lambda schemas: bigquery_warehouse(endpoint, schemas, dataset),
            lambda: drop_dataset(endpoint, dataset),
        )
    yield found
    found.close()
