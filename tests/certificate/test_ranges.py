"""The daily ranges per room and a week's pages on every warehouse.

Runs against the real embedded DuckDB and the real local BigQuery stand-in (`local-bigquery`
through google-cloud-bigquery and the platform's adapter), the same hand-built week in both
(tests/scoring's helpers): `scoring.ranges.daily_ranges` must give the same rows, and the
pages (vectors, history and ranges read back through the `_dedup` views, with BigQuery's
partition filters) the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import polars.testing

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.certificate import publish
from schemas import registry
from scoring import job
from scoring.ranges import daily_ranges
from tests.certificate.conftest import WEEKS, Portfolio
from tests.scoring.test_scoring_warehouses import TABLES, load, readings
from tests.scoring.weeks import WEEK, weather
from tests.support.warehouses import (
    bigquery_endpoint,
    bigquery_warehouse,
    drop_dataset,
    new_dataset,
    only_tables,
)

__all__ = ["bigquery_endpoint"]  # the stand-in, started once per session


def test_ranges_and_pages_are_the_same_on_bigquery_and_duckdb(
    bigquery_endpoint: str, tmp_path: Path
) -> None:
    tables = only_tables(registry(), *TABLES)
    outdoor = weather([5.0 + 4 * ((h % 24) / 24) for h in range(168)])
    duck = DuckDBWarehouse(tmp_path / "w.duckdb", tables, "sensor_data")
    dataset = new_dataset()
    bigquery = bigquery_warehouse(bigquery_endpoint, tables, dataset)
    ranges, pages = [], []
    try:
        for warehouse, name in ((duck, "duckdb"), (bigquery, "bigquery")):
            warehouse.init(tables)
            load(warehouse, readings(range(168)), outdoor)
            bucket = LocalBucket(tmp_path / name)
            done = job.run(warehouse, bucket, WEEK, datetime(2025, 1, 13, 3, tzinfo=UTC))
            ranges.append(daily_ranges(warehouse, WEEK))
            # The weekly job's ranges come from its own daily rows (from the rollup), not
            # from a second read of the week: the same rows as a read of the raw readings,
            # and as a read of the rollup.
            assert done.ranges is not None
            polars.testing.assert_frame_equal(done.ranges, ranges[-1])
            polars.testing.assert_frame_equal(daily_ranges(warehouse, WEEK, "rollup"), ranges[-1])
            pages.append(publish.week_pages(warehouse, WEEK))
    finally:
        duck.close()
        bigquery.close()
        drop_dataset(bigquery_endpoint, dataset)
    on_duckdb, on_bigquery = ranges
    polars.testing.assert_frame_equal(on_bigquery, on_duckdb, check_dtypes=False)
    # Home 1: one sensor at a steady 16.5 °C, every hour of 7 days below 18 °C.
    cold = on_duckdb.filter(pl.col("home_id") == 1)
    assert cold["d"].to_list() == list(range(7))
    assert set(cold["t_min"].round(2)) == set(cold["t_max"].round(2)) == {16.5}
    assert cold["cold_hours"].to_list() == [24] * 7
    # Home 2: two sensors, 21 and 20 °C; outdoor 5-8.8 °C each day.
    warm = on_duckdb.filter(pl.col("home_id") == 2)
    assert sorted(set(warm["t_max"].round(2))) == [20.0, 21.0]
    assert warm["t_out_min"].min() == 5.0
    assert warm["t_out_max"].max() < 9.0
    assert sorted(pages[0].files) == ["1.html", "2.html", "index.html"]
    assert pages[0].files == pages[1].files


def test_the_same_readings_give_the_same_ranges_run_after_run(portfolio: Portfolio) -> None:
    """DuckDB adds an hour's readings up in any order (parallel aggregation), so the means'
    last bits vary between runs (about one run in seven differed before the ranges were
    rounded); the pages must not: the same week gives byte-identical certificates."""
    warehouse = portfolio.warehouse()
    try:
        first = daily_ranges(warehouse, WEEKS[-1])
        runs = [daily_ranges(warehouse, WEEKS[-1]) for _ in range(20)]
    finally:
        warehouse.close()
    assert first.height > 0
    for again in runs:
        polars.testing.assert_frame_equal(again, first, check_exact=True)
