"""A scenario: the deployment priced in a month (homes, locations, intervals, ingest mode).

What `livability finops` takes on its command line, checked: a value the model cannot use is
a `ScenarioError` naming the field and the value. Intervals are written `10m`, `3h`, `1d`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from livability.finops.units import MONTH_DAYS, as_decimal
from livability.gcp import INGEST_MODES, IngestMode


class ScenarioError(ValueError):
    """A scenario value the model cannot use; the message names the field and the value."""


@dataclass(frozen=True)
class Scenario:
    """A deployment in a month: the numbers `livability finops` takes."""

    homes: int
    locations: int
    reading_interval: timedelta
    weather_interval: timedelta
    rows_per_message: int
    ingest_mode: IngestMode
    # Raw partitions kept in BigQuery: the infra environments' partition_expiration_days.
    retention_days: int = 365
    archive_months: int = 12  # months of weekly archives in COLDLINE when the month is priced

    def __post_init__(self) -> None:
        for name in ("homes", "locations", "rows_per_message", "retention_days", "archive_months"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(f"{name}: {value!r} is not a positive integer")
        for name in ("reading_interval", "weather_interval"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise ScenarioError(f"{name}: {value!r} is not a positive duration")
            if value > timedelta(days=MONTH_DAYS):
                raise ScenarioError(f"{name}: {value} is longer than a month")
        if self.ingest_mode not in INGEST_MODES:
            raise ScenarioError(
                f"ingest_mode: {self.ingest_mode!r} is not one of {', '.join(INGEST_MODES)}"
            )

    @property
    def readings_per_home(self) -> Decimal:
        return _per_month(self.reading_interval)

    @property
    def weather_ticks(self) -> Decimal:
        """Weather polls in the month (one call per location each)."""
        return _per_month(self.weather_interval)

    @property
    def sensor_rows(self) -> Decimal:
        return self.homes * self.readings_per_home

    @property
    def weather_rows(self) -> Decimal:
        return self.locations * self.weather_ticks

    @property
    def sensor_messages(self) -> Decimal:
        """Gateway messages (function mode) or publish requests (subscription mode)."""
        return self.sensor_rows / self.rows_per_message

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["reading_interval"] = format_interval(self.reading_interval)
        out["weather_interval"] = format_interval(self.weather_interval)
        return out


def _per_month(interval: timedelta) -> Decimal:
    return Decimal(MONTH_DAYS * 86400) / as_decimal(interval.total_seconds())


_INTERVAL = re.compile(r"^([0-9]{1,6})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """`10m`, `3h`, `30s`, `1d`: a positive whole number of seconds, minutes, hours or days."""
    match = _INTERVAL.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a positive duration like 10m, 3h or 1d")
    return timedelta(seconds=int(match[1]) * _SECONDS[match[2]])


def format_interval(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"
