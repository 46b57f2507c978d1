"""The fleet check on every warehouse: one SQL definition, the same figures.

Runs against the real embedded DuckDB and the real local BigQuery stand-in (`local-bigquery`
through google-cloud-bigquery and the platform's adapter), via the `backend` fixture
(tests/support/warehouses.py). The readings are validated and keyed by the contract's own
functions; the dead letters are written by ingest's own `dead_letter`.
"""

from __future__ import annotations

import re
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge.thermobeacon import battery_percent
from livability.fleet.check import (
    LOW_BATTERY_PERCENT,
    MAX_LOOKBACK_DAYS,
    FleetError,
    SensorHealth,
    check,
)
from livability.ingest.rows import Rejection, dead_letter
from livability.ports import Warehouse
from schemas import ROW_ID, registry
from schemas.validation import validate_row
from tests.support.warehouses import Backend, only_tables

NOW = datetime(2025, 1, 13, 12, 0, tzinfo=UTC)
STEP = 600  # seconds: a ThermoBeacon's reading interval
WEEK_STEPS = 1008  # 7 days of 10-minute readings
SILENT_FROM = 120  # home 2's last reading is 120 steps (20 h) before NOW


def at(k: int) -> datetime:
    """The k-th reading back from NOW, 30 s into its 10-minute slot."""
    return NOW - timedelta(seconds=30 + STEP * k)


def draining(k: int) -> int | None:
    """Sensor 32: loses 1 % every 6 h (4 %/day), 15 % now; its newest reading came from the
    sensor's history (no battery), so the level shown is the one before."""
    return None if k == 0 else 15 + k // 36


def reading(home: int, mac: int, k: int, battery: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "day": at(k).date().isoformat(),
        "timestamp": at(k).isoformat(),
        "data": {"mac": mac, "home_id": home, "temperature": 20.0, "humidity": 50.0},
    }
    if battery is not None:
        row["battery"] = battery
    return row


def readings() -> list[dict[str, Any]]:
    span = range(WEEK_STEPS + 144)  # 8 days: the 7-day window and a day before it
    rows = [reading(1, 11, k, 90) for k in span]
    rows += [reading(2, 21, k, 80) for k in span if k >= SILENT_FROM]
    rows += [reading(3, 31, k, 70) for k in span]
    rows += [reading(3, 32, k, draining(k)) for k in span]
    # Home 4 went quiet 10 days ago: outside the period, not read at all.
    rows += [reading(4, 41, k, 90) for k in range(1440, 1450)]
    return rows


REJECTED = (
    (NOW - timedelta(hours=1), "row 0: data.temperature: 120.0 is outside [-40.0, 85.0]"),
    (NOW - timedelta(hours=2), "row 3: data.temperature: 99.0 is outside [-40.0, 85.0]"),
    (NOW - timedelta(days=2), "row 1: data.temperature: -60.0 is outside [-40.0, 85.0]"),
    (NOW - timedelta(days=3), "message.data: empty, with no row to store"),
    (NOW - timedelta(days=6), "'{' is not JSON"),
    (NOW - timedelta(days=9), "table_id: 'x' is not a table that accepts device data"),
)


def stored(backend: Backend) -> Warehouse:
    tables = only_tables(registry(), "sensor_thermo_beacon", "dead_letter")
    warehouse = backend.open(tables)
    warehouse.init(tables)
    table = registry()["sensor_thermo_beacon"]
    rows = [validate_row(table, r) for r in readings()]
    warehouse.load_rows(table.name, rows, [r[ROW_ID] for r in rows])
    for i, (when, reason) in enumerate(REJECTED):
        letter = Rejection(reason, f'{{"n": {i}}}', "sensor_thermo_beacon")
        dead_letter(warehouse, [letter], source=f"m-{i}", received_at=when)
    return warehouse


def expected_trend() -> float:
    """Least squares of sensor 32's battery against days, over the last 7 days."""
    points = [(-(30 + STEP * k) / 86400, draining(k)) for k in range(WEEK_STEPS)]
    xs, ys = zip(*[(x, y) for x, y in points if y is not None], strict=True)
    return statistics.linear_regression(xs, ys).slope


def test_the_fleet_on_every_backend(backend: Backend) -> None:
    report = check(stored(backend), NOW)
    assert report.summary() == (
        "3 home(s); silent gateways (> 3 h): 1; sensors below 20 % battery: 1; dead letters: 5"
    )
    assert dict(report.dead_letters) == {"data.temperature": 3, "message.data": 1, "other": 1}
    trend = report.rows[1].battery_trend
    assert trend == pytest.approx(expected_trend(), abs=0.01)
    assert trend == pytest.approx(-4.0, abs=0.1)
    silent_last = at(SILENT_FROM)
    assert list(report.rows) == [
        SensorHealth(2, 21, silent_last, silent_last, round(24 / 144, 4),
                     round((WEEK_STEPS - SILENT_FROM) / WEEK_STEPS, 4), 80, 0.0, True, False),
        SensorHealth(3, 32, at(0), at(0), 1.0, 1.0, 15, trend, False, True),
        SensorHealth(1, 11, at(0), at(0), 1.0, 1.0, 90, 0.0, False, False),
        SensorHealth(3, 31, at(0), at(0), 1.0, 1.0, 70, 0.0, False, False),
    ]  # fmt: skip
    assert (report.homes, report.sensors, report.truncated) == (3, 4, False)


def test_a_shorter_period_and_fewer_rows(backend: Backend) -> None:
    """Since 30 h ago: the 7-day coverage counts what the period holds; rows are cut."""
    warehouse = stored(backend)
    report = check(warehouse, NOW, NOW - timedelta(hours=30), max_rows=1)
    assert [(r.home_id, r.mac, r.coverage_7d) for r in report.rows] == [
        (2, 21, round(60 / WEEK_STEPS, 4))
    ]
    assert (report.sensors, report.truncated) == (4, True)
    assert dict(report.dead_letters) == {"data.temperature": 2}
    counts = check(warehouse, NOW, max_rows=0)
    assert (counts.rows, counts.silent_gateways, counts.low_battery_sensors) == ((), 1, 1)


def test_the_battery_threshold_is_the_curves_knee() -> None:
    """20 % is what the gateway reports at 2450 mV; a millivolt less reads 0 %."""
    assert battery_percent(2450) == LOW_BATTERY_PERCENT
    assert battery_percent(2449) < LOW_BATTERY_PERCENT


@pytest.mark.parametrize(
    ("now", "since", "message"),
    [
        (NOW, NOW, "since: 2025-01-13T12:00:00+00:00 is not before now"),
        (NOW, NOW - timedelta(days=MAX_LOOKBACK_DAYS + 1), "is more than 92 days before"),
        (NOW.replace(tzinfo=None), None, "now: datetime.datetime(2025, 1, 13, 12, 0) is a naive"),
    ],
)
def test_a_period_it_cannot_read_is_refused(
    now: datetime, since: datetime | None, message: str, tmp_path: Any
) -> None:
    from livability.adapters.duckdb_warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", registry(), "sensor_data")
    try:
        with pytest.raises(FleetError, match=re.escape(message)):
            check(warehouse, now, since)
        with pytest.raises(FleetError, match="max_rows: 10001 is not between 0 and 10000"):
            check(warehouse, NOW, max_rows=10_001)
    finally:
        warehouse.close()


def test_problems_name_a_silent_gateway_once_and_each_low_battery() -> None:
    from livability.fleet.check import FleetReport, SensorHealth

    at = datetime(2026, 11, 30, tzinfo=UTC)

    def sensor(home: int, mac: int, *, silent: bool, battery: int) -> SensorHealth:
        last = at - timedelta(hours=20 if silent else 1)
        return SensorHealth(home, mac, last, last, 0.5, 0.9, battery, None, silent, battery < 20)

    rows = (
        sensor(2, 1, silent=True, battery=3),
        sensor(2, 2, silent=True, battery=80),
        sensor(3, 3, silent=False, battery=10),
        sensor(4, 4, silent=False, battery=90),
    )
    report = FleetReport(at, at - timedelta(days=7), 3, 4, 1, 2, {}, rows, truncated=False)
    assert report.problems() == {
        2: "gateway silent since 2026-11-29 04:00 UTC; a sensor at 3 % battery",
        3: "a sensor at 10 % battery",
    }
