"""An OpenWeatherMap current-weather body as a `weather_data` row.

Mapped as the reference poller did (its archived rows show the result): `main.temp`,
`main.humidity`, `main.pressure`, `wind.deg`, `wind.speed`, `sys.sunrise`, `sys.sunset`,
`clouds.all`, `weather[0].description`, and the polled point as `POINT(lon lat)`. `dt`, the
observation time, goes to `timestamp` and `observed_at`, so a re-poll of the same observation
is the same row and has the same `row_id`. A body without `dt` or without `main` (a reply
with no measurement is no observation, not a row of NULLs), or with a part of the wrong
shape, is a `LocationError`; the contract's own checks run after (`validate_row`).

A reply is not ours to trust: a measurement must be a JSON number and is kept to the
hundredth OpenWeatherMap publishes, and the description, already scrubbed of the key by the
client, is cut to the contract's length (`tables.toml`, `[weather_data.lengths]`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from livability.weather.errors import LocationError
from schemas import registry
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


def _measure(part: Mapping[str, Any], name: str, where: str) -> float | int | None:
    """A measurement: a JSON number, to the hundredth (OpenWeatherMap's resolution); None
    when absent."""
    value = part.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LocationError(f"malformed body: {where}.{name}: {shown(value)} is not a number")
    # An integer stays one (the contract's ranges bound its digits); a float is cut to the
    # hundredth, so no run of digits a reply sends is stored beyond what the API publishes.
    return value if isinstance(value, int) else round(value, 2)


def _description(conditions: Any) -> str | None:
    description = None
    if isinstance(conditions, list) and conditions and isinstance(conditions[0], Mapping):
        description = conditions[0].get("description")
    elif conditions is not None and conditions != []:
        raise LocationError(f"malformed body: weather: {shown(conditions)} is not a list")
    most = registry()[TABLE].lengths.get("data.description")
    if isinstance(description, str) and most is not None and len(description) > most:
        return description[: most - 1] + "…"
    return description


def to_row(body: Mapping[str, Any], location: Location) -> dict[str, Any]:
    """A current-weather body as a `weather_data` row (JSON form, not yet validated)."""
    observed = _unix(body.get("dt"), "dt")
    if observed is None:
        raise LocationError("malformed body: dt: required field is missing")
    main, wind, clouds, sun = (_object(body, n) for n in ("main", "wind", "clouds", "sys"))
    description = _description(body.get("weather"))
    row = {
        "day": observed[:10],
        "timestamp": observed,
        "observed_at": observed,
        "data": {
            "temperature": _measure(main, "temp", "main"),
            "humidity": _measure(main, "humidity", "main"),
            "pressure": _measure(main, "pressure", "main"),
            "wind_direction": _measure(wind, "deg", "wind"),
            "wind_speed": _measure(wind, "speed", "wind"),
            "sunrise": _unix(sun.get("sunrise"), "sys.sunrise"),
            "sunset": _unix(sun.get("sunset"), "sys.sunset"),
            "clouds": _measure(clouds, "all", "clouds"),
            "description": description,
            "location": location.wkt,
        },
    }
    if not main:  # absent, null or {}: no measurement, no row
        raise LocationError(
            "malformed body: main: required field is missing"
            if body.get("main") is None
            else f"malformed body: main: {shown(body['main'])} holds no measurement"
        )
    return row
