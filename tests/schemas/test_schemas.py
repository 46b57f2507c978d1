"""Invariants of the table contract in `schemas/`, and proof that its consumers derive from it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from livability.adapters.duckdb_schema import duckdb_ddl
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.ports import InsertResult, WarehouseError
from schemas import (
    MANIFEST,
    MODES,
    SCHEMA_DIR,
    TYPE_ALIASES,
    Field,
    Registry,
    SchemaError,
    UnknownTableError,
    registry,
)
from schemas.arrow import arrow_schema
from schemas.validation import RowError, row_id, validate_row

SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.json"))
PRODUCTION_TABLES = ("sensor_thermo_beacon", "weather_data")

# (name, type, mode, children): the production tables as the reference PoC defines them.
# Changes may only add NULLABLE fields; anything else needs a new table version.
ExpectedField = tuple[str, str, str, tuple[Any, ...]]
EXPECTED_FIELDS: dict[str, tuple[ExpectedField, ...]] = {
    "sensor_thermo_beacon": (
        ("day", "DATE", "REQUIRED", ()),
        ("timestamp", "TIMESTAMP", "REQUIRED", ()),
        (
            "data",
            "RECORD",
            "REQUIRED",
            (
                ("mac", "INTEGER", "REQUIRED", ()),
                ("home_id", "INTEGER", "REQUIRED", ()),
                ("temperature", "FLOAT", "NULLABLE", ()),
                ("humidity", "FLOAT", "NULLABLE", ()),
                ("location", "GEOGRAPHY", "NULLABLE", ()),
            ),
        ),
    ),
    "weather_data": (
        ("day", "DATE", "REQUIRED", ()),
        ("timestamp", "TIMESTAMP", "REQUIRED", ()),
        (
            "data",
            "RECORD",
            "REQUIRED",
            (
                ("temperature", "FLOAT", "NULLABLE", ()),
                ("humidity", "FLOAT", "NULLABLE", ()),
                ("pressure", "FLOAT", "NULLABLE", ()),
                ("wind_direction", "FLOAT", "NULLABLE", ()),
                ("wind_speed", "FLOAT", "NULLABLE", ()),
                ("sunrise", "TIMESTAMP", "NULLABLE", ()),
                ("sunset", "TIMESTAMP", "NULLABLE", ()),
                ("clouds", "FLOAT", "NULLABLE", ()),
                ("description", "STRING", "NULLABLE", ()),
                ("location", "GEOGRAPHY", "NULLABLE", ()),
            ),
        ),
    ),
}

BATTERY = {
    "name": "battery",
    "type": "FLOAT",
    "mode": "NULLABLE",
    "description": "Battery level, percent.",
}
BATTERY_RANGE = '"data.battery" = [0.0, 100.0]'
HUMIDITY_RANGE = '"data.humidity" = [0.0, 100.0]'  # first occurrence: sensor_thermo_beacon

SENSOR_DDL_WITH_BATTERY = """\
CREATE TABLE IF NOT EXISTS sensor_data.sensor_thermo_beacon (
  "day" DATE NOT NULL,
  "timestamp" TIMESTAMP NOT NULL,
  "data" STRUCT("mac" BIGINT, "home_id" BIGINT, "temperature" DOUBLE, "humidity" DOUBLE, \
"location" VARCHAR, "battery" DOUBLE) NOT NULL,
  "home_id" BIGINT,
  "battery" BIGINT,
  "room" VARCHAR,
  "row_id" VARCHAR PRIMARY KEY
)"""
SENSOR_DDL_WITHOUT_LOCATION = """\
CREATE TABLE IF NOT EXISTS sensor_data.sensor_thermo_beacon (
  "day" DATE NOT NULL,
  "timestamp" TIMESTAMP NOT NULL,
  "data" STRUCT("mac" BIGINT, "home_id" BIGINT, "temperature" DOUBLE, "humidity" DOUBLE) NOT NULL,
  "home_id" BIGINT,
  "battery" BIGINT,
  "room" VARCHAR,
  "row_id" VARCHAR PRIMARY KEY
)"""
SENSOR_ARROW_WITH_BATTERY = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(
            "data",
            pa.struct(
                [
                    pa.field("mac", pa.int64(), nullable=False),
                    pa.field("home_id", pa.int64(), nullable=False),
                    pa.field("temperature", pa.float64()),
                    pa.field("humidity", pa.float64()),
                    pa.field("location", pa.string()),
                    pa.field("battery", pa.float64()),
                ]
            ),
            nullable=False,
        ),
        pa.field("home_id", pa.int64()),
        pa.field("battery", pa.int64()),  # v3's top-level battery, beside the added one
        pa.field("room", pa.string()),  # v4
        pa.field("row_id", pa.string()),
    ]
)

READING_WITH_BATTERY: dict[str, Any] = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 1, "temperature": 22.938, "humidity": 43.312, "battery": 87.5},
}
NORMALISED_WITH_BATTERY: dict[str, Any] = {
    "day": date(2024, 11, 29),
    "timestamp": datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC),
    "data": {
        "mac": 123,
        "home_id": 1,
        "temperature": 22.938,
        "humidity": 43.312,
        "location": None,
        "battery": 87.5,
    },
    "home_id": 1,
    "battery": None,  # the shipped top-level column (v3), not sent here
    "room": None,  # v4, not sent here
    "row_id": "06f2149aa374bcd7d110eb92ffcfabe0",
}


def _walk_raw(fields: Sequence[dict[str, Any]], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for raw in fields:
        path = f"{prefix}{raw['name']}"
        yield path, raw
        yield from _walk_raw(raw.get("fields", ()), f"{path}.")


def _as_expected(fields: Sequence[Field]) -> tuple[ExpectedField, ...]:
    return tuple((f.name, f.type, f.mode, _as_expected(f.fields)) for f in fields)


def additive_violations(
    expected: Sequence[ExpectedField], actual: Sequence[ExpectedField], prefix: str = ""
) -> list[str]:
    """What keeps `actual` from being `expected` plus NULLABLE fields, in words."""
    problems: list[str] = []
    by_name = {f[0]: f for f in actual}
    for name, type_, mode, children in expected:
        path = f"{prefix}{name}"
        if name not in by_name:
            problems.append(f"{path}: removed")
            continue
        _, actual_type, actual_mode, actual_children = by_name[name]
        if (actual_type, actual_mode) != (type_, mode):
            problems.append(f"{path}: {type_} {mode} became {actual_type} {actual_mode}")
        problems += additive_violations(children, actual_children, f"{path}.")
    known = {f[0] for f in expected}
    problems += [
        f"{prefix}{name}: added as {mode}, but a new field must be NULLABLE"
        for name, _, mode, _ in actual
        if name not in known and mode != "NULLABLE"
    ]
    return problems


# --- The shipped contract ---------------------------------------------------------------------


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_every_schema_file_loads_as_a_table(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))

    table = registry()[path.stem]

    assert table.name == path.stem
    assert [f.name for f in table.fields] == [f["name"] for f in raw]


def test_files_and_manifest_name_the_same_unique_tables() -> None:
    import tomllib

    manifest = tomllib.loads((SCHEMA_DIR / MANIFEST).read_text(encoding="utf-8"))
    names = [t.name for t in registry()]

    assert len(names) == len(set(names))
    assert sorted(names) == sorted(p.stem for p in SCHEMA_FILES) == sorted(manifest)
    assert set(PRODUCTION_TABLES) <= set(names)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_every_field_spells_a_canonical_type_and_mode(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))

    bad = [
        f"{p}: type {f.get('type')!r} mode {f.get('mode')!r}"
        for p, f in _walk_raw(raw)
        if f.get("mode") not in MODES or f.get("type") not in set(TYPE_ALIASES.values())
    ]

    assert bad == [], f"{path.name}: fields without an explicit canonical type and mode"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_column_names_are_unique_at_every_level(path: Path) -> None:
    # The loader only checks the top level (see test_nested_duplicate_column_is_rejected).
    def duplicates(fields: Sequence[dict[str, Any]]) -> list[str]:
        names = [f["name"] for f in fields]
        dup = [n for n in names if names.count(n) > 1]
        return dup + [d for f in fields for d in duplicates(f.get("fields", ()))]

    assert duplicates(json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("name", PRODUCTION_TABLES)
def test_production_table_keeps_the_reference_fields(name: str) -> None:
    actual = _as_expected(registry()[name].fields)

    assert additive_violations(EXPECTED_FIELDS[name], actual) == []


@pytest.mark.parametrize(
    ("name", "column", "type_"),
    [("sensor_thermo_beacon", "battery", "INTEGER"), ("weather_data", "observed_at", "TIMESTAMP")],
)
def test_version_3_column_is_a_nullable_identity_column(name: str, column: str, type_: str) -> None:
    # Version 3's additions: NULLABLE (rows stored before them stay valid) and out of the row
    # id (those rows keep their key, so a reload of the archive is not stored twice).
    table = registry()[name]

    assert (table.column(column).type, table.column(column).mode) == (type_, "NULLABLE")
    assert column in table.identity_excludes
    assert column not in [f[0] for f in EXPECTED_FIELDS[name]]  # an addition, not a reference


SENSOR = EXPECTED_FIELDS["sensor_thermo_beacon"]
SENSOR_DATA = SENSOR[2][3]


@pytest.mark.parametrize(
    ("evolved", "violations"),
    [
        pytest.param(
            (
                *SENSOR[:2],
                ("data", "RECORD", "REQUIRED", (*SENSOR_DATA, ("b", "FLOAT", "NULLABLE", ()))),
            ),
            [],
            id="nullable field added",
        ),
        pytest.param(
            (*SENSOR, ("note", "STRING", "REQUIRED", ())),
            ["note: added as REQUIRED, but a new field must be NULLABLE"],
            id="required field added",
        ),
        pytest.param(
            (*SENSOR[:2], ("data", "RECORD", "REQUIRED", SENSOR_DATA[1:])),
            ["data.mac: removed"],
            id="nested field removed",
        ),
        pytest.param(
            (("day", "TIMESTAMP", "NULLABLE", ()), *SENSOR[1:]),
            ["day: DATE REQUIRED became TIMESTAMP NULLABLE"],
            id="type and mode changed",
        ),
    ],
)
def test_additive_check_tells_a_breaking_change(
    evolved: tuple[ExpectedField, ...], violations: list[str]
) -> None:
    assert additive_violations(SENSOR, evolved) == violations


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)
def test_bigquery_json_round_trips_the_file(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))

    assert registry()[path.stem].bigquery_json() == raw


def test_unknown_table_error_names_the_table() -> None:
    with pytest.raises(UnknownTableError) as caught:
        registry()["sensor_thermo_beacons"]

    assert isinstance(caught.value, KeyError)
    assert caught.value.name == "sensor_thermo_beacons"
    assert str(caught.value) == (
        "table 'sensor_thermo_beacons' is not defined in schemas/ "
        "(known: dead_letter, livability_scores, sensor_hours, sensor_thermo_beacon, weather_data)"
    )
    assert "sensor_thermo_beacons" not in registry()


# --- Consumers follow the files ---------------------------------------------------------------


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    """The shipped schema files and manifest, copied where a test may change them."""
    directory = tmp_path / "schemas"
    directory.mkdir()
    for path in [*SCHEMA_FILES, SCHEMA_DIR / MANIFEST]:
        shutil.copy(path, directory / path.name)
    return directory


def edit_schema(directory: Path, table: str, change: Callable[[list[dict[str, Any]]], Any]) -> None:
    path = directory / f"{table}.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")


def edit_manifest(directory: Path, old: str, new: str) -> None:
    path = directory / MANIFEST
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{MANIFEST} no longer contains {old!r}; update the test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def sensor_data_fields(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (data,) = [f for f in raw if f["name"] == "data"]
    return data["fields"]  # type: ignore[no-any-return]


@pytest.fixture
def with_battery(schema_copy: Path) -> Registry:
    """The contract after an additive change: a NULLABLE `data.battery` with a range."""
    edit_schema(
        schema_copy, "sensor_thermo_beacon", lambda raw: sensor_data_fields(raw).append(BATTERY)
    )
    edit_manifest(schema_copy, HUMIDITY_RANGE, f"{HUMIDITY_RANGE}\n{BATTERY_RANGE}")
    return Registry.load(schema_copy)


def test_an_unchanged_copy_loads_as_the_shipped_registry(schema_copy: Path) -> None:
    assert Registry.load(schema_copy).tables == registry().tables


def test_added_field_reaches_the_duckdb_ddl(with_battery: Registry) -> None:
    ddl = duckdb_ddl(with_battery["sensor_thermo_beacon"], "sensor_data")

    assert ddl == SENSOR_DDL_WITH_BATTERY


def test_added_field_reaches_the_arrow_schema(with_battery: Registry) -> None:
    assert arrow_schema(with_battery["sensor_thermo_beacon"]) == SENSOR_ARROW_WITH_BATTERY


def test_added_field_is_validated_with_its_range(with_battery: Registry) -> None:
    table = with_battery["sensor_thermo_beacon"]
    too_full = {**READING_WITH_BATTERY, "data": {**READING_WITH_BATTERY["data"], "battery": 101}}

    assert validate_row(table, READING_WITH_BATTERY) == NORMALISED_WITH_BATTERY
    with pytest.raises(RowError) as caught:
        validate_row(table, too_full)
    assert caught.value.problems == ["data.battery: 101 is outside the physical range 0..100"]
    # The shipped contract does not know the field yet, so it drops it.
    assert "battery" not in validate_row(registry()["sensor_thermo_beacon"], too_full)["data"]


def test_added_field_is_stored_and_queried(with_battery: Registry, tmp_path: Path) -> None:
    table = with_battery["sensor_thermo_beacon"]
    row = validate_row(table, READING_WITH_BATTERY)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", with_battery, "sensor_data")
    try:
        warehouse.init()
        inserted = warehouse.insert_rows(table.name, [row], [row_id(table, row)])
        result = warehouse.query(
            "SELECT day, timestamp, data, home_id, battery, room, row_id "
            "FROM sensor_data.sensor_thermo_beacon "
            "WHERE data.battery = @battery",
            {"battery": 87.5},
        )
    finally:
        warehouse.close()

    assert inserted == InsertResult(1)
    assert result.to_pylist() == [NORMALISED_WITH_BATTERY]


def test_added_field_reaches_a_warehouse_made_before_the_change(
    schema_copy: Path, tmp_path: Path
) -> None:
    made_before(schema_copy, tmp_path)
    edit_schema(
        schema_copy, "sensor_thermo_beacon", lambda raw: sensor_data_fields(raw).append(BATTERY)
    )
    evolved = Registry.load(schema_copy)
    table = evolved["sensor_thermo_beacon"]
    row = validate_row(table, READING_WITH_BATTERY)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", evolved, "sensor_data")
    try:
        warehouse.init()
        warehouse.insert_rows(table.name, [row], [row_id(table, row)])
        result = warehouse.query("SELECT data FROM sensor_data.sensor_thermo_beacon")
    finally:
        warehouse.close()

    assert result.to_pylist() == [{"data": NORMALISED_WITH_BATTERY["data"]}]


def made_before(schema_copy: Path, tmp_path: Path) -> None:
    """A warehouse created with the contract as it is now in `schema_copy`."""
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", Registry.load(schema_copy), "sensor_data")
    warehouse.init()
    warehouse.close()


def test_removed_field_leaves_the_duckdb_ddl(schema_copy: Path) -> None:
    def drop_location(raw: list[dict[str, Any]]) -> None:
        fields = sensor_data_fields(raw)
        fields[:] = [f for f in fields if f["name"] != "location"]

    edit_schema(schema_copy, "sensor_thermo_beacon", drop_location)

    ddl = duckdb_ddl(Registry.load(schema_copy)["sensor_thermo_beacon"], "sensor_data")

    assert ddl == SENSOR_DDL_WITHOUT_LOCATION


# --- Malformed contracts ----------------------------------------------------------------------


def _set_on(path: str, **changes: Any) -> Callable[[list[dict[str, Any]]], None]:
    """A schema edit that updates the field at dotted `path` of sensor_thermo_beacon."""

    def change(raw: list[dict[str, Any]]) -> None:
        fields = raw
        *parents, leaf = path.split(".")
        for name in parents:
            fields = next(f for f in fields if f["name"] == name)["fields"]
        target = next(f for f in fields if f["name"] == leaf)
        for key, value in changes.items():
            if value is None:
                del target[key]
            else:
                target[key] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            _set_on("data.temperature", type="DECIMAL"),
            "sensor_thermo_beacon.data.temperature: type 'DECIMAL' is not supported",
            id="unknown type",
        ),
        pytest.param(
            _set_on("day", type=None),
            "sensor_thermo_beacon.day: type None is not supported",
            id="missing type",
        ),
        pytest.param(
            _set_on("data.mac", mode="REPEATED"),
            "sensor_thermo_beacon.data.mac: mode 'REPEATED' is not supported "
            "(use one of ('NULLABLE', 'REQUIRED'))",
            id="bad mode",
        ),
        pytest.param(
            _set_on("data", fields=[]),
            "sensor_thermo_beacon.data: a RECORD needs fields, and only a RECORD has them",
            id="record without fields",
        ),
        pytest.param(
            _set_on("day", fields=[{"name": "x", "type": "STRING"}]),
            "sensor_thermo_beacon.day: a RECORD needs fields, and only a RECORD has them",
            id="fields on a non-record",
        ),
        pytest.param(
            _set_on("data.home_id", name="home-id"),
            "sensor_thermo_beacon.data: field name 'home-id' is not a valid column name",
            id="invalid column name",
        ),
    ],
)
def test_malformed_field_is_rejected_by_name(
    schema_copy: Path, change: Callable[[list[dict[str, Any]]], None], message: str
) -> None:
    edit_schema(schema_copy, "sensor_thermo_beacon", change)

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == message


def test_duplicate_top_level_column_is_rejected(schema_copy: Path) -> None:
    edit_schema(schema_copy, "sensor_thermo_beacon", lambda raw: raw.append(dict(raw[0])))

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == (
        "sensor_thermo_beacon: duplicate column names (ignoring case) in "
        "['day', 'timestamp', 'data', 'home_id', 'battery', 'room', 'row_id', 'day']"
    )


def test_nested_duplicate_column_is_rejected(schema_copy: Path) -> None:
    edit_schema(
        schema_copy,
        "sensor_thermo_beacon",
        lambda raw: sensor_data_fields(raw).append({"name": "mac", "type": "INTEGER"}),
    )

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == (
        "sensor_thermo_beacon.data: duplicate column names (ignoring case) in "
        "['mac', 'home_id', 'temperature', 'humidity', 'location', 'mac']"
    )


def test_field_entry_that_is_not_an_object_is_rejected(schema_copy: Path) -> None:
    path = schema_copy / "sensor_thermo_beacon.json"
    path.write_text(json.dumps([*json.loads(path.read_text(encoding="utf-8")), "note"]))

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == "sensor_thermo_beacon: field entry 'note' is not a JSON object"


@pytest.mark.parametrize("content", ["[]", "{}", '[{"name": "day"'], ids=["empty", "object", "cut"])
def test_schema_file_that_is_no_field_list_is_rejected(schema_copy: Path, content: str) -> None:
    path = schema_copy / "sensor_thermo_beacon.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value).startswith(f"{path}: ")


def test_schema_file_without_manifest_entry_is_rejected(schema_copy: Path) -> None:
    shutil.copy(schema_copy / "weather_data.json", schema_copy / "weather_data_v2.json")

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == (
        f"{schema_copy}: schema files ['dead_letter', 'livability_scores', 'sensor_hours', "
        "'sensor_thermo_beacon', 'weather_data', 'weather_data_v2'] and tables.toml tables "
        "['dead_letter', 'livability_scores', 'sensor_hours', 'sensor_thermo_beacon', "
        "'weather_data'] must name the same tables"
    )


def test_manifest_entry_without_schema_file_is_rejected(schema_copy: Path) -> None:
    (schema_copy / "dead_letter.json").unlink()

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == (
        f"{schema_copy}: schema files ['livability_scores', 'sensor_hours', "
        "'sensor_thermo_beacon', 'weather_data'] and tables.toml tables ['dead_letter', "
        "'livability_scores', 'sensor_hours', 'sensor_thermo_beacon', 'weather_data'] must "
        "name the same tables"
    )


def test_unreadable_manifest_is_rejected(schema_copy: Path) -> None:
    edit_manifest(schema_copy, "[weather_data]\n", "[weather_data\n")

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value).startswith(f"{schema_copy / MANIFEST}: ")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            HUMIDITY_RANGE,
            f'{HUMIDITY_RANGE}\n"data.location" = [0.0, 1.0]',
            "tables.toml [sensor_thermo_beacon]: range on GEOGRAPHY column 'data.location'",
            id="range on a GEOGRAPHY",
        ),
        pytest.param(
            '"day" = ["2000-01-01", "2099-12-31"]',
            '"day" = [0.0, 1.0]',
            "tables.toml [sensor_thermo_beacon] ranges 'day': 0.0 is not a valid DATE bound",
            id="number range on a DATE",
        ),
        pytest.param(
            '"day" = ["2000-01-01", "2099-12-31"]',
            '"day" = ["2000-13-01", "2099-12-31"]',
            "tables.toml [sensor_thermo_beacon] ranges 'day': '2000-13-01' is not a valid "
            "DATE bound",
            id="date range with month 13",
        ),
        pytest.param(
            '"day" = ["2000-01-01", "2099-12-31"]',
            '"day" = ["2099-12-31", "2000-01-01"]',
            "tables.toml [sensor_thermo_beacon] ranges 'day': a range is [low, high] with "
            "low <= high, not ['2099-12-31', '2000-01-01']",
            id="date range upside down",
        ),
        pytest.param(
            '"timestamp" = ["2000-01-01T00:00:00Z", "2099-12-31T23:59:59.999999Z"]',
            '"timestamp" = ["2000-01-01T00:00:00Z", "tomorrow"]',
            "tables.toml [sensor_thermo_beacon] ranges 'timestamp': 'tomorrow' is not a valid "
            "TIMESTAMP bound",
            id="timestamp range not ISO",
        ),
        pytest.param(
            '"data.home_id" = [1, 9007199254740991]',
            '"data.home_id" = [1.5, 9007199254740991]',
            "tables.toml [sensor_thermo_beacon] ranges 'data.home_id': 1.5 is not a valid "
            "INTEGER bound",
            id="float bound on an INTEGER",
        ),
        pytest.param(
            '"data.home_id" = [1, 9007199254740991]',
            '"data.home_id" = [1]',
            "tables.toml [sensor_thermo_beacon] ranges 'data.home_id': a range is [low, high], "
            "not [1]",
            id="range of one bound",
        ),
        pytest.param(
            HUMIDITY_RANGE,
            f"{HUMIDITY_RANGE}\n{BATTERY_RANGE}",
            "tables.toml [sensor_thermo_beacon]: range 'data.battery' is not a column of the table",
            id="range on an unknown column",
        ),
        pytest.param(
            HUMIDITY_RANGE,
            f'{HUMIDITY_RANGE}\n"data" = [0.0, 1.0]',
            "tables.toml [sensor_thermo_beacon]: range 'data' is not a column of the table",
            id="range on a RECORD",
        ),
        pytest.param(
            'cluster = ["home_id"]',
            'cluster = ["data.home_id"]',
            "tables.toml [sensor_thermo_beacon]: cluster column 'data.home_id' is not a "
            "top-level column (BigQuery clusters only on top-level columns)",
            id="cluster on a nested column",
        ),
        pytest.param(
            'cluster = ["home_id"]',
            'cluster = ["gateway"]',
            "tables.toml [sensor_thermo_beacon]: cluster column 'gateway' is not a top-level "
            "column",
            id="cluster on an unknown column",
        ),
        pytest.param(
            'cluster = ["home_id"]',
            'cluster = ["home_id", "day", "timestamp", "row_id", "data"]',
            "tables.toml [sensor_thermo_beacon]: cluster ['home_id', 'day', 'timestamp', "
            "'row_id', 'data'] must name at most 4 distinct columns (BigQuery's limit)",
            id="five cluster columns",
        ),
        pytest.param(
            'cluster = ["home_id"]',
            'cluster = ["home_id", "home_id"]',
            "tables.toml [sensor_thermo_beacon]: cluster ['home_id', 'home_id'] must name at "
            "most 4 distinct columns (BigQuery's limit)",
            id="a cluster column twice",
        ),
        pytest.param(
            'cluster = ["home_id"]\nidentity = ["computed_at"]',
            'cluster = ["score"]\nidentity = ["computed_at"]',
            "tables.toml [livability_scores]: cluster column 'score' is FLOAT, which BigQuery "
            "cannot cluster on (allowed: STRING, INTEGER, BOOLEAN, DATE, TIMESTAMP, GEOGRAPHY)",
            id="cluster on a FLOAT",
        ),
        pytest.param(
            'partition = "week_start"',
            'partition = "home_id"',
            "tables.toml [livability_scores]: partition 'home_id' must be a top-level DATE or "
            "TIMESTAMP column (BigQuery partitions on no nested field)",
            id="partition on an INTEGER",
        ),
        pytest.param(
            'partition = "day"\ncluster = ["home_id"]',
            'partition = "data.home_id"\ncluster = ["home_id"]',
            "tables.toml [sensor_thermo_beacon]: partition 'data.home_id' must be a top-level "
            "DATE or TIMESTAMP column (BigQuery partitions on no nested field)",
            id="partition on a nested column",
        ),
        pytest.param(
            'derived = { home_id = "data.home_id" }',
            'derived = { home_id = "data.mac" }\nderived_by = "hand"',
            "tables.toml [sensor_thermo_beacon]: unknown key(s) ['derived_by'] (known: "
            "['cluster', 'derived', 'description', 'expire_days', 'identity', 'ingest', "
            "'partition', 'version'], ranges, lengths, values)",
            id="unknown manifest key",
        ),
        pytest.param(
            "expire_days = 35",
            "expire_days = 0",
            "tables.toml [sensor_hours]: expire_days 0 is not a positive integer",
            id="expire days not positive",
        ),
        pytest.param(
            '"data.description" = 200',
            '"data.temperature" = 200',
            "tables.toml [weather_data]: length 'data.temperature' is not a STRING column of "
            "the table",
            id="a length on a FLOAT",
        ),
        pytest.param(
            '"data.description" = 200',
            '"data.description" = 0',
            "tables.toml [weather_data]: length 'data.description' = 0 is not 1..10485760",
            id="a length of nothing",
        ),
        pytest.param(
            '"data.description" = 200',
            '"data.description" = "200"',
            "tables.toml [weather_data]: length 'data.description' = '200' is not 1..10485760",
            id="a length as text",
        ),
        pytest.param(
            'derived = { home_id = "data.home_id" }',
            'derived = { home_id = "data.temperature" }',
            "tables.toml [sensor_thermo_beacon]: derived 'home_id' = 'data.temperature' must "
            "copy a column of the same type into a NULLABLE top-level column",
            id="derived from a column of another type",
        ),
        pytest.param(
            'derived = { home_id = "data.home_id" }',
            'derived = { home_id = "data.home" }',
            "tables.toml [sensor_thermo_beacon]: derived 'home_id' = 'data.home' must copy a "
            "column of the same type into a NULLABLE top-level column",
            id="derived from an unknown column",
        ),
        pytest.param(
            'derived = { home_id = "data.home_id" }',
            'derived = { day = "day" }',
            "tables.toml [sensor_thermo_beacon]: derived 'day' = 'day' must copy a column of "
            "the same type into a NULLABLE top-level column",
            id="derived into a REQUIRED column",
        ),
        pytest.param(
            'identity = ["computed_at"]',
            'identity = ["data.computed_at"]',
            "tables.toml [livability_scores]: identity exclude 'data.computed_at' is not a "
            "top-level column",
            id="identity on an unknown column",
        ),
        pytest.param(
            'identity = ["computed_at"]',
            'identity = ["week_start", "computed_at"]',
            "tables.toml [livability_scores]: identity exclude 'week_start' is the partition "
            "column; the row id must include it so that one key lives in one partition",
            id="identity on the partition column",
        ),
        pytest.param(
            'identity = ["battery", "room"]',
            'identity = ["data"]',
            "tables.toml [sensor_thermo_beacon]: identity exclude 'data' is RECORD; the "
            "`_dedup` views order copies by it, so it must be one of STRING, INTEGER, FLOAT, "
            "BOOLEAN, DATE, TIMESTAMP",
            id="identity on a RECORD",
        ),
    ],
)
def test_bad_manifest_entry_is_rejected_by_name(
    schema_copy: Path, old: str, new: str, message: str
) -> None:
    edit_manifest(schema_copy, old, new)

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "_PARTITIONTIME",
            "sensor_thermo_beacon: field name '_PARTITIONTIME' is longer than 300 characters or "
            "starts with a prefix BigQuery reserves ('_TABLE_', '_FILE_', '_PARTITION', "
            "'_ROW_TIMESTAMP', '__ROOT__', '_COLON_')",
            id="_PARTITIONTIME",
        ),
        pytest.param(
            "_table_suffix",
            "sensor_thermo_beacon: field name '_table_suffix' is longer than 300 characters or "
            "starts with a prefix BigQuery reserves ('_TABLE_', '_FILE_', '_PARTITION', "
            "'_ROW_TIMESTAMP', '__ROOT__', '_COLON_')",
            id="reserved in lower case",
        ),
        pytest.param(
            "x" * 301,
            f"sensor_thermo_beacon: field name '{'x' * 301}' is longer than 300 characters or "
            "starts with a prefix BigQuery reserves ('_TABLE_', '_FILE_', '_PARTITION', "
            "'_ROW_TIMESTAMP', '__ROOT__', '_COLON_')",
            id="301 characters",
        ),
        pytest.param(
            "Day",
            "sensor_thermo_beacon: duplicate column names (ignoring case) in "
            "['day', 'timestamp', 'data', 'home_id', 'battery', 'room', 'row_id', 'Day']",
            id="differs only in case",
        ),
        pytest.param(
            "2day",
            "sensor_thermo_beacon: field name '2day' is not a valid column name",
            id="starts with a digit",
        ),
    ],
)
def test_column_name_bigquery_refuses_is_rejected(
    schema_copy: Path, name: str, message: str
) -> None:
    edit_schema(
        schema_copy,
        "sensor_thermo_beacon",
        lambda raw: raw.append({"name": name, "type": "STRING", "mode": "NULLABLE"}),
    )

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == message


def test_records_nested_deeper_than_bigquery_allows_are_rejected(schema_copy: Path) -> None:
    def nest(raw: list[dict[str, Any]]) -> None:
        leaf: dict[str, Any] = {"name": "x", "type": "STRING", "mode": "NULLABLE"}
        for level in range(16):
            leaf = {"name": f"r{level}", "type": "RECORD", "mode": "NULLABLE", "fields": [leaf]}
        raw.append(leaf)

    edit_schema(schema_copy, "sensor_thermo_beacon", nest)

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value).endswith(": RECORDs nest deeper than BigQuery's 15 levels")


def test_the_shipped_contract_clusters_sensor_rows_on_a_top_level_home_id() -> None:
    table = registry()["sensor_thermo_beacon"]

    assert (table.partition, table.cluster, dict(table.derived)) == (
        "day",
        ("home_id",),
        {"home_id": "data.home_id"},
    )
    assert table.column("home_id").mode == "NULLABLE"


def test_added_top_level_field_reaches_a_warehouse_made_before_the_change(
    schema_copy: Path, tmp_path: Path
) -> None:
    made_before(schema_copy, tmp_path)
    edit_schema(
        schema_copy,
        "sensor_thermo_beacon",
        lambda raw: raw.append({"name": "gateway", "type": "STRING", "mode": "NULLABLE"}),
    )
    evolved = Registry.load(schema_copy)
    table = evolved["sensor_thermo_beacon"]
    row = validate_row(table, {**READING_WITH_BATTERY, "gateway": "pi-7"})
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", evolved, "sensor_data")
    try:
        warehouse.init()
        assert warehouse.insert_rows(table.name, [row], [row_id(table, row)]) == InsertResult(1)
        stored = warehouse.query("SELECT gateway FROM sensor_data.sensor_thermo_beacon")
    finally:
        warehouse.close()
    assert stored.to_pylist() == [{"gateway": "pi-7"}]


def test_changed_type_on_an_existing_warehouse_is_refused(
    schema_copy: Path, tmp_path: Path
) -> None:
    made_before(schema_copy, tmp_path)
    edit_schema(schema_copy, "dead_letter", _set_on("message_id", type="INTEGER"))

    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", Registry.load(schema_copy), "sensor_data")
    with pytest.raises(WarehouseError) as caught:
        warehouse.init()
    warehouse.close()

    assert str(caught.value) == (
        f"sensor_data.dead_letter.message_id is string in {tmp_path / 'w.duckdb'} but int64 "
        "in schemas/: a breaking change needs a new table version"
    )
