"""Which points the poller calls: configured ones, or the homes' locations on a grid.

`home_locations` runs on every warehouse adapter: the embedded DuckDB file and the BigQuery
stand-in (`local-bigquery`, the fixtures of tests/contract/conftest.py; skipped with their
reason where no Python 3.13 exists), as its SQL differs by dialect (BigQuery cannot
DISTINCT a GEOGRAPHY). The cache of the list lives in the local bucket (a real folder).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from livability.adapters.local_bucket import LocalBucket
from livability.ports import Warehouse
from livability.weather.errors import WeatherConfigError
from livability.weather.locations import (
    LOCATIONS_KEY,
    Location,
    cached_home_locations,
    home_locations,
    parse_locations,
    snap,
)
from schemas import registry
from schemas.validation import validate_row
from tests.support.warehouses import (  # the contract suite's backends: DuckDB and local-bigquery
    SENSOR,
    Backend,
    backend,
    bigquery_endpoint,
    only_tables,
)

__all__ = ["backend", "bigquery_endpoint"]  # fixtures, imported for pytest

TODAY = date(2024, 12, 3)
NOW = datetime(2024, 12, 3, 12, 0, tzinfo=UTC)


def reading(home: int, location: str, day: date) -> dict[str, object]:
    return validate_row(
        registry()[SENSOR],
        {
            "day": day.isoformat(),
            "timestamp": f"{day.isoformat()}T10:00:00Z",
            "data": {"mac": home, "home_id": home, "temperature": 18.0, "location": location},
        },
    )


@pytest.fixture
def warehouse(backend: Backend) -> Warehouse:
    opened = backend.open()
    opened.init(only_tables(registry(), SENSOR))
    return opened


def test_home_locations_are_snapped_deduplicated_and_recent(
    warehouse: Warehouse, backend: Backend
) -> None:
    rows = [
        reading(1, "POINT(-0.41472 51.87833)", TODAY),  # Luton
        reading(2, "POINT(-0.38 51.91)", TODAY - timedelta(days=1)),  # a neighbour: same point
        reading(3, "POINT(-1.2577 51.752)", TODAY),  # Oxford
        reading(4, "POINT(2.35 48.85)", TODAY - timedelta(days=5)),  # gone quiet: not polled
    ]
    rows.append(reading(5, "POINT(-1.2577 51.752)", TODAY))  # another home, Oxford again
    warehouse.insert_rows(SENSOR, rows, [str(r["row_id"]) for r in rows])

    found = home_locations(warehouse, dialect=backend.name, grid=0.1, today=TODAY)

    assert found == (Location(51.8, -1.3), Location(51.9, -0.4))


def test_homes_without_a_location_are_not_polled(warehouse: Warehouse, backend: Backend) -> None:
    row = validate_row(
        registry()[SENSOR],
        {
            "day": "2024-12-03",
            "timestamp": "2024-12-03T10:00:00Z",
            "data": {"mac": 9, "home_id": 9},
        },
    )
    warehouse.insert_rows(SENSOR, [row], [str(row["row_id"])])

    assert home_locations(warehouse, dialect=backend.name, grid=0.1, today=TODAY) == ()


@pytest.mark.parametrize(
    ("lat", "lon", "grid", "expected"),
    [
        (51.87833, -0.41472, 0.1, Location(51.9, -0.4)),
        (51.87833, -0.41472, 0.25, Location(52.0, -0.5)),
        (89.97, 179.97, 0.1, Location(90.0, 180.0)),
        (-33.8688, 151.2093, 0.05, Location(-33.85, 151.2)),
        (0.04, -0.04, 0.1, Location(0.0, 0.0)),
    ],
)
def test_snap_gives_clean_grid_points(
    lat: float, lon: float, grid: float, expected: Location
) -> None:
    point = snap(lat, lon, grid)
    assert point == expected
    assert str(point) == f"{expected.lat!r},{expected.lon!r}"  # no 51.900000000000006
    assert "-0.0" not in str(point)


def test_configured_locations_keep_their_order_once_each() -> None:
    assert parse_locations(" 51.9,-0.4 ; 44.34, 10.99;51.9,-0.4;") == (
        Location(51.9, -0.4),
        Location(44.34, 10.99),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "LIVABILITY_WEATHER_LOCATIONS: '' names no location"),
        ("51.9,-0.4;nan,1", "location 2 'nan,1' is not 'lat,lon' in degrees"),
        ("51.9,-0.4,3", "location 1 '51.9,-0.4,3' is not 'lat,lon' in degrees"),
        ("10,200", "location 1 '10,200': longitude 200.0 is outside -180..180"),
    ],
)
def test_bad_locations_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(WeatherConfigError) as caught:
        parse_locations(text)
    assert message in str(caught.value)


# --- The cached list ---------------------------------------------------------------------------


class Counting:
    def __init__(self, *found: Location) -> None:
        self.found, self.calls = tuple(found), 0

    def __call__(self) -> tuple[Location, ...]:
        self.calls += 1
        return self.found


def test_the_list_is_computed_once_per_max_age(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path)
    compute = Counting(Location(51.9, -0.4))

    first = cached_home_locations(bucket, compute, grid=0.1, now=NOW)
    again = cached_home_locations(bucket, compute, grid=0.1, now=NOW + timedelta(hours=5))
    stale = cached_home_locations(bucket, compute, grid=0.1, now=NOW + timedelta(hours=7))

    assert first == again == stale == (Location(51.9, -0.4),)
    assert compute.calls == 2
    assert (
        json.loads(bucket.get(LOCATIONS_KEY))["computed_at"]
        == (NOW + timedelta(hours=7)).isoformat()
    )


def test_another_grid_or_a_clock_gone_back_recomputes(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path)
    compute = Counting(Location(51.9, -0.4))
    cached_home_locations(bucket, compute, grid=0.1, now=NOW)

    cached_home_locations(bucket, compute, grid=0.25, now=NOW)
    cached_home_locations(bucket, compute, grid=0.25, now=NOW - timedelta(hours=1))

    assert compute.calls == 3


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{not json",
        b'{"computed_at": "yesterday", "grid": 0.1, "locations": []}',
        b'{"computed_at": "2024-12-03T12:00:00+00:00", "grid": 0.1, "locations": [[1]]}',
    ],
    ids=["empty", "not json", "bad time", "bad pair"],
)
def test_a_damaged_cache_is_recomputed_with_a_warning(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = LocalBucket(tmp_path)
    bucket.put(LOCATIONS_KEY, damage)
    compute = Counting(Location(51.9, -0.4))

    with caplog.at_level(logging.WARNING, logger="livability.weather.locations"):
        found = cached_home_locations(bucket, compute, grid=0.1, now=NOW)

    assert found == (Location(51.9, -0.4),)
    assert compute.calls == 1
    assert "cached weather locations unreadable; recomputing" in caplog.messages
