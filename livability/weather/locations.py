"""Which points the poller calls: the configured ones, or the homes' locations on a grid.

Configured locations come as `lat,lon;lat,lon` (`LIVABILITY_WEATHER_LOCATIONS`). Otherwise
the distinct home locations of the last `LOCATION_DAYS` days of readings are snapped to a
grid (`LIVABILITY_WEATHER_GRID` degrees), so the homes of one neighbourhood share a call. The
list is cached in the bucket (`LOCATIONS_KEY`) and recomputed every `LOCATIONS_MAX_AGE`: at a
million homes a scan per tick would cost more than the rest of the pipeline.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from livability import config
from livability.ports import ObjectNotFoundError
from livability.weather.errors import WeatherConfigError
from schemas.geo import PointError, parse_point, point_wkt
from schemas.validation import shown

if TYPE_CHECKING:
    from livability.ports import Bucket, Warehouse

log = logging.getLogger(__name__)

LOCATIONS_KEY = "state/weather/locations.json"
LOCATIONS_MAX_AGE = timedelta(hours=6)
# Home locations come from the readings of the last days: two partitions, not the table.
LOCATION_DAYS = 2
DEFAULT_GRID = 0.1  # degrees: about 11 km north-south; a home is at most ~8 km from its point

_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s*$")


@dataclass(frozen=True, order=True)
class Location:
    """A point polled for weather, in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude {self.lat!r} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude {self.lon!r} is outside -180..180")

    def __str__(self) -> str:
        return f"{self.lat!r},{self.lon!r}"

    @property
    def wkt(self) -> str:
        """As the contract's GEOGRAPHY columns take it: longitude first."""
        return point_wkt(self.lon, self.lat)


def read_locations(text: str) -> tuple[Location, ...]:
    """`lat,lon;lat,lon` → locations, each once, in the order given; a ValueError names the
    entry."""
    found: list[Location] = []
    for index, part in enumerate(text.split(";")):
        if not part.strip():
            continue
        match = _PAIR.match(part)
        if match is None:
            raise ValueError(f"location {index + 1} {part.strip()!r} is not 'lat,lon' in degrees")
        try:
            location = Location(float(match[1]) + 0.0, float(match[2]) + 0.0)
        except ValueError as err:
            raise ValueError(f"location {index + 1} {part.strip()!r}: {err}") from None
        if location not in found:
            found.append(location)
    if not found:
        raise ValueError(f"{text!r} names no location ('lat,lon;lat,lon')")
    return tuple(found)


def parse_locations(
    text: str, variable: str = "LIVABILITY_WEATHER_LOCATIONS"
) -> tuple[Location, ...]:
    """`read_locations`, its errors naming `variable` (or the command-line option)."""
    return config.parsed(variable, text, read_locations, WeatherConfigError)


def snap(lat: float, lon: float, grid: float) -> Location:
    """The grid point nearest to (lat, lon): homes of one cell share a call."""
    # round() twice: 519 * 0.1 is 51.900000000000006, which would make a new location.
    return Location(
        round(min(90.0, max(-90.0, round(lat / grid) * grid)), 6) + 0.0,
        round(min(180.0, max(-180.0, round(lon / grid) * grid)), 6) + 0.0,
    )


def _location_sql(dialect: str, dataset: str) -> str:
    # DISTINCT on text: BigQuery cannot group GEOGRAPHY; DuckDB stores it as WKT text already.
    # The raw table, not the _dedup view: duplicates do not change a DISTINCT.
    column = "ST_ASTEXT(data.location)" if dialect == "bigquery" else "data.location"
    return (  # the dataset name is validated by Settings; values are parameters
        f"SELECT DISTINCT {column} AS location FROM {dataset}.sensor_thermo_beacon "  # noqa: S608
        "WHERE day BETWEEN @first_day AND @last_day AND data.location IS NOT NULL"
    )


def home_locations(
    warehouse: Warehouse, *, dialect: str, grid: float, today: date
) -> tuple[Location, ...]:
    """The distinct home locations of the last `LOCATION_DAYS` days, snapped to `grid`."""
    table = warehouse.query(
        _location_sql(dialect, warehouse.dataset),
        {"first_day": today - timedelta(days=LOCATION_DAYS - 1), "last_day": today},
    )
    points: set[Location] = set()
    for text in table.column("location").to_pylist():
        try:
            lon, lat = parse_point(text)
        except PointError:
            log.warning("home location is not a WKT point; skipped", extra={"value": shown(text)})
            continue
        points.add(snap(lat, lon, grid))
    return tuple(sorted(points))


def cached_home_locations(
    bucket: Bucket,
    compute: Callable[[], tuple[Location, ...]],
    *,
    grid: float,
    now: datetime,
    max_age: timedelta = LOCATIONS_MAX_AGE,
) -> tuple[Location, ...]:
    """`compute()`'s locations, kept in the bucket and recomputed when stale or damaged."""
    try:
        cached = json.loads(bucket.get(LOCATIONS_KEY))
        computed_at = datetime.fromisoformat(cached["computed_at"])
        if cached["grid"] == grid and timedelta(0) <= now - computed_at < max_age:
            return tuple(Location(float(lat), float(lon)) for lat, lon in cached["locations"])
    except ObjectNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as err:  # damaged: recompute and overwrite it
        log.warning(
            "cached weather locations unreadable; recomputing",
            extra={"key": LOCATIONS_KEY, "reason": f"{type(err).__name__}: {shown(str(err))}"},
        )
    locations = compute()
    body = {
        "computed_at": now.isoformat(),
        "grid": grid,
        "locations": [[p.lat, p.lon] for p in locations],
    }
    bucket.put(LOCATIONS_KEY, json.dumps(body).encode(), "application/json")
    return locations
