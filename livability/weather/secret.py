"""The OpenWeatherMap API key: from Secret Manager when a secret is named, else the variable.

The key is re-read on every tick, so a new secret version heals the next one. Errors name the
secret, never its value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from livability.weather.errors import SecretError, WeatherConfigError
from schemas.validation import shown

if TYPE_CHECKING:
    from livability.weather.settings import WeatherSettings

SECRET_TIMEOUT = 10.0


def api_key(config: WeatherSettings, *, client: Any = None) -> str:
    """The OpenWeatherMap key: from Secret Manager when a secret is named, else the variable."""
    if config.api_key_secret is not None:
        return read_secret(config.api_key_secret, emulator=config.secret_emulator, client=client)
    if config.api_key is not None:
        return config.api_key
    raise WeatherConfigError(
        "OPENWEATHER_API_KEY_SECRET: not set, and no OPENWEATHER_API_KEY either "
        "(a Secret Manager version name, or the key itself for local runs)"
    )


def read_secret(name: str, *, emulator: str | None = None, client: Any = None) -> str:
    """The payload of a Secret Manager version, as text. Errors name the secret, never its value."""
    import requests
    from google.api_core import exceptions
    from google.auth.exceptions import GoogleAuthError

    try:
        if client is None:
            client = _secret_client(emulator)
        response = client.access_secret_version(name=name, timeout=SECRET_TIMEOUT)
    # The REST transport lets requests' own errors through (a refused connection, say).
    except (exceptions.GoogleAPIError, GoogleAuthError, requests.RequestException) as err:
        kind = type(err).__name__
        raise SecretError(f"cannot read secret {name}: {kind}: {_api_message(err)}") from None
    try:
        key = bytes(response.payload.data).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretError(f"secret {name} is not UTF-8 text") from None
    if not key:
        raise SecretError(f"secret {name} is empty")
    return key


def _secret_client(emulator: str | None) -> Any:
    from google.cloud import secretmanager

    if emulator is None:
        return secretmanager.SecretManagerServiceClient()
    from google.auth.credentials import AnonymousCredentials

    return secretmanager.SecretManagerServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator},
    )


def _api_message(err: BaseException) -> str:
    message = getattr(err, "message", None)
    return shown(str(message if message is not None else err))
