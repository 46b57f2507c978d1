"""The archive tests' data: a known week of rows, loading it, fresh Cloud Storage buckets, and
a bucket that fails on demand."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Client

from livability.adapters.gcs import GCSBucket
from livability.ports import Bucket, BucketError, Warehouse
from schemas import registry
from schemas.validation import validate_row
from tools.storage_emulator import StorageEmulator

WEEK = date(2025, 3, 3)  # a Monday
SENSOR = "sensor_thermo_beacon"
WEATHER = "weather_data"
HOMES = (1, 2, 3)
_bucket_names = (f"archive-{n}" for n in itertools.count(1))


def sensor_row(home: int, at: datetime, temperature: float = 19.25) -> dict[str, Any]:
    return validate_row(
        registry()[SENSOR],
        {
            "day": at.date().isoformat(),
            "timestamp": at.isoformat(),
            "data": {
                "mac": str(79091822756000 + home),
                "home_id": str(home),
                "temperature": temperature,
                "humidity": 55.0 + home,
                "location": None if home == 3 else "POINT(-0.41472 51.87833)",
            },
        },
    )


def weather_row(at: datetime) -> dict[str, Any]:
    return validate_row(
        registry()[WEATHER],
        {
            "day": at.date().isoformat(),
            "timestamp": at.isoformat(),
            "data": {
                "temperature": 7.5 + at.hour / 4,
                "humidity": 93,
                "pressure": 1019,
                "description": "light rain, «drizzle»",
                "sunrise": f"{at.date().isoformat()}T06:41:02+00:00",
                "location": "POINT(-0.41472 51.87833)" if at.hour % 2 else None,
            },
        },
    )


def week_rows(week: date = WEEK, hours: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Every `hours` hours from the day before `week` to the day after it: the week's rows
    plus a day on each side that an archive of the week must leave out."""
    start = datetime.combine(week - timedelta(days=1), datetime.min.time(), UTC)
    moments = [
        start + timedelta(hours=h, minutes=7, seconds=53, microseconds=216000)
        for h in range(0, 9 * 24, hours)
    ]
    return {
        SENSOR: [
            sensor_row(home, at, 18.0 + (at.hour % 7) / 4 + home / 100)
            for at in moments
            for home in HOMES
        ],
        WEATHER: [weather_row(at) for at in moments],
    }


def in_week(rows: list[dict[str, Any]], week: date = WEEK) -> list[dict[str, Any]]:
    return [r for r in rows if week <= r["day"] <= week + timedelta(days=6)]


def load(warehouse: Warehouse, rows: dict[str, list[dict[str, Any]]]) -> None:
    for table, batch in rows.items():
        result = warehouse.load_rows(table, batch, [r["row_id"] for r in batch])
        assert not result.failed


def new_gcs_bucket(emulator: StorageEmulator) -> GCSBucket:
    name = next(_bucket_names)
    client = Client(
        project="test-proj",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator.host},
    )
    client.create_bucket(name)
    client.close()
    return GCSBucket(name, "archive", emulator=emulator.host, retry_deadline=5.0)


class FailingBucket:
    """A real bucket whose `put` fails from the `fail_at`th call on (a crash mid-way)."""

    def __init__(self, inner: Bucket, fail_at: int) -> None:
        self.inner, self.fail_at, self.calls = inner, fail_at, 0
        self.url = inner.url

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.calls += 1
        if self.calls >= self.fail_at:
            raise BucketError(f"cannot write {key}: injected failure")
        return self.inner.put(key, data, content_type)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def list(self, prefix: str = "") -> list[str]:
        return self.inner.list(prefix)

    def close(self) -> None:
        self.inner.close()


Rows = Callable[[], dict[str, list[dict[str, Any]]]]
