"""What every simulated row shares: a UTC start, a positive number of days, and the
platform's ISO 8601 timestamps (`Z`, milliseconds for message times)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_millis", "iso_seconds", "require_days", "require_utc"]


def require_utc(value: datetime, name: str) -> datetime:
    """`value` in UTC; `ValueError` naming `name` if it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def require_days(days: int) -> None:
    """`ValueError` unless `days` is a positive integer."""
    if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
        raise ValueError(f"days must be a positive integer, got {days!r}")


def iso_millis(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_seconds(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
