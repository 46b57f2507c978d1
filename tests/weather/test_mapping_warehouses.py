"""The poller's rows on every warehouse: DuckDB and the BigQuery stand-in (`local-bigquery`).

Uses the backends of the contract suite (tests/contract/conftest.py; BigQuery skips with
its reason where no Python 3.13 exists). Checks that `observed_at` is an additive change: a
`weather_data` table created before it gains the column, the rows stored before keep NULL
and their row ids, and the poller's rows read back with it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

from livability.weather.locations import Location
from livability.weather.mapping import to_row
from schemas import Registry, registry
from schemas.validation import validate_row
from tests.support.warehouses import Backend, backend, bigquery_endpoint
from tests.weather.owm_bodies import ARCHIVE_LINE, LUTON

__all__ = ["backend", "bigquery_endpoint"]  # fixtures, imported for pytest

TABLE = "weather_data"
SQL = """
SELECT observed_at, data.temperature AS temperature, row_id
FROM {dataset}.weather_data_dedup WHERE day BETWEEN @first AND @last
"""


def before_observed_at() -> Registry:
    """The contract as it was at weather_data version 2: no observed_at."""
    current = registry()[TABLE]
    old = dataclasses.replace(
        current,
        version=2,
        fields=tuple(f for f in current.fields if f.name != "observed_at"),
        identity_excludes=(),
        ranges={k: v for k, v in current.ranges.items() if k != "observed_at"},
    )
    return Registry({TABLE: old}, registry().directory)


def test_observed_at_is_added_to_a_table_that_predates_it(backend: Backend) -> None:
    old_contract = before_observed_at()
    old = backend.open(old_contract)
    old.init(old_contract)
    archived = validate_row(old_contract[TABLE], json.loads(ARCHIVE_LINE))
    old.insert_rows(TABLE, [archived], [archived["row_id"]])

    new = backend.open()
    current = Registry({TABLE: registry()[TABLE]}, registry().directory)
    changes = {c.name: c.action for c in new.init(current)}
    polled = validate_row(registry()[TABLE], to_row(LUTON, Location(51.9, -0.4)))
    new.insert_rows(TABLE, [polled], [polled["row_id"]])
    rows = new.query(
        SQL.format(dataset=backend.dataset),
        {"first": date(2024, 12, 1), "last": date(2024, 12, 1)},
    ).to_pylist()

    assert changes[TABLE] == "columns added"
    # The archived row keeps its key under the new contract.
    assert validate_row(registry()[TABLE], json.loads(ARCHIVE_LINE))["row_id"] == archived["row_id"]
    assert sorted((r["row_id"], r["observed_at"], r["temperature"]) for r in rows) == sorted(
        [
            (polled["row_id"], datetime(2024, 12, 1, 11, 10, tzinfo=UTC), 11.5),
            (archived["row_id"], None, 11.5),
        ],
        key=lambda row: str(row[0]),
    )
