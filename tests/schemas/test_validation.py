"""Row validation on real payloads: the PoC sample, archive lines, Pub/Sub messages."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import registry
from schemas.validation import RowError, row_id, to_json, validate_row

SENSOR = registry()["sensor_thermo_beacon"]
WEATHER = registry()["weather_data"]

# The sample row of the reference PoC's README: it has no home_id, which the table requires.
POC_SAMPLE = (
    '{"day": "2024-11-29", "timestamp": "2024-11-29T14:33:35.855Z", '
    '"data": {"mac": 123, "temperature": 22.938, "humidity": 43.312}}'
)
POC_SAMPLE_WITH_HOME = (
    '{"day": "2024-11-29", "timestamp": "2024-11-29T14:33:35.855Z", '
    '"data": {"mac": 123, "home_id": 1, "temperature": 22.938, "humidity": 43.312}}'
)
POC_ROW: dict[str, Any] = {
    "day": date(2024, 11, 29),
    "timestamp": datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC),
    "data": {"mac": 123, "home_id": 1, "temperature": 22.938, "humidity": 43.312, "location": None},
    "home_id": 1,  # derived from data.home_id, for BigQuery clustering
    # v3: the gateway's battery estimate; NULL when the sender has none. An identity column:
    # the pinned row_id below is the one v2 gave, and stays so whatever battery a copy has.
    "battery": None,
    # v4: the room type from the gateway's configuration; an identity column too.
    "room": None,
    # The idempotency key, pinned: the edge, the processor and the archive loader must agree
    # on it across releases, or a redelivery after an upgrade would be stored twice.
    "row_id": "d028ef0acfdc0cee19d023e41be5137e",
}

# First lines of the real archived week (../shared/data/archive/2024-12-01), as BigQuery's
# JSON export wrote them: INTEGER as strings, `+00:00` offsets, WKT, NULL columns omitted.
ARCHIVE_SENSOR_LINE = (
    '{"day":"2024-12-01","timestamp":"2024-12-01T00:07:53.216+00:00","data":{"mac":'
    '"79091822756114","home_id":"1","temperature":18.34,"humidity":66.99,'
    '"location":"POINT(-0.41472 51.87833)"}}'
)
ARCHIVE_SENSOR_NEXT_LINE = (
    '{"day":"2024-12-01","timestamp":"2024-12-01T00:17:53.363+00:00","data":{"mac":'
    '"79091822756114","home_id":"1","temperature":18.34,"humidity":67.18,'
    '"location":"POINT(-0.41472 51.87833)"}}'
)
ARCHIVE_WEATHER_LINE = (
    '{"day":"2024-12-01","timestamp":"2024-12-01T00:00:01.335+00:00","data":{"temperature":'
    '11.08,"humidity":93,"pressure":1019,"wind_direction":170,"wind_speed":5.66,"sunrise":'
    '"2024-12-01T07:47:22+00:00","sunset":"2024-12-01T15:54:40+00:00","clouds":100,'
    '"description":"overcast clouds"}}'
)
# The reading of ARCHIVE_SENSOR_LINE as the gateway publishes it to Pub/Sub.
PUBSUB_SENSOR_MESSAGE = (
    '{"day": "2024-12-01", "timestamp": "2024-12-01T00:07:53.216Z", "data": {"mac": '
    '79091822756114, "home_id": 1, "temperature": 18.34, "humidity": 66.99, '
    '"location": "POINT(-0.41472 51.87833)"}}'
)

ARCHIVE_SENSOR_ROW: dict[str, Any] = {
    "day": date(2024, 12, 1),
    "timestamp": datetime(2024, 12, 1, 0, 7, 53, 216000, tzinfo=UTC),
    "data": {
        "mac": 79091822756114,
        "home_id": 1,
        "temperature": 18.34,
        "humidity": 66.99,
        "location": "POINT(-0.41472 51.87833)",
    },
    "home_id": 1,
    "battery": None,  # archived rows predate the column
    "room": None,
    "row_id": "349e6926d05e8280702bf3fc7c0ef1d6",
}
ARCHIVE_WEATHER_ROW: dict[str, Any] = {
    "day": date(2024, 12, 1),
    "timestamp": datetime(2024, 12, 1, 0, 0, 1, 335000, tzinfo=UTC),
    "data": {
        "temperature": 11.08,
        "humidity": 93.0,
        "pressure": 1019.0,
        "wind_direction": 170.0,
        "wind_speed": 5.66,
        "sunrise": datetime(2024, 12, 1, 7, 47, 22, tzinfo=UTC),
        "sunset": datetime(2024, 12, 1, 15, 54, 40, tzinfo=UTC),
        "clouds": 100.0,
        "description": "overcast clouds",
        "location": None,
    },
    # Archived rows predate the column: the poll time is their only time.
    "observed_at": None,
    "row_id": "f615b53b409b4ac58735bf712b79a2e3",
}


def sensor_row(*, data: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """POC_SAMPLE_WITH_HOME with top-level and `data` values replaced."""
    row: dict[str, Any] = json.loads(POC_SAMPLE_WITH_HOME)
    row.update(top)
    row["data"].update(data or {})
    return row


def with_key(row: dict[str, Any], table: Any = SENSOR) -> dict[str, Any]:
    """`row` with the `row_id` its new content gives."""
    return {**row, "row_id": row_id(table, row)}


def problems_of(table: Any, row: Any) -> list[str]:
    with pytest.raises(RowError) as caught:
        validate_row(table, row)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


# --- Real payloads ----------------------------------------------------------------------------


def test_poc_sample_lacks_the_home_id() -> None:
    assert problems_of(SENSOR, json.loads(POC_SAMPLE)) == [
        "data.home_id: required field is missing"
    ]


def test_poc_sample_with_home_id_is_normalised() -> None:
    assert validate_row(SENSOR, json.loads(POC_SAMPLE_WITH_HOME)) == POC_ROW


def test_archive_sensor_line_is_normalised() -> None:
    row = validate_row(SENSOR, json.loads(ARCHIVE_SENSOR_LINE))

    assert row == ARCHIVE_SENSOR_ROW
    assert type(row["data"]["mac"]) is int
    assert type(row["data"]["home_id"]) is int


def test_archive_weather_line_is_normalised() -> None:
    row = validate_row(WEATHER, json.loads(ARCHIVE_WEATHER_LINE))

    assert row == ARCHIVE_WEATHER_ROW
    # Equality alone would let the integers of the JSON (`"humidity":93`) through as int.
    floats = ("temperature", "humidity", "pressure", "wind_direction", "wind_speed", "clouds")
    assert {k: type(row["data"][k]) for k in floats} == dict.fromkeys(floats, float)


def test_pubsub_message_is_normalised_like_the_archive_line() -> None:
    assert validate_row(SENSOR, json.loads(PUBSUB_SENSOR_MESSAGE)) == ARCHIVE_SENSOR_ROW


def test_constants_are_the_real_archive_lines(archive: Path) -> None:
    def first_line(table: str) -> str:
        with gzip.open(archive / "2024-12-01" / table / "000000000000.gz", "rt") as lines:
            return next(lines).rstrip("\n")

    assert first_line("sensor_thermo_beacon") == ARCHIVE_SENSOR_LINE
    assert first_line("weather_data") == ARCHIVE_WEATHER_LINE


@pytest.mark.parametrize("table", ["sensor_thermo_beacon", "weather_data"])
def test_every_row_of_the_real_week_validates(archive: Path, table: str) -> None:
    path = archive / "2024-12-01" / table / "000000000000.gz"
    with gzip.open(path, "rt") as lines:
        rows = [json.loads(line) for line in lines]

    failures = []
    for number, row in enumerate(rows, start=1):
        try:
            validate_row(registry()[table], row)
        except RowError as err:
            failures.append(f"{path}:{number}: {err}")

    assert len(rows) == {"sensor_thermo_beacon": 1152, "weather_data": 2014}[table]
    assert failures == []


# --- Idempotency key --------------------------------------------------------------------------


def test_row_id_is_the_same_for_archive_line_and_pubsub_message() -> None:
    from_archive = validate_row(SENSOR, json.loads(ARCHIVE_SENSOR_LINE))
    from_pubsub = validate_row(SENSOR, json.loads(PUBSUB_SENSOR_MESSAGE))

    assert row_id(SENSOR, from_archive) == row_id(SENSOR, from_pubsub)


def test_row_id_differs_for_another_reading() -> None:
    first = validate_row(SENSOR, json.loads(ARCHIVE_SENSOR_LINE))
    second = validate_row(SENSOR, json.loads(ARCHIVE_SENSOR_NEXT_LINE))
    retagged = {**first, "data": {**first["data"], "humidity": 67.0}}

    ids = {row_id(SENSOR, first), row_id(SENSOR, second), row_id(SENSOR, retagged)}

    assert len(ids) == 3


def test_battery_is_kept_but_left_out_of_the_row_id() -> None:
    row = validate_row(SENSOR, sensor_row(battery=87))

    assert row == {**POC_ROW, "battery": 87}  # same pinned row_id as without battery
    assert validate_row(SENSOR, sensor_row(battery=12))["row_id"] == POC_ROW["row_id"]


def test_observed_at_is_kept_but_left_out_of_the_row_id() -> None:
    line = {**json.loads(ARCHIVE_WEATHER_LINE), "observed_at": "2024-12-01T00:00:01.335Z"}
    row = validate_row(WEATHER, line)

    assert row == {**ARCHIVE_WEATHER_ROW, "observed_at": ARCHIVE_WEATHER_ROW["timestamp"]}


def test_battery_outside_0_to_100_is_rejected() -> None:
    assert problems_of(SENSOR, sensor_row(battery=101)) == [
        "battery: 101 is outside the physical range 0..100"
    ]


def test_row_id_includes_the_table() -> None:
    row = validate_row(SENSOR, json.loads(ARCHIVE_SENSOR_LINE))

    assert row_id(SENSOR, row) != row_id(WEATHER, row)


# --- Invalid rows, beside the valid bounds ----------------------------------------------------

OUT_OF_RANGE_TEMPERATURE = "is outside the physical range -40..85"


@pytest.mark.parametrize(
    ("row", "problems"),
    [
        pytest.param(
            sensor_row(data={"temperature": 85.01}),
            [f"data.temperature: 85.01 {OUT_OF_RANGE_TEMPERATURE}"],
            id="temperature above range",
        ),
        pytest.param(
            sensor_row(data={"temperature": -40.5}),
            [f"data.temperature: -40.5 {OUT_OF_RANGE_TEMPERATURE}"],
            id="temperature below range",
        ),
        pytest.param(
            sensor_row(data={"humidity": 100.5}),
            ["data.humidity: 100.5 is outside the physical range 0..100"],
            id="humidity above range",
        ),
        pytest.param(
            sensor_row(data=json.loads('{"temperature": NaN}')),
            ["data.temperature: NaN is not a finite number"],
            id="NaN",
        ),
        pytest.param(
            sensor_row(data=json.loads('{"temperature": Infinity}')),
            ["data.temperature: Infinity is not a finite number"],
            id="Infinity",
        ),
        pytest.param(
            sensor_row(data=json.loads('{"humidity": -Infinity}')),
            ["data.humidity: -Infinity is not a finite number"],
            id="-Infinity",
        ),
        pytest.param(
            sensor_row(data={"temperature": "warm"}),
            ['data.temperature: "warm" is not a number'],
            id="temperature a word",
        ),
        pytest.param(
            sensor_row(data={"temperature": True}),
            ["data.temperature: true is not a number"],
            id="temperature a boolean",
        ),
        pytest.param(
            sensor_row(data={"mac": 1.5}), ["data.mac: 1.5 is not an integer"], id="mac fraction"
        ),
        pytest.param(
            sensor_row(data={"mac": True}), ["data.mac: true is not an integer"], id="mac boolean"
        ),
        pytest.param(
            sensor_row(data={"mac": "12a"}), ['data.mac: "12a" is not an integer'], id="mac hex"
        ),
        pytest.param(
            sensor_row(data={"mac": "9223372036854775808"}),
            ['data.mac: "9223372036854775808" does not fit in INT64'],
            id="mac beyond INT64",
        ),
        pytest.param(
            sensor_row(day="2024-13-01"),
            ['day: "2024-13-01" is not a valid calendar date'],
            id="day month 13",
        ),
        pytest.param(
            sensor_row(day="29/11/2024"),
            ['day: "29/11/2024" is not a date (YYYY-MM-DD)'],
            id="day not ISO",
        ),
        pytest.param(
            sensor_row(timestamp="yesterday"),
            ['timestamp: "yesterday" is not an ISO 8601 timestamp'],
            id="timestamp a word",
        ),
        pytest.param(
            sensor_row(timestamp=1732890815),
            ["timestamp: 1732890815 is not an ISO 8601 timestamp string"],
            id="timestamp epoch seconds",
        ),
        pytest.param(
            sensor_row(data={"location": "POINT(200 10)"}),
            [
                'data.location: "POINT(200 10)" has longitude outside -180..180 '
                "or latitude outside -90..90"
            ],
            id="location off the globe",
        ),
        pytest.param(
            sensor_row(data={"location": "LINESTRING(0 0, 1 1)"}),
            [
                'data.location: "LINESTRING(0 0, 1 1)" is not a WKT point '
                "'POINT(longitude latitude)'"
            ],
            id="location not a point",
        ),
        pytest.param(
            sensor_row(data={"location": "POINT(east north)"}),
            ['data.location: "POINT(east north)" has non-numeric coordinates'],
            id="location words",
        ),
        pytest.param(
            {**sensor_row(), "data": "mac=123"},
            ['data: expected a JSON object, got "mac=123"'],
            id="data a string",
        ),
        pytest.param(
            {**sensor_row(), "data": [123, 1]},
            ["data: expected a JSON object, got [123, 1]"],
            id="data a list",
        ),
        pytest.param(
            {"day": "2024-11-29", "timestamp": "2024-11-29T14:33:35.855Z"},
            ["data: required field is missing"],
            id="data missing",
        ),
        pytest.param(
            sensor_row(day=None, data={"mac": None}),
            ["day: required field is missing", "data.mac: required field is missing"],
            id="nulls in required fields",
        ),
        pytest.param(
            [json.loads(POC_SAMPLE_WITH_HOME)],
            # Long values are cut to 60 characters in messages.
            [
                "row: expected a JSON object, got "
                '[{"day": "2024-11-29", "timestamp": "2024-11-29T14:33:35....'
            ],
            id="row a list",
        ),
        pytest.param(
            POC_SAMPLE_WITH_HOME,
            [
                'row: expected a JSON object, got "{\\"day\\": \\"2024-11-29\\", '
                '\\"timestamp\\": \\"2024-11-29T14...'
            ],
            id="row a string (JSON encoded twice)",
        ),
        pytest.param(
            sensor_row(day="2024-11-30"),
            [
                'day: "2024-11-30" is not the UTC date of timestamp '
                '"2024-11-29T14:33:35.855000+00:00" (expected 2024-11-29)'
            ],
            id="day not the timestamp's date",
        ),
        pytest.param(
            sensor_row(day="2024-11-30", timestamp="2024-11-30T00:30:00+02:00"),
            [
                'day: "2024-11-30" is not the UTC date of timestamp '
                '"2024-11-29T22:30:00+00:00" (expected 2024-11-29)'
            ],
            id="day the local date, not the UTC one",
        ),
        pytest.param(
            {
                "day": "29/11/2024",
                "timestamp": "yesterday",
                "data": {"mac": "12a", "temperature": 85.01, "humidity": "wet"},
            },
            [
                'day: "29/11/2024" is not a date (YYYY-MM-DD)',
                'timestamp: "yesterday" is not an ISO 8601 timestamp',
                'data.mac: "12a" is not an integer',
                "data.home_id: required field is missing",
                f"data.temperature: 85.01 {OUT_OF_RANGE_TEMPERATURE}",
                'data.humidity: "wet" is not a number',
            ],
            id="several problems",
        ),
    ],
)
def test_invalid_sensor_row_is_rejected_naming_field_and_value(
    row: Any, problems: list[str]
) -> None:
    assert problems_of(SENSOR, row) == problems


@pytest.mark.parametrize(
    ("row", "problems"),
    [
        pytest.param(
            {**json.loads(ARCHIVE_WEATHER_LINE), "data": {"pressure": 1100, "clouds": -1}},
            [
                "data.pressure: 1100 is outside the physical range 850..1090",
                "data.clouds: -1 is outside the physical range 0..100",
            ],
            id="pressure and clouds out of range",
        ),
        pytest.param(
            {**json.loads(ARCHIVE_WEATHER_LINE), "data": {"sunrise": "07:47"}},
            ['data.sunrise: "07:47" is not an ISO 8601 timestamp'],
            id="sunrise without date",
        ),
        pytest.param(
            {**json.loads(ARCHIVE_WEATHER_LINE), "data": {"description": 804}},
            ["data.description: 804 is not a string"],
            id="description a code",
        ),
        pytest.param(
            {**json.loads(ARCHIVE_WEATHER_LINE), "data": {"description": "rain " * 40 + "!"}},
            [
                'data.description: "rain rain rain rain rain rain rain rain rain rain rain r... '
                "is longer than 200 characters"
            ],
            id="description beyond the contract's length",
        ),
    ],
)
def test_invalid_weather_row_is_rejected_naming_field_and_value(
    row: Any, problems: list[str]
) -> None:
    assert problems_of(WEATHER, row) == problems


@pytest.mark.parametrize(
    "data",
    [
        {"temperature": -40},
        {"temperature": 85},
        {"humidity": 0},
        {"humidity": 100},
        {"temperature": -40.0, "humidity": 100.0},
    ],
    ids=["temperature -40", "temperature 85", "humidity 0", "humidity 100", "both as floats"],
)
def test_values_at_the_range_bounds_are_valid(data: dict[str, Any]) -> None:
    row = validate_row(SENSOR, sensor_row(data=data))

    floats = {k: float(v) for k, v in data.items()}  # a FLOAT column holds floats
    assert row == with_key({**POC_ROW, "data": {**POC_ROW["data"], **floats}})


def test_undeclared_fields_are_dropped() -> None:
    extra = sensor_row(data={"battery": 87, "rssi": -71}, gateway="pi-kitchen")

    assert validate_row(SENSOR, extra) == POC_ROW


def test_omitted_and_null_nullable_fields_become_none() -> None:
    row = sensor_row(data={"temperature": None})
    del row["data"]["humidity"]

    assert validate_row(SENSOR, row) == with_key(
        {**POC_ROW, "data": {**POC_ROW["data"], "temperature": None, "humidity": None}}
    )


def test_huge_integer_for_a_float_is_a_row_error() -> None:
    problems = problems_of(SENSOR, sensor_row(data={"temperature": 10**400}))

    assert len(problems) == 1
    assert problems[0].startswith("data.temperature: 1000")
    assert problems[0].endswith(" is not a finite number")


def test_timestamp_offset_beyond_the_calendar_is_a_row_error() -> None:
    row = sensor_row(day="0001-01-01", timestamp="0001-01-01T00:30:00+01:00")

    assert problems_of(SENSOR, row) == [
        'day: "0001-01-01" is outside the plausible range 2000-01-01..2099-12-31',
        'timestamp: "0001-01-01T00:30:00+01:00" is outside the years 0001-9999 in UTC',
    ]


@pytest.mark.parametrize(
    ("row", "problems"),
    [
        pytest.param(
            sensor_row(day="9999-12-31", timestamp="9999-12-31T12:00:00Z"),
            [
                'day: "9999-12-31" is outside the plausible range 2000-01-01..2099-12-31',
                'timestamp: "9999-12-31T12:00:00Z" is outside the plausible range '
                "2000-01-01T00:00:00Z..2099-12-31T23:59:59Z",
            ],
            id="year 9999",
        ),
        pytest.param(
            sensor_row(day="1999-12-31", timestamp="1999-12-31T23:59:59.999999Z"),
            [
                'day: "1999-12-31" is outside the plausible range 2000-01-01..2099-12-31',
                'timestamp: "1999-12-31T23:59:59.999999Z" is outside the plausible range '
                "2000-01-01T00:00:00Z..2099-12-31T23:59:59Z",
            ],
            id="a microsecond before 2000",
        ),
        pytest.param(
            sensor_row(data={"home_id": -5}),
            ["data.home_id: -5 is outside the physical range 1..9007199254740991"],
            id="home_id -5",
        ),
        pytest.param(
            sensor_row(data={"home_id": 0}),
            ["data.home_id: 0 is outside the physical range 1..9007199254740991"],
            id="home_id 0",
        ),
        pytest.param(
            sensor_row(data={"mac": 2**48}),
            ["data.mac: 281474976710656 is outside the physical range 0..281474976710655"],
            id="mac beyond 48 bits",
        ),
        pytest.param(
            sensor_row(data={"mac": "1_000"}),
            ['data.mac: "1_000" is not an integer'],
            id="integer with underscore",
        ),
        pytest.param(
            sensor_row(data={"temperature": "1_0"}),
            ['data.temperature: "1_0" is not a number'],
            id="float with underscore",
        ),
        pytest.param(
            sensor_row(data={"mac": "\u0661\u0662\u0663"}),
            ['data.mac: "\\u0661\\u0662\\u0663" is not an integer'],
            id="Arabic-Indic digits",
        ),
        pytest.param(
            sensor_row(data={"humidity": "\uff15\uff10"}),
            ['data.humidity: "\\uff15\\uff10" is not a number'],
            id="full-width digits",
        ),
        pytest.param(
            sensor_row(data={"location": "POINT(1_0 5)"}),
            ['data.location: "POINT(1_0 5)" has non-numeric coordinates'],
            id="coordinate with underscore",
        ),
        pytest.param(
            sensor_row(data={"location": "POINT(nan 5)"}),
            ['data.location: "POINT(nan 5)" has non-numeric coordinates'],
            id="coordinate NaN",
        ),
        pytest.param(
            sensor_row(data={"temperature": 10**5000}),
            ["data.temperature: <integer of 16610 bits> is not a finite number"],
            id="integer of 5,000 digits",
        ),
        pytest.param(
            {**sensor_row(), "home_id": 2},
            ["home_id: 2 differs from data.home_id 1"],
            id="derived home_id disagrees",
        ),
    ],
)
def test_implausible_values_are_rejected(row: Any, problems: list[str]) -> None:
    assert problems_of(SENSOR, row) == problems


def test_a_lone_surrogate_in_a_string_is_rejected() -> None:
    row = {**json.loads(ARCHIVE_WEATHER_LINE), "data": {"description": "\ud800"}}

    assert problems_of(WEATHER, row) == [
        'data.description: "\\ud800" is not valid Unicode (lone surrogate)'
    ]


def test_a_value_nested_beyond_the_recursion_limit_is_shown_not_raised() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]

    assert problems_of(SENSOR, sensor_row(data={"temperature": deep})) == [
        "data.temperature: <list nested too deeply to show> is not a number"
    ]


def test_negative_zero_has_the_row_id_of_zero() -> None:
    negative = validate_row(SENSOR, sensor_row(data={"temperature": -0.0}))
    positive = validate_row(SENSOR, sensor_row(data={"temperature": 0}))

    assert negative == positive
    assert str(negative["data"]["temperature"]) == "0.0"


def test_a_sender_may_send_the_derived_column_if_it_agrees() -> None:
    assert validate_row(SENSOR, {**sensor_row(), "home_id": "1"}) == POC_ROW


def test_a_row_id_sent_by_the_sender_is_ignored() -> None:
    assert validate_row(SENSOR, {**sensor_row(), "row_id": "forged"}) == POC_ROW


# --- Timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "utc"),
    [
        ("2024-11-29T16:33:35.855+02:00", datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC)),
        ("2024-11-29T09:33:35.855-05:00", datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC)),
        ("2024-11-29T14:33:35.855+00:00", datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC)),
        ("2024-11-29T14:33:35.855Z", datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC)),
        ("2024-11-29T14:33:35.855", datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC)),
    ],
    ids=["+02:00", "-05:00", "+00:00", "Z", "no offset is UTC"],
)
def test_timestamp_is_converted_to_aware_utc(timestamp: str, utc: datetime) -> None:
    row = validate_row(SENSOR, sensor_row(timestamp=timestamp))

    assert row["timestamp"] == utc
    assert row["timestamp"].tzinfo is UTC


@pytest.mark.parametrize(
    ("fraction", "microsecond"),
    [
        ("", 0),
        (".8", 800000),
        (".85", 850000),
        (".855", 855000),
        (".8551", 855100),
        (".85512", 855120),
        (".855123", 855123),
    ],
    ids=[f"{n} digits" for n in range(7)],
)
def test_timestamp_takes_0_to_6_fraction_digits(fraction: str, microsecond: int) -> None:
    row = validate_row(SENSOR, sensor_row(timestamp=f"2024-11-29T14:33:35{fraction}+00:00"))

    assert row["timestamp"] == datetime(2024, 11, 29, 14, 33, 35, microsecond, tzinfo=UTC)


# --- JSON out ---------------------------------------------------------------------------------


def test_to_json_of_a_sensor_row() -> None:
    assert to_json(ARCHIVE_SENSOR_ROW) == {
        "home_id": 1,
        "battery": None,
        "room": None,
        "row_id": "349e6926d05e8280702bf3fc7c0ef1d6",
        "day": "2024-12-01",
        "timestamp": "2024-12-01T00:07:53.216000Z",
        "data": {
            "mac": 79091822756114,
            "home_id": 1,
            "temperature": 18.34,
            "humidity": 66.99,
            "location": "POINT(-0.41472 51.87833)",
        },
    }


def test_to_json_of_a_weather_row() -> None:
    assert to_json(ARCHIVE_WEATHER_ROW) == {
        "row_id": "f615b53b409b4ac58735bf712b79a2e3",
        "day": "2024-12-01",
        "timestamp": "2024-12-01T00:00:01.335000Z",
        "data": {
            "temperature": 11.08,
            "humidity": 93.0,
            "pressure": 1019.0,
            "wind_direction": 170.0,
            "wind_speed": 5.66,
            "sunrise": "2024-12-01T07:47:22.000000Z",
            "sunset": "2024-12-01T15:54:40.000000Z",
            "clouds": 100.0,
            "description": "overcast clouds",
            "location": None,
        },
        "observed_at": None,
    }


@pytest.mark.parametrize(
    ("table", "line"),
    [(SENSOR, ARCHIVE_SENSOR_LINE), (WEATHER, ARCHIVE_WEATHER_LINE)],
    ids=["sensor", "weather"],
)
def test_to_json_validates_back_to_the_same_row(table: Any, line: str) -> None:
    row = validate_row(table, json.loads(line))

    assert validate_row(table, json.loads(json.dumps(to_json(row)))) == row


def test_the_room_type_is_one_of_the_five_and_outside_the_row_id() -> None:
    raw = json.loads(POC_SAMPLE_WITH_HOME)
    bedroom = validate_row(SENSOR, {**raw, "room": "bedroom"})
    assert bedroom == {**POC_ROW, "room": "bedroom"}  # same pinned row_id as without room
    assert problems_of(SENSOR, {**raw, "room": "attic"}) == [
        'room: "attic" is not one of bedroom, living, kitchen, bathroom, other'
    ]
