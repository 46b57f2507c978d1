"""OpenWeatherMap bodies → `weather_data` rows, checked against the contract and the archive.

Runs the mapping and the contract's validator (`schemas.validation`) on real bodies: the
documented example response and an observation of the reference PoC's archived week
(tests/weather/owm_bodies.py says where each comes from). No server involved.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from livability.weather.errors import LocationError
from livability.weather.locations import Location
from livability.weather.mapping import to_row
from schemas import registry
from schemas.validation import RowError, validate_row
from tests.weather.owm_bodies import ARCHIVE_LINE, LUTON, ZOCCA, luton

WEATHER = registry()["weather_data"]
LUTON_POINT = Location(51.87833, -0.41472)  # the reference's configured point


def test_a_luton_body_maps_to_the_archived_row_of_the_reference() -> None:
    row = validate_row(WEATHER, to_row(LUTON, LUTON_POINT))
    archived = validate_row(WEATHER, json.loads(ARCHIVE_LINE))

    assert row["data"] == archived["data"]
    observed = datetime(2024, 12, 1, 11, 10, tzinfo=UTC)
    assert (row["day"], row["timestamp"], row["observed_at"]) == (
        date(2024, 12, 1),
        observed,
        observed,
    )
    # The archived row predates observed_at: NULL, and its key is the one it had before
    # observed_at existed (pinned; tests/schemas/test_validation.py pins another archived row's).
    assert archived["observed_at"] is None
    assert archived["row_id"] == "fef83859207110240d731e733be14539"


def test_the_documented_example_maps_field_by_field() -> None:
    # Zocca's body in metric units (the documented one is in Kelvin; see the next test).
    body = {**ZOCCA, "main": {**ZOCCA["main"], "temp": 25.33}}
    row = to_row(body, Location(44.34, 10.99))

    assert row == {
        "day": "2022-08-30",
        "timestamp": "2022-08-30T14:43:12+00:00",
        "observed_at": "2022-08-30T14:43:12+00:00",
        "data": {
            "temperature": 25.33,
            "humidity": 64,
            "pressure": 1015,
            "wind_direction": 349,
            "wind_speed": 0.62,
            "sunrise": "2022-08-30T04:36:27+00:00",
            "sunset": "2022-08-30T17:57:28+00:00",
            "clouds": 100,
            "description": "moderate rain",
            "location": "POINT(10.99 44.34)",
        },
    }
    assert validate_row(WEATHER, row)["row_id"]


def test_a_body_in_kelvin_breaks_the_contract_naming_the_field() -> None:
    # The documented example as is: 298.48 is Kelvin, what OWM sends without units=metric.
    with pytest.raises(RowError, match=r"data\.temperature: 298\.48 is outside"):
        validate_row(WEATHER, to_row(ZOCCA, Location(44.34, 10.99)))


def test_a_repoll_of_the_same_observation_is_the_same_row() -> None:
    first = validate_row(WEATHER, to_row(LUTON, LUTON_POINT))
    again = validate_row(WEATHER, to_row(luton(), LUTON_POINT))
    later = validate_row(WEATHER, to_row(luton(dt=LUTON["dt"] + 600), LUTON_POINT))
    elsewhere = validate_row(WEATHER, to_row(LUTON, Location(51.9, -0.4)))

    assert first["row_id"] == again["row_id"]
    assert len({first["row_id"], later["row_id"], elsewhere["row_id"]}) == 3


def test_optional_parts_missing_give_nulls() -> None:
    body = {"dt": LUTON["dt"], "main": {"temp": 3.2}, "cod": 200}
    row = validate_row(WEATHER, to_row(body, LUTON_POINT))

    assert row["data"]["temperature"] == 3.2
    assert row["data"]["wind_speed"] is None
    assert row["data"]["description"] is None
    assert row["data"]["sunrise"] is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"main": {"temp": 3.2}}, "dt: required field is missing"),
        ({"dt": "1733051400"}, 'dt: "1733051400" is not a Unix time'),
        ({"dt": True}, "dt: true is not a Unix time"),
        ({"dt": 1e300}, "dt: 1e+300 is not a representable Unix time"),
        ({"dt": LUTON["dt"], "main": [1, 2]}, "main: [1, 2] is not an object"),
        ({"dt": LUTON["dt"], "weather": "rain"}, 'weather: "rain" is not a list'),
        ({"dt": LUTON["dt"], "sys": {"sunrise": "dawn"}}, 'sys.sunrise: "dawn" is not a Unix time'),
    ],
    ids=["no dt", "dt text", "dt bool", "dt huge", "main list", "weather text", "sunrise text"],
)
def test_malformed_bodies_name_the_field(body: dict[str, object], reason: str) -> None:
    with pytest.raises(LocationError) as caught:
        to_row(body, LUTON_POINT)
    assert str(caught.value) == f"malformed body: {reason}"


def test_values_outside_the_contract_name_field_and_value() -> None:
    body = luton(main={**LUTON["main"], "humidity": 140})
    with pytest.raises(
        RowError, match=r"data\.humidity: 140 is outside the physical range 0\.\.100"
    ):
        validate_row(WEATHER, to_row(body, LUTON_POINT))
