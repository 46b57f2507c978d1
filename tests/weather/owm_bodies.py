"""Real OpenWeatherMap bodies for the weather tests, with where each comes from.

- `ZOCCA`: the example response of OpenWeatherMap's current-weather documentation
  (https://openweathermap.org/current, "Example of API response", the call
  `lat=44.34&lon=10.99`), verbatim. It is in standard units (Kelvin), as the documented call
  has no `units=metric`.
- `LUTON`: the same structure with the values of a real observation of the reference PoC's
  archived week (../shared/data/archive/2024-12-01/weather_data, the row polled at
  2024-12-01T11:18:21.537Z near Luton: 11.5 °C, 97 %, 1013 hPa, wind 180° at 4.63 m/s,
  75 % clouds, "broken clouds", sunrise 07:47:22, sunset 15:54:40 UTC), as OWM answers it
  with `units=metric`. Its `dt` (11:10:00 UTC) is an observation time before that poll.
- Errors as OpenWeatherMap sends them (openweathermap.org/faq#error401 and the API's
  error bodies): 401 and 429 carry `cod` as a number, 404 as the string "404".
"""

from __future__ import annotations

import copy
from typing import Any

KEY = "0123456789abcdef0123456789abcdef"  # the shape of an OWM key: 32 hex characters

ZOCCA: dict[str, Any] = {
    "coord": {"lon": 10.99, "lat": 44.34},
    "weather": [{"id": 501, "main": "Rain", "description": "moderate rain", "icon": "10d"}],
    "base": "stations",
    "main": {
        "temp": 298.48,
        "feels_like": 298.74,
        "temp_min": 297.56,
        "temp_max": 300.05,
        "pressure": 1015,
        "humidity": 64,
        "sea_level": 1015,
        "grnd_level": 933,
    },
    "visibility": 10000,
    "wind": {"speed": 0.62, "deg": 349, "gust": 1.18},
    "rain": {"1h": 3.16},
    "clouds": {"all": 100},
    "dt": 1661870592,
    "sys": {
        "type": 2,
        "id": 2075663,
        "country": "IT",
        "sunrise": 1661834187,
        "sunset": 1661882248,
    },
    "timezone": 7200,
    "id": 3163858,
    "name": "Zocca",
    "cod": 200,
}

LUTON_DT = 1733051400  # 2024-12-01T11:10:00Z
LUTON: dict[str, Any] = {
    "coord": {"lon": -0.4147, "lat": 51.8783},
    "weather": [{"id": 803, "main": "Clouds", "description": "broken clouds", "icon": "04d"}],
    "base": "stations",
    "main": {
        "temp": 11.5,
        "feels_like": 11.21,
        "temp_min": 10.93,
        "temp_max": 11.98,
        "pressure": 1013,
        "humidity": 97,
        "sea_level": 1013,
        "grnd_level": 1000,
    },
    "visibility": 10000,
    "wind": {"speed": 4.63, "deg": 180},
    "clouds": {"all": 75},
    "dt": LUTON_DT,
    "sys": {
        "type": 2,
        "id": 2019646,
        "country": "GB",
        "sunrise": 1733039242,  # 2024-12-01T07:47:22Z
        "sunset": 1733068480,  # 2024-12-01T15:54:40Z
    },
    "timezone": 0,
    "id": 2643339,
    "name": "Luton",
    "cod": 200,
}

# The archived row LUTON reproduces, as BigQuery exported it.
ARCHIVE_LINE = (
    '{"day":"2024-12-01","timestamp":"2024-12-01T11:18:21.537+00:00","data":{"temperature":'
    '11.5,"humidity":97,"pressure":1013,"wind_direction":180,"wind_speed":4.63,"sunrise":'
    '"2024-12-01T07:47:22+00:00","sunset":"2024-12-01T15:54:40+00:00","clouds":75,'
    '"description":"broken clouds","location":"POINT(-0.41472 51.87833)"}}'
)

UNAUTHORIZED = {
    "cod": 401,
    "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
}
NOT_FOUND = {"cod": "404", "message": "city not found"}
TOO_MANY = {
    "cod": 429,
    "message": "Your account is temporary blocked due to exceeding of requests limitation of "
    "your subscription type. Please choose the proper subscription "
    "https://openweathermap.org/price",
}


def luton(**changes: Any) -> dict[str, Any]:
    """LUTON with top-level values replaced (a later `dt`, say)."""
    body = copy.deepcopy(LUTON)
    body.update(changes)
    return body
