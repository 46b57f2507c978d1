"""The places the simulator knows: each has its own weather, shared by its homes and the
weather poller's observations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.geo import point_wkt

__all__ = ["SITES", "Site"]


@dataclass(frozen=True)
class Site:
    """A place with its own weather; homes and the weather poller share it."""

    name: str
    latitude: float
    longitude: float
    # 0 for an oceanic climate, 1 for a continental one: bigger seasonal and daily swings and,
    # away from the poles, dry clear summers. Latitude alone cannot tell Madrid from Lisbon.
    continentality: float = 0.0

    @property
    def wkt(self) -> str:
        """The location as WKT, longitude first (BigQuery GEOGRAPHY)."""
        return point_wkt(self.longitude, self.latitude)


SITES: Final[tuple[Site, ...]] = (
    Site("Luton", 51.87833, -0.41472, continentality=0.2),
    Site("Edinburgh", 55.95333, -3.18833, continentality=0.0),
    Site("Madrid", 40.41667, -3.70333, continentality=0.8),
    Site("Oslo", 59.91333, 10.75222, continentality=0.7),
    # Far from the others (Asia/Tokyo, UTC+9, no daylight saving): its homes' local nights and
    # days are UTC's afternoon and night, so a model that counted UTC days would misjudge them.
    Site("Tokyo", 35.68950, 139.69170, continentality=0.4),
)
