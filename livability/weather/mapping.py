"""An OpenWeatherMap current-weather body as a `weather_data` row.

Mapped as the reference poller did (its archived rows show the result): `main.temp`,
`main.humidity`, `main.pressure`, `wind.deg`, `wind.speed`, `sys.sunrise`, `sys.sunset`,
`clouds.all`, `weather[0].description`, and the polled point as `POINT(lon lat)`. `dt`, the
observation time, goes to `timestamp` and `observed_at`, so a re-poll of the same observation
is the same row and has the same `row_id`. A body without `dt`, or with a part of the wrong
shape, is a `LocationError`; the contract's own checks run after (`validate_row`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from livability.weather.errors import LocationError
from schemas.validation import shown

if TYPE_CHECKING:
    from livability.weather.locations import Location

TABLE = "weather_data"


def _object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LocationError(f"malformed body: {name}: {shown(value)} is not an object")
    return value


def _unix(value: Any, name: str) -> str | None:
    """A Unix time in seconds as ISO 8601 UTC; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LocationError(f"malformed body: {name}: {shown(value)} is not a Unix time")
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise LocationError(
            f"malformed body: {name}: {shown(value)} is not a representable Unix time"
        ) from None
    return moment.isoformat()


def to_row(body: Mapping[str, Any], location: Location) -> dict[str, Any]:
    """A current-weather body as a `weather_data` row (JSON form, not yet validated)."""
    observed = _unix(body.get("dt"), "dt")
    if observed is None:
        raise LocationError("malformed body: dt: required field is missing")
    main, wind, clouds, sun = (_object(body, n) for n in ("main", "wind", "clouds", "sys"))
    conditions = body.get("weather")
    description = None
    if isinstance(conditions, list) and conditions and isinstance(conditions[0], Mapping):
        description = conditions[0].get("description")
    elif conditions is not None and conditions != []:
        raise LocationError(f"malformed body: weather: {shown(conditions)} is not a list")
    return {
        "day": observed[:10],
        "timestamp": observed,
        "observed_at": observed,
        "data": {
            "temperature": main.get("temp"),
            "humidity": main.get("humidity"),
            "pressure": main.get("pressure"),
            "wind_direction": wind.get("deg"),
            "wind_speed": wind.get("speed"),
            "sunrise": _unix(sun.get("sunrise"), "sys.sunrise"),
            "sunset": _unix(sun.get("sunset"), "sys.sunset"),
            "clouds": clouds.get("all"),
            "description": description,
            "location": location.wkt,
        },
    }
