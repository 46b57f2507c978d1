"""The model's SQL and its publishing guarantee on every warehouse.

Runs against the real embedded DuckDB and the real local BigQuery stand-in (`local-bigquery`,
through google-cloud-bigquery and the platform's adapter): the same hand-built week is
stored in both, scored by the same SQL (transpiled for DuckDB), and the vectors compared;
then the week is re-scored after late data, on each backend, and one vector remains.
The weekly function runs as Cloud Scheduler calls it: functions-framework's app over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import polars.testing
import pytest

from livability import weeks
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.ports import Warehouse
from livability.settings import shared_warehouse
from schemas import ROW_ID, registry
from schemas.validation import validate_row
from scoring import job, sql
from scoring.model import hourly_series, score_week
from tests.scoring import hand_built
from tests.scoring.hand_built import local_readings
from tests.scoring.weeks import WEEK, moment, sensor_row, steady, weather
from tests.support.paths import ROOT
from tests.support.warehouses import (
    bigquery_endpoint,
    bigquery_warehouse,
    drop_dataset,
    initialised,
    new_dataset,
    only_tables,
)

__all__ = ["bigquery_endpoint"]  # the stand-in, started once per session
TABLES = ("sensor_thermo_beacon", "weather_data", "livability_scores", "sensor_hours")
COUNT_SQL = (
    "SELECT home_id, COUNT(*) AS n, MAX(score) AS score FROM {dataset}.livability_scores_dedup "
    "WHERE week_start = @week GROUP BY home_id ORDER BY home_id"
)


def readings(hours: range) -> list[dict[str, Any]]:
    """Two homes: one cold and damp, one comfortable with two sensors."""
    cold = steady(16.5, 70.0, hours=hours, home_id=1, mac=11)
    warm = steady(21.0, 45.0, hours=hours, home_id=2, mac=21)
    second = steady(20.0, 50.0, hours=hours, home_id=2, mac=22, every_minutes=5)
    return [sensor_row(r) for r in cold + warm + second]


def load(warehouse: Warehouse, sensor: list[dict[str, Any]], outdoor: list[dict[str, Any]]) -> None:
    for table, raw in (("sensor_thermo_beacon", sensor), ("weather_data", outdoor)):
        rows = [validate_row(registry()[table], r) for r in raw]
        warehouse.load_rows(table, rows, [r[ROW_ID] for r in rows])


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    yield from initialised(request, tmp_path, *TABLES)


def test_rescoring_a_week_replaces_and_never_duplicates(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load(warehouse, readings(range(120)), weather(7.5))
    bucket = LocalBucket(tmp_path / "bucket")
    first = job.run(warehouse, bucket, WEEK, datetime(2025, 1, 13, 3, tzinfo=UTC))
    assert first.new_rows == 2
    again = job.run(warehouse, bucket, WEEK, datetime(2025, 1, 13, 4, tzinfo=UTC))
    assert (again.new_rows, again.replaced) == (0, 0)  # unchanged data: nothing added
    # Late data arrives for the rest of the week; the re-score replaces both vectors.
    load(warehouse, readings(range(120, 168)), [])
    late = job.run(warehouse, bucket, WEEK, datetime(2025, 1, 14, 3, tzinfo=UTC))
    assert (late.new_rows, late.replaced) == (2, 2)
    stored = warehouse.query(
        COUNT_SQL.format(dataset=warehouse.dataset), {"week": WEEK}
    ).to_pylist()
    assert [(r["home_id"], r["n"]) for r in stored] == [(1, 1), (2, 1)]
    assert [r["score"] for r in stored] == late.vectors.sort("home_id")["score"].to_list()
    assert [r["score"] for r in stored] != first.vectors.sort("home_id")["score"].to_list()


def test_the_sql_gives_the_same_vectors_on_bigquery_and_duckdb(
    bigquery_endpoint: str, tmp_path: Path
) -> None:
    tables = only_tables(registry(), *TABLES)
    # A third home in Tokyo, bedroom and bathroom, hot at local night: its own local week.
    tokyo = [
        sensor_row(r)
        for r in local_readings(
            lambda t: (27.0 if t.hour < 7 else 21.0, 50.0), zone="Asia/Tokyo", room="bedroom"
        )
        + local_readings(
            lambda t: (21.0, 90.0 if t.hour in (7, 21) else 55.0),
            zone="Asia/Tokyo",
            room="bathroom",
            mac=32,
        )
    ]
    for row in tokyo:
        row["data"]["home_id"] = 3
    sensor = readings(range(168)) + tokyo
    outdoor = weather([5.0 + 4 * ((h % 24) / 24) for h in range(168)]) + hand_built.outdoor(
        lambda t: 4.0 + t.hour / 6, zone="Asia/Tokyo"
    )
    duck = DuckDBWarehouse(tmp_path / "w.duckdb", tables, "sensor_data")
    dataset = new_dataset()
    bigquery = bigquery_warehouse(bigquery_endpoint, tables, dataset)
    try:
        duck.init(tables)
        bigquery.init(tables)
        load(duck, sensor, outdoor)
        load(bigquery, sensor, outdoor)
        assert sql.dialect_of(duck) == "duckdb"
        assert sql.dialect_of(bigquery) == "bigquery"
        on_duckdb = score_week(duck, WEEK)
        on_bigquery = score_week(bigquery, WEEK)
        hourly = [
            hourly_series(w, WEEK, home).sort("mac", "hour")
            for home in (2, 3)
            for w in (duck, bigquery)
        ]
    finally:
        duck.close()
        bigquery.close()
        drop_dataset(bigquery_endpoint, dataset)
    assert on_duckdb.height == 3
    assert on_duckdb["time_zone"].to_list() == ["Europe/London", "Europe/London", "Asia/Tokyo"]
    polars.testing.assert_frame_equal(on_bigquery, on_duckdb)
    polars.testing.assert_frame_equal(hourly[1], hourly[0], check_dtypes=False)
    polars.testing.assert_frame_equal(hourly[3], hourly[2], check_dtypes=False)


def test_the_weekly_function_scores_the_last_complete_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    week = weeks.last_complete_week(datetime.now(UTC).date())
    sensor = [sensor_row(r) for r in steady(21.0, 45.0, hours=range(0, 168, 2))]
    shift = timedelta(days=(week - WEEK).days)
    for row in sensor:
        at = datetime.fromisoformat(row["timestamp"]) + shift
        row["timestamp"] = at.isoformat().replace("+00:00", "Z")
        row["day"] = at.date().isoformat()
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("LIVABILITY_WAREHOUSE", raising=False)
    monkeypatch.delenv("LIVABILITY_BUCKET", raising=False)
    shared_warehouse.cache_clear()
    warehouse = DuckDBWarehouse(tmp_path / "state" / "warehouse.duckdb", registry(), "sensor_data")
    warehouse.init(registry())
    load(warehouse, sensor, [])
    warehouse.close()
    app = functions_framework.create_app(
        target="weekly_score",
        source=str(ROOT / "functions" / "weekly_score.py"),
        signature_type="http",
    )
    client = app.test_client()
    response = client.post("/")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["week_start"] == week.isoformat()
    assert (body["homes"], body["new_rows"], body["provisional"]) == (1, 1, 1)
    assert body["uri"].endswith(f"scores/{week.isoformat()}/scores.ndjson")
    stored = json.loads(
        (tmp_path / "state" / "bucket" / "scores" / week.isoformat() / "scores.ndjson").read_text()
    )
    assert stored["week_start"] == week.isoformat()
    bad = client.post("/", json={"week": "2025-13-01"})
    assert bad.status_code == 400
    assert bad.get_json() == {"error": "week: '2025-13-01' is not a date (YYYY-MM-DD)"}
    assert moment(0) < moment(1)
