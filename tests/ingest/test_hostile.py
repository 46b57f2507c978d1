"""Property-based: whatever a sender puts in a Pub/Sub message, the event processor answers
200 (only a backend failure may be a 5xx), stores every valid row once, and dead-letters
every invalid row or poison message once, even when Pub/Sub delivers the message twice.

Messages go through functions-framework's real app, as the platform calls it. Rows come
from strategies built on the contract's own ranges (`schemas/tables.toml`), mixed with
arbitrary JSON and hostile strings and numbers. Deterministic: derandomized, no example
database, so CI sees the same examples every run.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import flask.testing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livability.settings import Settings, shared_warehouse
from schemas import registry
from schemas.validation import RowError, row_id, validate_row
from tests.support.pubsub import binary_headers

SENSOR = registry()["sensor_thermo_beacon"]
WEATHER = registry()["weather_data"]
TABLES = {t.name: t for t in (SENSOR, WEATHER)}

HOSTILE = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    # One warehouse for the test; every example starts by emptying its tables.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def bounds(table: Any, column: str) -> tuple[Any, Any]:
    return table.ranges[column]  # type: ignore[no-any-return]


# --- Valid rows, from the contract's ranges ----------------------------------------------------

T_LOW, T_HIGH = bounds(SENSOR, "timestamp")
moments = st.datetimes(
    min_value=T_LOW.replace(tzinfo=None),
    max_value=T_HIGH.replace(tzinfo=None),
    timezones=st.just(UTC),
)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)  # storable strings


def in_range(table: Any, column: str) -> st.SearchStrategy[Any]:
    low, high = bounds(table, column)
    if isinstance(low, int):
        return st.integers(low, high)
    return st.floats(low, high) | st.integers(int(low) + 1, int(high) - 1)


def stamp(moment: datetime, style: int) -> str:
    """The timestamp formats senders use: `Z`, BigQuery export's `+00:00`, no offset."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text + ("Z", "+00:00", "")[style]


def optional(
    draw: st.DrawFn, data: dict[str, Any], key: str, values: st.SearchStrategy[Any]
) -> None:
    choice = draw(st.integers(0, 2))  # omitted, null, or a value
    if choice:
        data[key] = draw(values) if choice == 2 else None


points = st.builds(
    lambda lon, lat: f"POINT({lon!r} {lat!r})",
    st.floats(-180, 180),
    st.floats(-90, 90),
)


@st.composite
def sensor_rows(draw: st.DrawFn) -> dict[str, Any]:
    moment = draw(moments)
    as_text = draw(st.booleans())  # BigQuery's export writes INTEGER as a string
    mac, home = draw(in_range(SENSOR, "data.mac")), draw(in_range(SENSOR, "data.home_id"))
    data: dict[str, Any] = {
        "mac": str(mac) if as_text else mac,
        "home_id": str(home) if as_text else home,
    }
    optional(draw, data, "temperature", in_range(SENSOR, "data.temperature"))
    optional(draw, data, "humidity", in_range(SENSOR, "data.humidity"))
    optional(draw, data, "location", points)
    if draw(st.booleans()):
        data["battery"] = draw(st.integers(0, 100))  # undeclared: dropped
    row = {
        "day": moment.date().isoformat(),
        "timestamp": stamp(moment, draw(st.integers(0, 2))),
        "data": data,
    }
    if draw(st.booleans()):
        row["home_id"] = home  # a sender may repeat the derived column
    return row


@st.composite
def weather_rows(draw: st.DrawFn) -> dict[str, Any]:
    moment = draw(moments)
    data: dict[str, Any] = {}
    for column in ("temperature", "humidity", "pressure", "wind_direction", "wind_speed", "clouds"):
        optional(draw, data, column, in_range(WEATHER, f"data.{column}"))
    for column in ("sunrise", "sunset"):
        optional(draw, data, column, moments.map(lambda m: stamp(m, 0)))
    optional(draw, data, "description", texts)
    optional(draw, data, "location", points)
    return {"day": moment.date().isoformat(), "timestamp": stamp(moment, 0), "data": data}


VALID = {"sensor_thermo_beacon": sensor_rows(), "weather_data": weather_rows()}

# --- Invalid rows: arbitrary JSON, and valid rows with one hostile value ----------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
not_objects = json_values.filter(lambda v: not isinstance(v, dict))
objects_without_data = st.dictionaries(texts, json_values, max_size=4).map(
    lambda d: {k: v for k, v in d.items() if k != "data"}
)
lone_surrogates = st.characters(categories=["Cs"]).map(lambda c: f"x{c}")


def set_data(
    key: str, values: st.SearchStrategy[Any]
) -> st.SearchStrategy[Callable[[dict[str, Any]], None]]:
    return values.map(lambda v: lambda row: row["data"].__setitem__(key, v))


def set_top(
    key: str, values: st.SearchStrategy[Any]
) -> st.SearchStrategy[Callable[[dict[str, Any]], None]]:
    return values.map(lambda v: lambda row: row.__setitem__(key, v))


def shift_day(row: dict[str, Any]) -> None:
    row["day"] = (datetime.fromisoformat(row["day"]) + timedelta(days=1)).date().isoformat()


COMMON_BREAKS = [
    set_top("day", st.sampled_from(["9999-12-31", "0001-01-01", "2024-13-01", "1_000"])),
    set_top(
        "timestamp", st.sampled_from(["9999-12-31T00:00:00Z", "yesterday", "2024-11-29T25:00:00Z"])
    ),
    set_top("data", not_objects),
    st.just(shift_day),
]
BREAKS = {
    "sensor_thermo_beacon": st.one_of(
        *COMMON_BREAKS,
        set_data(
            "temperature",
            st.floats(85.001, 1e300) | st.sampled_from(["1_0", "\u0661\u0662", True, "warm"]),
        ),
        set_data(
            "home_id", st.integers(-(10**20), 0) | st.sampled_from(["1_000", "\u0663", 1.5, None])
        ),
        set_data("mac", st.integers(2**48, 10**25) | st.sampled_from(["12a", "\uff11"])),
        set_data(
            "location",
            lone_surrogates | st.sampled_from(["POINT(1_0 5)", "POINT(nan 1)", "POINT(200 0)"]),
        ),
    ),
    "weather_data": st.one_of(
        *COMMON_BREAKS,
        set_data("description", lone_surrogates | st.integers()),
        set_data("pressure", st.floats(1090.5, 1e300) | st.floats(-1e300, 849.5)),
        set_data(
            "sunrise", st.sampled_from(["07:47", "9999-01-01T00:00:00Z", "1999-12-31T23:59:59Z"])
        ),
    ),
}


def _broken(pair: tuple[dict[str, Any], Callable[[dict[str, Any]], None]]) -> dict[str, Any]:
    row, breaking = copy.deepcopy(pair[0]), pair[1]
    breaking(row)
    return row


# Hostile values for any column with a type or range: none is valid for any of them.
HOSTILE_VALUES = (
    lone_surrogates
    | st.integers(10**20, 10**4000)  # beyond INT64 and any range; JSON-encodable still
    | st.sampled_from(["1_000", "\u0661\u0662\u0663", "\uff15", " 1", "nan", "-Infinity", "0x1F"])
)


def _hostile(table: str) -> st.SearchStrategy[Callable[[dict[str, Any]], None]]:
    leaves = dict(TABLES[table].leaves())
    columns = [p for p, f in leaves.items() if p.startswith("data.") and f.type != "STRING"]
    names = sorted(p.removeprefix("data.") for p in columns)
    return st.sampled_from(names).flatmap(lambda c: set_data(c, HOSTILE_VALUES))


def invalid_rows(table: str) -> st.SearchStrategy[Any]:
    broken = st.tuples(VALID[table], BREAKS[table] | _hostile(table)).map(_broken)
    return broken | broken | not_objects | objects_without_data


# --- Messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    body: dict[str, Any]  # the push body
    table: str | None  # where its valid rows go; None for a poison message
    valid: tuple[Any, ...] = ()
    invalid: int = 0  # rows to be dead-lettered


def push(data: bytes | str | Any, attributes: Any, message_id: Any = "m-1") -> dict[str, Any]:
    encoded = base64.b64encode(data).decode() if isinstance(data, bytes) else data
    return {
        "message": {"data": encoded, "attributes": attributes, "messageId": message_id},
        "subscription": "projects/test-proj/subscriptions/event-processor",
    }


@st.composite
def row_messages(draw: st.DrawFn) -> Message:
    table = draw(st.sampled_from(sorted(TABLES)))
    flags = draw(st.lists(st.booleans(), min_size=1, max_size=6))  # True: a valid row
    rows = [draw(VALID[table]) if ok else draw(invalid_rows(table)) for ok in flags]
    body: Any = (
        rows[0] if len(rows) == 1 and isinstance(rows[0], dict) and draw(st.booleans()) else rows
    )
    attributes = {
        "table_id": table,
        **({"dataset_id": "sensor_data"} if draw(st.booleans()) else {}),
    }
    data = json.dumps(body).encode()  # ensure_ascii: a lone surrogate travels as "\\ud800"
    return Message(
        push(data, attributes),
        table,
        valid=tuple(r for r, ok in zip(rows, flags, strict=True) if ok),
        invalid=flags.count(False),
    )


# Poison: no retry can fix these; each is one dead letter and stores nothing. Named and
# parametrized, so each is exercised on every run (a sampled one might not be).
POISON_BODIES = {
    "nested 50k deep": b"[" * 50_000 + b"]" * 50_000,
    "integer of 5,000 digits": b'[{"data": {"mac": ' + b"7" * 5000 + b"}}]",
    "NaN": b'[{"data": {"temperature": NaN}}]',
    "Infinity": b'[{"data": {"temperature": Infinity}}]',
    "duplicate keys": b'{"day": 1, "day": 2}',
    "byte-order mark": b"\xef\xbb\xbf[]",
    "empty array": b"[]",
    "null": b"null",
    "empty": b"",
    "not UTF-8": b"\xff\xfe\x00",
}
POISON_ATTRIBUTES: dict[str, Any] = {
    "scores table": {"table_id": "livability_scores"},
    "dead-letter table": {"table_id": "dead_letter"},
    "unknown table": {"table_id": "users"},
    "lone surrogate": {"table_id": "\ud800"},
    "number": {"table_id": 5},
    "other dataset": {"table_id": "sensor_thermo_beacon", "dataset_id": "billing"},
    "no table_id": {},
    "a list": ["table_id"],
    "a string": "sensor_thermo_beacon",
}
POISON_ENVELOPES: dict[str, tuple[Any, Any]] = {  # (message.data, message.messageId)
    "data not base64": ("%%% not base64", "m-1"),
    "data a number": (12, "m-1"),
    "data a list": (["x"], "m-1"),
    "data not ASCII": ("\u00e9", "m-1"),
    "messageId a number": (None, 12345),
    "messageId a list": (None, ["m"]),
    "messageId of 300 characters": (None, "9" * 300),
}

# --- The properties ----------------------------------------------------------------------------


def state(settings_: Settings) -> tuple[dict[str, list[str]], int]:
    warehouse = shared_warehouse(settings_)
    stored = {
        name: sorted(
            warehouse.query(f"SELECT row_id FROM sensor_data.{name}").column("row_id").to_pylist()
        )
        for name in TABLES
    }
    count = warehouse.query("SELECT count(*) AS n FROM sensor_data.dead_letter").column("n")
    return stored, int(count[0].as_py())


def empty(settings_: Settings) -> None:
    warehouse = shared_warehouse(settings_)
    for name in (*TABLES, "dead_letter"):
        warehouse.query(f"DELETE FROM sensor_data.{name}")


def deliver_twice(client: flask.testing.FlaskClient, settings_: Settings, message: Message) -> int:
    """Post `message` as Pub/Sub would, twice: both answered 200, the second changing
    nothing, and exactly the message's valid rows stored. Returns the dead letters."""
    empty(settings_)
    headers = {**binary_headers("e-1"), "Content-Type": "application/json"}
    expected: dict[str, list[str]] = {name: [] for name in TABLES}
    if message.table is not None:
        table = TABLES[message.table]
        ids = {row_id(table, validate_row(table, row)) for row in message.valid}
        expected[message.table] = sorted(ids)
    outcomes = []
    for _ in range(2):  # Pub/Sub delivers at least once
        response = client.post("/", data=json.dumps(message.body), headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        outcomes.append(state(settings_))
    assert outcomes[0] == outcomes[1]
    stored, dead = outcomes[0]
    assert stored == expected
    return dead


@HOSTILE
@given(message=row_messages())
def test_valid_rows_land_once_and_invalid_rows_are_dead_lettered_once(
    client: flask.testing.FlaskClient, settings: Settings, message: Message
) -> None:
    assert deliver_twice(client, settings, message) == message.invalid


POISON = settings(HOSTILE, max_examples=2)
SENSOR_ONLY = {"table_id": "sensor_thermo_beacon"}


@pytest.mark.parametrize("body", POISON_BODIES)
@POISON
@given(valid=st.lists(sensor_rows(), max_size=2))
def test_poison_body_is_one_dead_letter(
    client: flask.testing.FlaskClient,
    settings: Settings,
    body: str,
    valid: list[dict[str, Any]],
) -> None:
    # Valid rows beside the poison do not land: the message as a whole cannot be read.
    data = POISON_BODIES[body]
    if data.endswith(b"]") and len(data) > 2 and valid:
        data = data[:-1] + b", " + json.dumps(valid)[1:-1].encode() + b"]"
    assert deliver_twice(client, settings, Message(push(data, SENSOR_ONLY), None)) == 1


@pytest.mark.parametrize("attributes", POISON_ATTRIBUTES)
@POISON
@given(rows=st.lists(sensor_rows(), min_size=1, max_size=3))
def test_valid_rows_under_poison_attributes_are_one_dead_letter(
    client: flask.testing.FlaskClient,
    settings: Settings,
    attributes: str,
    rows: list[dict[str, Any]],
) -> None:
    body = push(json.dumps(rows).encode(), POISON_ATTRIBUTES[attributes])
    assert deliver_twice(client, settings, Message(body, None)) == 1


@pytest.mark.parametrize("envelope", POISON_ENVELOPES)
@POISON
@given(rows=st.lists(sensor_rows(), min_size=1, max_size=3))
def test_poison_envelope_is_one_dead_letter(
    client: flask.testing.FlaskClient,
    settings: Settings,
    envelope: str,
    rows: list[dict[str, Any]],
) -> None:
    data, message_id = POISON_ENVELOPES[envelope]
    if data is None:
        data = json.dumps(rows).encode()
    body = push(data, SENSOR_ONLY, message_id)
    assert deliver_twice(client, settings, Message(body, None)) == 1


@HOSTILE
@given(
    valid=st.lists(weather_rows(), max_size=3),
    column=st.sampled_from(["day", "timestamp", "data.description", "data.location"]),
    text=st.tuples(texts, st.characters(categories=["Cs"]), texts).map("".join),
)
def test_a_lone_surrogate_in_any_string_costs_its_row_only(
    client: flask.testing.FlaskClient,
    settings: Settings,
    valid: list[dict[str, Any]],
    column: str,
    text: str,
) -> None:
    hostile = {"day": "2024-11-29", "timestamp": "2024-11-29T14:00:00Z", "data": {}}
    if column.startswith("data."):
        hostile["data"][column.removeprefix("data.")] = text
    else:
        hostile[column] = text
    data = json.dumps([*valid, hostile]).encode()  # the surrogate travels as a \u escape
    message = Message(push(data, {"table_id": "weather_data"}), "weather_data", tuple(valid), 1)
    assert deliver_twice(client, settings, message) == 1


@settings(HOSTILE, max_examples=20)
@given(data=st.binary(max_size=40))
def test_random_bytes_store_nothing_and_are_dead_lettered(
    client: flask.testing.FlaskClient, settings: Settings, data: bytes
) -> None:
    # Random bytes may happen to be a JSON list of several (invalid) rows: at least one.
    assert deliver_twice(client, settings, Message(push(data, SENSOR_ONLY), None)) >= 1


@HOSTILE
@given(rows=st.lists(sensor_rows() | weather_rows(), min_size=1, max_size=5))
def test_valid_rows_from_the_contract_strategies_all_validate(rows: list[dict[str, Any]]) -> None:
    """The oracle of the properties above: the strategies' valid rows are valid."""
    for row in rows:
        table = SENSOR if "mac" in row["data"] else WEATHER
        assert validate_row(table, json.loads(json.dumps(row)))["row_id"]


@pytest.mark.parametrize("table", sorted(TABLES))
@HOSTILE
@given(data=st.data())
def test_invalid_rows_from_the_strategies_are_refused(table: str, data: st.DataObject) -> None:
    """The other oracle: every row the strategies break is refused by its table."""
    row = data.draw(invalid_rows(table))
    with pytest.raises(RowError):
        validate_row(TABLES[table], json.loads(json.dumps(row)))
