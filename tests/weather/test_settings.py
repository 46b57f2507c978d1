"""The poller's settings from the environment: every variable read, and a bad value named.

Runs `WeatherSettings.from_env` (the platform's settings mechanism, `livability.config`) on
explicit environments.
"""

from __future__ import annotations

import pytest

from livability.weather.errors import WeatherConfigError
from livability.weather.locations import Location
from livability.weather.settings import WeatherSettings

FULL = {
    "OPENWEATHER_API_KEY_SECRET": "projects/p/secrets/owm/versions/latest",
    "OPENWEATHER_API_KEY": "  0123abcd  ",
    "LIVABILITY_WEATHER_LOCATIONS": "51.9,-0.4; 44.34,10.99;51.9,-0.4",
    "LIVABILITY_WEATHER_GRID": "0.25",
    "OPENWEATHER_BASE_URL": "http://127.0.0.1:8000/",
    "OPENWEATHER_CALLS_PER_MINUTE": "600",
    "LIVABILITY_WEATHER_BUDGET_S": "30",
    "SECRET_MANAGER_EMULATOR_HOST": "127.0.0.1:8086",
}


def test_every_variable_is_read() -> None:
    assert WeatherSettings.from_env(FULL) == WeatherSettings(
        api_key_secret="projects/p/secrets/owm/versions/latest",
        api_key="0123abcd",
        locations=(Location(51.9, -0.4), Location(44.34, 10.99)),
        grid=0.25,
        base_url="http://127.0.0.1:8000",
        calls_per_minute=600,
        budget_seconds=30.0,
        secret_emulator="http://127.0.0.1:8086",
    )


def test_unset_and_empty_variables_keep_the_defaults() -> None:
    assert WeatherSettings.from_env({}) == WeatherSettings()
    assert WeatherSettings.from_env(dict.fromkeys(FULL, "")) == WeatherSettings()
    assert WeatherSettings.from_env({"OPENWEATHER_API_KEY": "   "}).api_key is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"OPENWEATHER_API_KEY_SECRET": "OPENWEATHER_API_KEY"},
            "OPENWEATHER_API_KEY_SECRET: 'OPENWEATHER_API_KEY' is not projects/PROJECT/secrets/",
        ),
        (
            {"LIVABILITY_WEATHER_LOCATIONS": "51.9;-0.4"},
            "LIVABILITY_WEATHER_LOCATIONS: location 1 '51.9' is not 'lat,lon' in degrees",
        ),
        (
            {"LIVABILITY_WEATHER_LOCATIONS": "95,10"},
            "LIVABILITY_WEATHER_LOCATIONS: location 1 '95,10': latitude 95.0 is outside -90..90",
        ),
        ({"LIVABILITY_WEATHER_GRID": "nan"}, "LIVABILITY_WEATHER_GRID: 'nan' is not a number"),
        ({"OPENWEATHER_BASE_URL": "ftp://x"}, "OPENWEATHER_BASE_URL: 'ftp://x' is not http(s)"),
        (
            {"OPENWEATHER_CALLS_PER_MINUTE": "0"},
            "OPENWEATHER_CALLS_PER_MINUTE: '0' is not a number from 1",
        ),
    ],
    ids=["secret name", "locations pair", "latitude", "grid", "base url", "calls"],
)
def test_bad_settings_name_the_variable_and_value(environ: dict[str, str], message: str) -> None:
    with pytest.raises(WeatherConfigError) as caught:
        WeatherSettings.from_env(environ)
    assert str(caught.value).startswith(message)
