"""The daily rollup (`scoring/rollup.py`) gives the vectors the raw readings give.

Runs against the real embedded DuckDB and the real local BigQuery stand-in (`local-bigquery`,
through google-cloud-bigquery and the platform's adapter). The same week is stored in both:
two homes in London (one with two sensors), one in Tokyo with a bedroom and a bathroom, and on
the stand-in copies of readings that streaming let through (a new insertId, as a redelivery
after insertId's window); its days are rolled up and the week scored from the rollup and from
the raw readings, on each backend. A late row changes its day only once the day is written
again; writing a day twice leaves its rows as once; a week in a half-hour zone is read raw.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import polars.testing
import pytest

from livability.adapters.bigquery import BigQueryWarehouse
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.ports import Warehouse
from schemas import ROW_ID, registry
from schemas.validation import to_json, validate_row
from scoring import rollup
from scoring.model import (
    daily_aggregates,
    hourly_series,
    readings_source,
    score_week,
    slices_for,
    vectors,
    zone_plan,
)
from tests.scoring import hand_built
from tests.scoring.hand_built import local_readings
from tests.scoring.weeks import WEEK, Reading, sensor_row, steady, weather
from tests.support.warehouses import (
    PROJECT,
    bigquery_endpoint,
    bigquery_warehouse,
    drop_dataset,
    initialised,
    new_dataset,
    only_tables,
)

__all__ = ["bigquery_endpoint"]  # the stand-in, started once per session
TABLES = ("sensor_thermo_beacon", "weather_data", "sensor_hours")
# The days a week's local hours touch: the Sunday before (Tokyo) to the Monday after.
DAYS = [WEEK + timedelta(days=i) for i in range(-1, 8)]
COPIES = 40  # readings stored twice on the stand-in


def _week() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cold = steady(16.5, 70.0, home_id=1, mac=11)
    warm = steady(21.0, 45.0, home_id=2, mac=21, room="living")
    second = steady(20.0, 50.0, home_id=2, mac=22, every_minutes=5, room="bedroom")
    tokyo = local_readings(
        lambda t: (27.0 if t.hour < 7 else 21.0, 50.0), zone="Asia/Tokyo", room="bedroom", mac=31
    ) + local_readings(
        lambda t: (21.0, 90.0 if t.hour in (7, 21) else 55.0),
        zone="Asia/Tokyo",
        room="bathroom",
        mac=32,
    )
    # Gaps in the values: a reading without humidity, one without a location.
    gaps = [
        Reading(datetime(2025, 1, 8, 12, 30, tzinfo=UTC), 19.0, None, home_id=1, mac=11),
        Reading(datetime(2025, 1, 8, 12, 31, tzinfo=UTC), 30.0, 30.0, location=None),
    ]
    sensor = [sensor_row(r) for r in cold + warm + second + gaps]
    sensor += [{**sensor_row(r), "data": {**sensor_row(r)["data"], "home_id": 3}} for r in tokyo]
    outdoor = weather([5.0 + 4 * ((h % 24) / 24) for h in range(168)]) + hand_built.outdoor(
        lambda t: 4.0 + t.hour / 6, zone="Asia/Tokyo"
    )
    return sensor, outdoor


def _load(
    warehouse: Warehouse, sensor: list[dict[str, Any]], outdoor: list[dict[str, Any]]
) -> None:
    for table, raw in (("sensor_thermo_beacon", sensor), ("weather_data", outdoor)):
        rows = [validate_row(registry()[table], r) for r in raw]
        if rows:
            warehouse.load_rows(table, rows, [r[ROW_ID] for r in rows])


def _copies(warehouse: Warehouse, sensor: list[dict[str, Any]]) -> None:
    """Streaming's copies: the same rows again under new insertIds (BigQuery only)."""
    assert isinstance(warehouse, BigQueryWarehouse)
    table = registry()["sensor_thermo_beacon"]
    rows = [to_json(validate_row(table, r)) for r in sensor[::97][:COPIES]]
    target = f"{PROJECT}.{warehouse.dataset}.sensor_thermo_beacon"
    ids = [f"copy-{i}" for i in range(len(rows))]
    assert warehouse.client.insert_rows_json(target, rows, row_ids=ids) == []
    count = (
        "SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids FROM {}.sensor_thermo_beacon "
        "WHERE day BETWEEN @a AND @b"
    )
    stored = warehouse.query(count.format(warehouse.dataset), {"a": DAYS[0], "b": DAYS[-1]})
    assert stored.to_pylist() == [{"n": len(sensor) + len(rows), "ids": len(sensor)}]


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    yield from initialised(request, tmp_path, *TABLES)


def _rollup_rows(warehouse: Warehouse) -> list[dict[str, Any]]:
    sql = (
        "SELECT hour, home_id, mac, n, temperature, humidity, first_at, last_at, room, "
        "located_at FROM {}.sensor_hours WHERE hour >= @a AND hour < @b "
        "ORDER BY hour, home_id, mac"
    )
    start = datetime.combine(DAYS[0], datetime.min.time(), UTC)
    params = {"a": start, "b": start + timedelta(days=len(DAYS))}
    return warehouse.query(sql.format(warehouse.dataset), params).to_pylist()


def test_the_rollup_gives_the_raw_readings_vectors(warehouse: Warehouse) -> None:
    sensor, outdoor = _week()
    _load(warehouse, sensor, outdoor)
    if isinstance(warehouse, BigQueryWarehouse):
        _copies(warehouse, sensor)
    assert rollup.missing_days(warehouse, DAYS[0], DAYS[-1]) == DAYS
    assert rollup.fill(warehouse, DAYS[0], DAYS[-1]) == DAYS
    # The Monday after holds no reading: nothing written, so it stays missing (writing it
    # again reads an empty partition).
    assert rollup.missing_days(warehouse, DAYS[0], DAYS[-1]) == [DAYS[-1]]
    rows = _rollup_rows(warehouse)
    # One row per sensor-hour; the located rows, one per home and day it was located.
    assert len(rows) == len({(r["hour"], r["mac"], r["home_id"]) for r in rows})
    located = [(r["home_id"], r["located_at"].date()) for r in rows if r["located_at"]]
    assert len(located) == len(set(located))
    assert {h for h, _ in located} == {1, 2, 3}
    # Each reading once: the rollup counts as many as were stored, copies or not.
    valid = sum(1 for r in sensor if {"temperature", "humidity"} <= r["data"].keys())
    assert sum(r["n"] for r in rows) == valid

    plan = zone_plan(warehouse, WEEK, "rollup")
    assert readings_source(plan, "rollup") == "rollup"
    raw, rolled = score_week(warehouse, WEEK), score_week(warehouse, WEEK, "rollup")
    assert raw.height == 3
    polars.testing.assert_frame_equal(rolled, raw)
    for home in (2, 3):
        polars.testing.assert_frame_equal(
            hourly_series(warehouse, WEEK, home, "rollup"), hourly_series(warehouse, WEEK, home)
        )
        alone = score_week(warehouse, WEEK, "rollup", home_id=home)
        polars.testing.assert_frame_equal(alone, raw.filter(pl.col("home_id") == home))


def test_a_late_row_changes_its_day_when_the_day_is_written_again(warehouse: Warehouse) -> None:
    sensor, outdoor = _week()
    _load(warehouse, sensor, outdoor)
    rollup.fill(warehouse, DAYS[0], DAYS[-1])
    before = _rollup_rows(warehouse)
    assert rollup.write_days(warehouse, [WEEK + timedelta(days=2)]) == 1
    assert _rollup_rows(warehouse) == before  # written again: the same rows, once
    late = [sensor_row(r) for r in steady(35.0, 20.0, hours=range(50, 53), home_id=1, mac=12)]
    _load(warehouse, late, [])
    raw = score_week(warehouse, WEEK)
    assert not raw.equals(score_week(warehouse, WEEK, "rollup"))  # the day is stale
    assert rollup.missing_days(warehouse, DAYS[0], DAYS[-2]) == []  # and fill cannot tell
    rollup.write_days(warehouse, [WEEK + timedelta(days=2)])
    polars.testing.assert_frame_equal(score_week(warehouse, WEEK, "rollup"), raw)


def test_the_backends_write_the_same_rollup(bigquery_endpoint: str, tmp_path: Path) -> None:
    tables = only_tables(registry(), *TABLES)
    sensor, outdoor = _week()
    duck = DuckDBWarehouse(tmp_path / "w.duckdb", tables, "sensor_data")
    dataset = new_dataset()
    bigquery = bigquery_warehouse(bigquery_endpoint, tables, dataset)
    try:
        found = []
        for warehouse in (duck, bigquery):
            warehouse.init(tables)
            _load(warehouse, sensor, outdoor)
            rollup.write_days(warehouse, DAYS)
            found.append((_rollup_rows(warehouse), score_week(warehouse, WEEK, "rollup")))
    finally:
        duck.close()
        bigquery.close()
        drop_dataset(bigquery_endpoint, dataset)
    (on_duckdb, duck_vectors), (on_bigquery, bigquery_vectors) = found
    assert len(on_bigquery) == len(on_duckdb)
    # Two sensors of a home that read at the same instant both hold its earliest located
    # reading: either row may carry it, on either backend.
    exact = ("hour", "home_id", "mac", "n", "first_at", "last_at", "room")
    for a, b in zip(on_bigquery, on_duckdb, strict=True):
        assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
        for key in ("temperature", "humidity"):
            assert a[key] == pytest.approx(b[key], rel=1e-12), (a, b)
    assert {(r["home_id"], r["located_at"]) for r in on_bigquery if r["located_at"]} == {
        (r["home_id"], r["located_at"]) for r in on_duckdb if r["located_at"]
    }
    polars.testing.assert_frame_equal(bigquery_vectors, duck_vectors)


def test_a_week_in_a_half_hour_zone_is_read_raw(tmp_path: Path) -> None:
    tables = only_tables(registry(), *TABLES)
    delhi = [
        sensor_row(r)
        for r in local_readings(lambda t: (24.0 + t.hour / 12, 40.0), zone="Asia/Kolkata")
    ]
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", tables, "sensor_data")
    try:
        warehouse.init(tables)
        _load(warehouse, delhi, hand_built.outdoor(lambda t: 15.0, zone="Asia/Kolkata"))
        week = hand_built.WINTER
        rollup.fill(warehouse, week - timedelta(days=1), week + timedelta(days=7))
        plan = zone_plan(warehouse, week, "rollup")
        assert not plan.whole_hours
        assert readings_source(plan, "rollup") == "raw"
        polars.testing.assert_frame_equal(
            score_week(warehouse, week, "rollup"), score_week(warehouse, week)
        )
    finally:
        warehouse.close()


def test_a_day_that_has_not_closed_is_not_written(tmp_path: Path) -> None:
    tables = only_tables(registry(), *TABLES)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", tables, "sensor_data")
    try:
        warehouse.init(tables)
        today = date(2025, 1, 9)
        with pytest.raises(ValueError, match=r"day: '2025-01-09' has not closed yet"):
            rollup.write_days(warehouse, [date(2025, 1, 8), today], today=today)
        assert rollup.missing_days(warehouse, date(2025, 1, 7), date(2025, 1, 12), today) == [
            date(2025, 1, 7),
            date(2025, 1, 8),
        ]
        with pytest.raises(ValueError, match="at most 400"):
            rollup.write_days(warehouse, [date(2020, 1, 1)] * 401, today=today)
    finally:
        warehouse.close()


def test_homes_scored_in_slices_give_the_same_vectors(warehouse: Warehouse) -> None:
    """DuckDB's bounded memory: the homes in slices by id, one query each, the same vectors
    as in one query, from the rollup and from the raw readings."""
    sensor, outdoor = _week()
    _load(warehouse, sensor, outdoor)
    rollup.write_days(warehouse, DAYS[:-1])
    for source in ("rollup", "raw"):
        whole, plan = daily_aggregates(warehouse, WEEK, source=source, slices=1)  # type: ignore[arg-type]
        sliced, _ = daily_aggregates(warehouse, WEEK, plan, source, slices=2)  # type: ignore[arg-type]
        keys = ["home_id", "mac", "d"]
        assert sorted(sliced["home_id"].unique().to_list()) == [1, 2, 3]
        # The spacings are a list in no order (ARRAY_AGG): compared sorted.
        spaced = [
            f.sort(keys).with_columns(pl.col("spacings").list.sort()) for f in (sliced, whole)
        ]
        polars.testing.assert_frame_equal(*spaced)
        polars.testing.assert_frame_equal(
            vectors(sliced.lazy(), WEEK, plan), vectors(whole.lazy(), WEEK, plan)
        )
        # The job's way: each slice finished by polars before the next is queried.
        polars.testing.assert_frame_equal(
            score_week(warehouse, WEEK, source, slices=3),  # type: ignore[arg-type]
            score_week(warehouse, WEEK, source, slices=1),  # type: ignore[arg-type]
        )
    # One slice per SLICE_ROWS rows of the week read: these few hundred rows are one.
    assert slices_for(warehouse, WEEK, plan, "rollup") == 1
