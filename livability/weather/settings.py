"""The poller's own settings, read once by its entry point from the environment.

Read with the platform's one settings mechanism (`livability.config`): each field names its
variable, an unset or empty one keeps the default, and a bad value is a `WeatherConfigError`
naming the variable and the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from livability import config
from livability.config import env
from livability.weather.client import FREE_TIER_CALLS_PER_MINUTE, OWM_BASE_URL
from livability.weather.errors import WeatherConfigError
from livability.weather.locations import DEFAULT_GRID, Location, read_locations

# The tick's deadline for calls, waits and reads: the function's timeout (60 s) less the publish.
DEFAULT_BUDGET = 45.0

_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?$")
_SECRET = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")


def _base_url(text: str) -> str:
    if not _BASE_URL.match(text):
        raise ValueError(f"{text!r} is not http(s)://HOST[:PORT]")
    return text.rstrip("/")


def base_url(text: str, variable: str = "OPENWEATHER_BASE_URL") -> str:
    """An OpenWeatherMap address, http(s)://HOST[:PORT], its errors naming `variable`."""
    return config.parsed(variable, text, _base_url, WeatherConfigError)


def _emulator(text: str) -> str:
    """SECRET_MANAGER_EMULATOR_HOST is HOST:PORT; a scheme is accepted."""
    return _base_url(text if text.startswith(("http://", "https://")) else f"http://{text}")


def _key(text: str) -> str | None:
    return text.strip() or None


_secret = config.pattern(_SECRET, "projects/PROJECT/secrets/SECRET/versions/VERSION")


def _calls_per_minute(text: str) -> int:
    return int(config.number(1, 1e6)(text))


@dataclass(frozen=True)
class WeatherSettings:
    """The poller's own settings; read once by its entry point (`from_env`)."""

    # projects/P/secrets/S/versions/V
    api_key_secret: str | None = field(
        default=None, metadata=env("OPENWEATHER_API_KEY_SECRET", _secret)
    )
    # Local runs; never printed.
    api_key: str | None = field(default=None, repr=False, metadata=env("OPENWEATHER_API_KEY", _key))
    # None: the homes in the warehouse.
    locations: tuple[Location, ...] | None = field(
        default=None, metadata=env("LIVABILITY_WEATHER_LOCATIONS", read_locations)
    )
    grid: float = field(
        default=DEFAULT_GRID, metadata=env("LIVABILITY_WEATHER_GRID", config.number(1e-4, 10.0))
    )
    base_url: str = field(default=OWM_BASE_URL, metadata=env("OPENWEATHER_BASE_URL", _base_url))
    calls_per_minute: int = field(
        default=FREE_TIER_CALLS_PER_MINUTE,
        metadata=env("OPENWEATHER_CALLS_PER_MINUTE", _calls_per_minute),
    )
    budget_seconds: float = field(
        default=DEFAULT_BUDGET, metadata=env("LIVABILITY_WEATHER_BUDGET_S", config.number(1, 3600))
    )
    # http://HOST:PORT
    secret_emulator: str | None = field(
        default=None, metadata=env("SECRET_MANAGER_EMULATOR_HOST", _emulator)
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WeatherSettings:
        """The variables the fields name (`livability.config.variables(WeatherSettings)`)."""
        return config.from_env(cls, environ, WeatherConfigError)
