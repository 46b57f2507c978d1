"""The platform on BigQuery, end to end: the event processor and the weekly scoring job.

Runs against the real local BigQuery stand-in (`local-bigquery`, through google-cloud-bigquery)
and, for comparison, the real embedded DuckDB. The event processor runs as the platform
calls it: functions-framework's WSGI app, configured by the environment
(`LIVABILITY_WAREHOUSE=bigquery://...`, `BIGQUERY_EMULATOR_HOST`) and fed Pub/Sub push bodies.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import functions_framework
import polars as pl
import polars.testing
import pytest

from livability.adapters.bigquery import BigQueryWarehouse
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.ingest.rows import DEAD_LETTER, ingest_rows
from livability.ports import Warehouse
from livability.settings import Settings, shared_warehouse
from livability.sim import make_homes, sensor_rows, weather_rows
from schemas import ROW_ID, SCHEMA_DIR, Registry, registry
from schemas.validation import validate_row
from scoring import job
from tests.support.paths import ROOT
from tests.support.pubsub import binary_headers, push_body
from tests.support.warehouses import (
    PROJECT,
    SENSOR,
    bigquery_warehouse,
    drop_dataset,
    new_dataset,
    only_tables,
)

RECEIVED = datetime(2024, 11, 29, 14, 40, tzinfo=UTC)
DAY = {"first": date(2024, 11, 29), "last": date(2024, 11, 29)}
VALID: list[dict[str, Any]] = [
    {
        "day": "2024-11-29",
        "timestamp": f"2024-11-29T14:{minute:02d}:00Z",
        "data": {"mac": 123, "home_id": 7, "temperature": 21.0 + minute / 10, "humidity": 50.0},
    }
    for minute in (10, 20)
]
TOO_HOT = {**VALID[0], "data": {**VALID[0]["data"], "temperature": 99.0}}
SENSOR_SQL = (
    "SELECT timestamp, data.temperature AS temperature FROM {dataset}.sensor_thermo_beacon_dedup "
    "WHERE day BETWEEN @first AND @last ORDER BY timestamp"
)
DEAD_SQL = (
    "SELECT message_id, target_table, reason, payload FROM {dataset}.dead_letter_dedup "
    "WHERE day >= @first ORDER BY reason"
)
WEEK = date(2025, 1, 6)  # a Monday in winter: the heating season is scored
COMPUTED_AT = datetime(2025, 1, 13, 6, 0, tzinfo=UTC)
SCORES_SQL = (
    "SELECT * EXCEPT (computed_at, row_id) FROM {dataset}.livability_scores_dedup "
    "WHERE week_start = @week ORDER BY home_id"
)


def read(warehouse: Warehouse, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows = warehouse.query(sql.format(dataset=warehouse.dataset), params).to_pylist()
    return rows  # type: ignore[no-any-return]


@pytest.fixture
def dataset(bigquery_endpoint: str) -> Iterator[str]:
    name = new_dataset()
    yield name
    drop_dataset(bigquery_endpoint, name)


@pytest.fixture
def bigquery(bigquery_endpoint: str, dataset: str) -> Iterator[BigQueryWarehouse]:
    warehouse = bigquery_warehouse(bigquery_endpoint, registry(), dataset)
    yield warehouse
    warehouse.close()


# --- the event processor ---


@pytest.fixture
def processor(
    bigquery: BigQueryWarehouse,
    bigquery_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Any]:
    """The deployed function's app, configured as Cloud Functions would configure it."""
    bigquery.init(only_tables(registry(), SENSOR, DEAD_LETTER))  # `make deploy` does this
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LIVABILITY_WAREHOUSE", f"bigquery://{PROJECT}/{bigquery.dataset}")
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bigquery_endpoint.removeprefix("http://"))
    shared_warehouse.cache_clear()
    app = functions_framework.create_app(
        target="event_processor",
        source=str(ROOT / "functions" / "main.py"),
        signature_type="cloudevent",
    )
    yield app.test_client()
    shared_warehouse(Settings.from_env()).close()
    shared_warehouse.cache_clear()


def test_processor_lands_valid_rows_and_dead_letters_invalid_ones_on_bigquery(
    processor: Any, bigquery: BigQueryWarehouse
) -> None:
    body = push_body([*VALID, TOO_HOT], {"table_id": SENSOR}, message_id="m-1")
    for _ in range(2):  # a redelivery changes nothing readers see
        assert processor.post("/", json=body, headers=binary_headers("m-1")).status_code == 200
    assert isinstance(shared_warehouse(Settings.from_env()), BigQueryWarehouse)
    assert read(bigquery, SENSOR_SQL, DAY) == [
        {"timestamp": datetime(2024, 11, 29, 14, 10, tzinfo=UTC), "temperature": 22.0},
        {"timestamp": datetime(2024, 11, 29, 14, 20, tzinfo=UTC), "temperature": 23.0},
    ]
    assert read(bigquery, DEAD_SQL, {"first": date(2000, 1, 1)}) == [
        {
            "message_id": "m-1",
            "target_table": SENSOR,
            "reason": "row 2: data.temperature: 99.0 is outside the physical range -40..85",
            "payload": json.dumps(TOO_HOT),
        }
    ]


def test_row_bigquery_refuses_is_dead_lettered_with_its_reason(
    bigquery: BigQueryWarehouse, tmp_path: Path
) -> None:
    """A row the validator passes but BigQuery refuses is not lost (the reference lost it).

    The contract here says `timestamp` is NULLABLE while the table requires it: the only way
    to reach BigQuery's per-row refusal with rows that passed validation.
    """
    bigquery.init(only_tables(registry(), SENSOR, DEAD_LETTER))
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    fields = json.loads((folder / f"{SENSOR}.json").read_text())
    next(f for f in fields if f["name"] == "timestamp")["mode"] = "NULLABLE"
    (folder / f"{SENSOR}.json").write_text(json.dumps(fields))
    lenient = Registry.load(folder)[SENSOR]
    no_timestamp = {k: v for k, v in VALID[1].items() if k != "timestamp"}

    result = ingest_rows(
        bigquery, lenient, [VALID[0], no_timestamp], source="m-2", received_at=RECEIVED
    )

    assert (result.loaded, result.rejected, result.duplicates) == (1, 1, 0)
    [dead] = read(bigquery, DEAD_SQL, {"first": date(2000, 1, 1)})
    assert dead["reason"] == (
        "row 1: refused by the warehouse: invalid: Missing required field: timestamp. (timestamp)"
    )
    assert json.loads(dead["payload"])["data"]["temperature"] == 23.0


DEAD_LETTER_DAYS = (
    (date(2024, 11, 29), "08:00:00", "m-first"),
    (date(2024, 11, 29), "08:30:00", "m-again"),  # redelivered the same day
    (date(2024, 12, 3), "08:00:00", "m-later"),  # and again four days later
)
DEAD_DAY_SQL = (
    "SELECT day, message_id FROM {dataset}.dead_letter_dedup "
    "WHERE day BETWEEN @first AND @last ORDER BY day"
)


def _poison_rows() -> list[dict[str, Any]]:
    rows = []
    for day, time_, message_id in DEAD_LETTER_DAYS:
        rejection = {
            "day": day.isoformat(),
            "received_at": f"{day.isoformat()}T{time_}Z",
            "message_id": message_id,
            "target_table": None,
            "reason": "message.data: not JSON",
            "payload": "{oops",
        }
        rows.append(validate_row(registry()[DEAD_LETTER], rejection))
    return rows


def test_a_poison_message_redelivered_is_one_dead_letter_per_day_on_both_backends(
    bigquery: BigQueryWarehouse, tmp_path: Path
) -> None:
    """A dead letter's key covers the day it arrived (the partition column), so the view keeps
    one row per key with a partition filter: a same-day redelivery is one row, a redelivery
    on another day is that day's dead letter. Past insertId's window BigQuery stores each copy;
    the view shows what DuckDB's primary key stores, the earliest copy of each key."""
    bigquery.init(only_tables(registry(), DEAD_LETTER))
    rows = _poison_rows()
    for row, (_, _, insert_id) in zip(rows, DEAD_LETTER_DAYS, strict=True):
        # A new insertId each time: what BigQuery sees after its de-duplication window.
        errors = bigquery.client.insert_rows_json(
            f"{bigquery.project}.{bigquery.dataset}.{DEAD_LETTER}",
            [{k: v.isoformat() if isinstance(v, (date, datetime)) else v for k, v in row.items()}],
            row_ids=[insert_id],
        )
        assert errors == []
    duck = DuckDBWarehouse(tmp_path / "w.duckdb", registry(), "sensor_data")
    duck.init(only_tables(registry(), DEAD_LETTER))
    for row in rows:
        duck.insert_rows(DEAD_LETTER, [row], [row[ROW_ID]])
    span = {"first": date(2024, 11, 29), "last": date(2024, 12, 3)}
    stored = read(
        bigquery,
        "SELECT count(*) AS n FROM {dataset}.dead_letter WHERE day BETWEEN @first AND @last",
        span,
    )
    expected = [
        {"day": date(2024, 11, 29), "message_id": "m-first"},
        {"day": date(2024, 12, 3), "message_id": "m-later"},
    ]
    assert stored == [{"n": 3}]
    assert read(bigquery, DEAD_DAY_SQL, span) == expected
    assert read(duck, DEAD_DAY_SQL, span) == expected
    one_day = {"first": date(2024, 12, 3), "last": date(2024, 12, 3)}
    assert read(bigquery, DEAD_DAY_SQL, one_day) == expected[1:]
    duck.close()


# --- the weekly scoring job ---


def simulated_week() -> dict[str, list[dict[str, Any]]]:
    """Two simulated homes and the weather at their sites for WEEK: validated rows per table."""
    start = datetime.combine(WEEK, datetime.min.time(), UTC)
    homes = make_homes(2, seed=7)
    sites = dict.fromkeys(h.site for h in homes)
    weather = {s: weather_rows(s, start, 7, seed=7) for s in sites}
    raw = {
        SENSOR: [r for h in homes for r in sensor_rows(h, weather[h.site], start, 7, seed=7)],
        "weather_data": [r for rows in weather.values() for r in rows],
    }
    return {name: [validate_row(registry()[name], r) for r in rows] for name, rows in raw.items()}


def score(warehouse: Warehouse, rows: dict[str, list[dict[str, Any]]], bucket: Path) -> Any:
    for table, batch in rows.items():
        warehouse.load_rows(table, batch, [r[ROW_ID] for r in batch])
    return job.run(warehouse, LocalBucket(bucket), WEEK, COMPUTED_AT)


def test_scoring_a_week_on_bigquery_gives_the_vectors_duckdb_gives(
    bigquery: BigQueryWarehouse, tmp_path: Path
) -> None:
    tables = only_tables(registry(), SENSOR, "weather_data", job.SCORES_TABLE, "sensor_hours")
    rows = simulated_week()
    bigquery.init(tables)
    duck = DuckDBWarehouse(tmp_path / "warehouse.duckdb", tables, "sensor_data")
    try:
        duck.init(tables)
        on_duckdb = score(duck, rows, tmp_path / "duckdb-bucket")
        on_bigquery = score(bigquery, rows, tmp_path / "bigquery-bucket")
        stored_duckdb = read(duck, SCORES_SQL, {"week": WEEK})
    finally:
        duck.close()

    assert on_bigquery.vectors.height == on_duckdb.vectors.height > 0
    polars.testing.assert_frame_equal(
        on_bigquery.vectors.sort("home_id"), on_duckdb.vectors.sort("home_id")
    )
    assert on_bigquery.new_rows == on_duckdb.new_rows == on_duckdb.vectors.height
    assert pl.DataFrame(read(bigquery, SCORES_SQL, {"week": WEEK})).equals(
        pl.DataFrame(stored_duckdb)
    )
    # A re-run on unchanged data adds no score row (the exact batch path).
    again = job.run(bigquery, LocalBucket(tmp_path / "again"), WEEK, COMPUTED_AT)
    assert again.new_rows == 0
