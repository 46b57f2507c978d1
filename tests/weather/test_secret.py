"""The API key from Secret Manager: the real client (REST) against the `drongo` server.

Runs `drongo server` on 127.0.0.1 (../shared/EMULATORS.md: usable over REST) and the real
google-cloud-secret-manager client. Not proven here: IAM (secretAccessor), ADC and the
gRPC transport the function uses in the cloud.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from livability.weather.errors import SecretError, WeatherConfigError
from livability.weather.secret import api_key, read_secret
from livability.weather.settings import WeatherSettings
from tests.weather.fixtures import create_secret, drongo_server
from tests.weather.owm_bodies import KEY


@pytest.fixture(scope="module")
def drongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with drongo_server(tmp_path_factory.mktemp("drongo")) as endpoint:
        yield endpoint


def test_the_key_is_read_from_the_latest_version(drongo: str) -> None:
    name = create_secret(drongo, "OPENWEATHER_API_KEY", KEY + "\n")  # `echo` adds a newline

    assert read_secret(name, emulator=drongo) == KEY


def test_settings_name_the_secret_and_the_key_comes_from_it(drongo: str) -> None:
    name = create_secret(drongo, "OWM_SETTINGS", KEY)
    config = WeatherSettings.from_env(
        {
            "OPENWEATHER_API_KEY_SECRET": name,
            "SECRET_MANAGER_EMULATOR_HOST": drongo,
            "OPENWEATHER_API_KEY": "a-local-key-that-the-secret-wins-over",
        }
    )

    assert api_key(config) == KEY
    assert KEY not in repr(config)
    assert "a-local-key" not in repr(config)


def test_a_missing_secret_is_a_backend_error_naming_it(drongo: str) -> None:
    name = "projects/test-proj/secrets/NO_SUCH_SECRET/versions/latest"
    with pytest.raises(SecretError, match=r"cannot read secret projects/test-proj/secrets/NO_SUCH"):
        read_secret(name, emulator=drongo)


def test_an_unreachable_secret_manager_is_a_backend_error(tmp_path: Path) -> None:
    # A port nothing listens on: the client's own retries end in a ServiceUnavailable.
    name = "projects/test-proj/secrets/OPENWEATHER_API_KEY/versions/latest"
    with pytest.raises(SecretError, match=r"^cannot read secret projects/test-proj/"):
        read_secret(name, emulator="http://127.0.0.1:9")


def test_without_secret_or_key_the_error_names_both_variables() -> None:
    with pytest.raises(
        WeatherConfigError,
        match=r"^OPENWEATHER_API_KEY_SECRET: not set, and no OPENWEATHER_API_KEY",
    ):
        api_key(WeatherSettings.from_env({}))
