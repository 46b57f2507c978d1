"""The weather poller's failures, by family: a setting, the key's secret, one location."""

from __future__ import annotations

from livability.config import ConfigError
from livability.ports import BackendError


class WeatherConfigError(ConfigError):
    """A weather setting the poller cannot use; the message names the variable and value."""


class SecretError(BackendError):
    """Secret Manager did not give the API key (unreachable, missing, or not allowed)."""


class LocationError(Exception):
    """One location could not be polled; the message is the reason, without the key."""


class KeyRejectedError(LocationError):
    """OpenWeatherMap refused the API key (401): no other call can succeed."""


class RateLimitedError(LocationError):
    """OpenWeatherMap kept answering 429 through the backoff."""


class BudgetSpentError(LocationError):
    """The tick's deadline leaves no time for this call (or its wait): the rest of the
    locations are not polled this tick."""
