"""Hand-built weeks for the model's tests, stored through the real DuckDB warehouse.

A week is given as hourly indoor values (or any readings) and a constant or hourly outdoor
temperature; the rows are validated and keyed by the contract's own functions, so the SQL
reads them exactly as it reads ingested data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from schemas import ROW_ID, registry
from schemas.validation import validate_row
from scoring.model import score_week

WEEK = date(2025, 1, 6)  # a Monday
LUTON = "POINT(-0.41472 51.87833)"
_counter = itertools.count()


@dataclass(frozen=True)
class Reading:
    at: datetime
    temperature: float | None
    humidity: float | None
    mac: int = 11
    home_id: int = 1
    location: str | None = LUTON
    room: str | None = None


def moment(hour: float, week: date = WEEK) -> datetime:
    return datetime.combine(week, datetime.min.time(), UTC) + timedelta(hours=hour)


def steady(
    temperature: float | Sequence[float],
    humidity: float | Sequence[float],
    *,
    every_minutes: int = 10,
    hours: Iterable[int] = range(168),
    **kwargs: Any,
) -> list[Reading]:
    """Readings every `every_minutes` through the given hours; values per hour or constant."""
    out = []
    for h in hours:
        t = temperature[h] if isinstance(temperature, Sequence) else temperature
        rh = humidity[h] if isinstance(humidity, Sequence) else humidity
        for m in range(0, 60, every_minutes):
            out.append(Reading(moment(h + m / 60 + 1 / 3600), t, rh, **kwargs))
    return out


def weather(temperature: float | Sequence[float], humidity: float = 80.0) -> list[dict[str, Any]]:
    """Hourly outdoor rows at Luton for the week and the 7 days before it."""
    rows = []
    for h in range(-168, 168):
        t = temperature[h % 168] if isinstance(temperature, Sequence) else temperature
        at = moment(h + 0.01)
        rows.append(
            {
                "day": at.date().isoformat(),
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "data": {"temperature": t, "humidity": humidity, "location": LUTON},
            }
        )
    return rows


def sensor_row(r: Reading) -> dict[str, Any]:
    data: dict[str, Any] = {"mac": r.mac, "home_id": r.home_id}
    if r.temperature is not None:
        data["temperature"] = round(r.temperature, 2)
    if r.humidity is not None:
        data["humidity"] = round(r.humidity, 2)
    if r.location is not None:
        data["location"] = r.location
    row: dict[str, Any] = {
        "day": r.at.date().isoformat(),
        "timestamp": r.at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "data": data,
    }
    if r.room is not None:
        row["room"] = r.room
    return row


def store(
    path: Path, readings: Sequence[Reading], outdoor: Sequence[dict[str, Any]] = ()
) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(path, registry(), "sensor_data", linger=0)
    warehouse.init(registry())
    for table, raw in (
        ("sensor_thermo_beacon", [sensor_row(r) for r in readings]),
        ("weather_data", list(outdoor)),
    ):
        rows = [validate_row(registry()[table], row) for row in raw]
        if rows:
            warehouse.load_rows(table, rows, [row[ROW_ID] for row in rows])
    return warehouse


def score(
    tmp: Path,
    readings: Sequence[Reading],
    outdoor: Sequence[dict[str, Any]] = (),
    week: date = WEEK,
) -> pl.DataFrame:
    """The vectors of a hand-built week, scored on a fresh DuckDB file."""
    warehouse = store(tmp / f"w{next(_counter)}.duckdb", readings, outdoor)
    try:
        return score_week(warehouse, week)
    finally:
        warehouse.close()


def one(frame: pl.DataFrame) -> dict[str, Any]:
    rows = frame.to_dicts()
    assert len(rows) == 1, f"expected one home, got {len(rows)}"
    return rows[0]
