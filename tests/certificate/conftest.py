"""A simulated portfolio scored by the real model on the real embedded DuckDB, once per run.

Six homes (one of each archetype, then one more) for two weeks after a week of lead-in
(the running mean): rows as ingest stores them, scored by `scoring.job.run` week by week,
as the weekly job does. The certificates' tests render from this warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.sim import ARCHETYPES, make_homes, sensor_rows, weather_rows
from livability.sim.homes import Home
from schemas import ROW_ID, registry
from schemas.validation import validate_row
from scoring import job

FIRST_WEEK = date(2025, 1, 6)
WEEKS = (FIRST_WEEK, FIRST_WEEK + timedelta(weeks=1))
COMPUTED_AT = datetime(2025, 1, 20, 3, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Portfolio:
    path: Path  # the DuckDB file
    homes: list[Home]
    bucket: Path

    def warehouse(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(self.path, registry(), "sensor_data")


@pytest.fixture(scope="session")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portfolio]:
    folder = tmp_path_factory.mktemp("portfolio")
    homes = make_homes(len(ARCHETYPES) + 1, seed=3)
    start = datetime.combine(FIRST_WEEK - timedelta(days=7), datetime.min.time(), UTC)
    days = 21
    weather = {s: weather_rows(s, start, days, 3) for s in dict.fromkeys(h.site for h in homes)}
    raw = {
        "sensor_thermo_beacon": [
            r for h in homes for r in sensor_rows(h, weather[h.site], start, days, 3)
        ],
        "weather_data": [r for rows in weather.values() for r in rows],
    }
    result = Portfolio(folder / "warehouse.duckdb", homes, folder / "bucket")
    warehouse = result.warehouse()
    try:
        warehouse.init(registry())
        for table, rows in raw.items():
            valid = [validate_row(registry()[table], r) for r in rows]
            warehouse.load_rows(table, valid, [r[ROW_ID] for r in valid])
        bucket = LocalBucket(result.bucket)
        for week in WEEKS:
            job.run(warehouse, bucket, week, COMPUTED_AT)
    finally:
        warehouse.close()
    return result
