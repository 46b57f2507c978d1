"""Invariants of the table contract in `schemas/`, and proof that its consumers derive from it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from livability.adapters.duckdb_warehouse import DuckDBWarehouse, duckdb_ddl
from livability.ports import WarehouseError
from schemas.arrow import arrow_schema
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
  _insert_id VARCHAR PRIMARY KEY,
  "day" DATE NOT NULL,
  "timestamp" TIMESTAMP NOT NULL,
  "data" STRUCT("mac" BIGINT, "home_id" BIGINT, "temperature" DOUBLE, "humidity" DOUBLE, \
"location" VARCHAR, "battery" DOUBLE) NOT NULL
)"""
SENSOR_DDL_WITHOUT_LOCATION = """\
CREATE TABLE IF NOT EXISTS sensor_data.sensor_thermo_beacon (
  _insert_id VARCHAR PRIMARY KEY,
  "day" DATE NOT NULL,
  "timestamp" TIMESTAMP NOT NULL,
  "data" STRUCT("mac" BIGINT, "home_id" BIGINT, "temperature" DOUBLE, "humidity" DOUBLE) NOT NULL
)"""
SENSOR_ARROW_WITH_BATTERY = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("timestamp", pa.timestamp("us"), nullable=False),
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
    ]
)

READING_WITH_BATTERY: dict[str, Any] = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 1, "temperature": 22.938, "humidity": 43.312, "battery": 87.5},
}
NORMALISED_WITH_BATTERY: dict[str, Any] = {
    "day": date(2024, 11, 29),
    "timestamp": datetime(2024, 11, 29, 14, 33, 35, 855000),
    "data": {
        "mac": 123,
        "home_id": 1,
        "temperature": 22.938,
        "humidity": 43.312,
        "location": None,
        "battery": 87.5,
    },
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
        "(known: dead_letter, livability_scores, sensor_thermo_beacon, weather_data)"
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
        inserted = warehouse.insert_rows(table.name, [row], [row_id(table, row)])
        result = warehouse.query(
            "SELECT day, timestamp, data FROM sensor_data.sensor_thermo_beacon "
            "WHERE data.battery = @battery",
            {"battery": 87.5},
        )
    finally:
        warehouse.close()

    assert inserted == 1
    assert result.to_pylist() == [NORMALISED_WITH_BATTERY]


def test_added_field_reaches_a_warehouse_made_before_the_change(
    schema_copy: Path, tmp_path: Path
) -> None:
    DuckDBWarehouse(tmp_path / "w.duckdb", Registry.load(schema_copy), "sensor_data").close()
    edit_schema(
        schema_copy, "sensor_thermo_beacon", lambda raw: sensor_data_fields(raw).append(BATTERY)
    )
    evolved = Registry.load(schema_copy)
    table = evolved["sensor_thermo_beacon"]
    row = validate_row(table, READING_WITH_BATTERY)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", evolved, "sensor_data")
    try:
        warehouse.insert_rows(table.name, [row], [row_id(table, row)])
        result = warehouse.query("SELECT data FROM sensor_data.sensor_thermo_beacon")
    finally:
        warehouse.close()

    assert result.to_pylist() == [{"data": NORMALISED_WITH_BATTERY["data"]}]


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
        "sensor_thermo_beacon: duplicate column names in ['day', 'timestamp', 'data', 'day']"
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
        "sensor_thermo_beacon.data: duplicate column names in "
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
        f"{schema_copy}: schema files ['dead_letter', 'livability_scores', "
        "'sensor_thermo_beacon', 'weather_data', 'weather_data_v2'] and tables.toml tables "
        "['dead_letter', 'livability_scores', 'sensor_thermo_beacon', 'weather_data'] "
        "must name the same tables"
    )


def test_manifest_entry_without_schema_file_is_rejected(schema_copy: Path) -> None:
    (schema_copy / "dead_letter.json").unlink()

    with pytest.raises(SchemaError) as caught:
        Registry.load(schema_copy)

    assert str(caught.value) == (
        f"{schema_copy}: schema files ['livability_scores', 'sensor_thermo_beacon', "
        "'weather_data'] and tables.toml tables ['dead_letter', 'livability_scores', "
        "'sensor_thermo_beacon', 'weather_data'] must name the same tables"
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
            "tables.toml [sensor_thermo_beacon]: range on non-numeric 'data.location'",
            id="range on a GEOGRAPHY",
        ),
        pytest.param(
            HUMIDITY_RANGE,
            f'{HUMIDITY_RANGE}\n"day" = [0.0, 1.0]',
            "tables.toml [sensor_thermo_beacon]: range on non-numeric 'day'",
            id="range on a DATE",
        ),
        pytest.param(
            HUMIDITY_RANGE,
            f"{HUMIDITY_RANGE}\n{BATTERY_RANGE}",
            "tables.toml [sensor_thermo_beacon]: 'data.battery' is not a column of the table",
            id="range on an unknown column",
        ),
        pytest.param(
            HUMIDITY_RANGE,
            f'{HUMIDITY_RANGE}\n"data" = [0.0, 1.0]',
            "tables.toml [sensor_thermo_beacon]: 'data' is not a column of the table",
            id="range on a RECORD",
        ),
        pytest.param(
            'cluster = ["data.home_id"]',
            'cluster = ["home_id"]',
            "tables.toml [sensor_thermo_beacon]: 'home_id' is not a column of the table",
            id="cluster on an unknown column",
        ),
        pytest.param(
            'partition = "week_start"',
            'partition = "computed_at"',
            "tables.toml [livability_scores]: partition 'computed_at' is no DATE",
            id="partition on a TIMESTAMP",
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


def test_added_top_level_field_reaches_a_warehouse_made_before_the_change(
    schema_copy: Path, tmp_path: Path
) -> None:
    DuckDBWarehouse(tmp_path / "w.duckdb", Registry.load(schema_copy), "sensor_data").close()
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
        assert warehouse.insert_rows(table.name, [row], [row_id(table, row)]) == 1
        stored = warehouse.query("SELECT gateway FROM sensor_data.sensor_thermo_beacon")
    finally:
        warehouse.close()
    assert stored.to_pylist() == [{"gateway": "pi-7"}]


def test_changed_type_on_an_existing_warehouse_is_refused(
    schema_copy: Path, tmp_path: Path
) -> None:
    DuckDBWarehouse(tmp_path / "w.duckdb", Registry.load(schema_copy), "sensor_data").close()
    edit_schema(schema_copy, "sensor_thermo_beacon", _set_on("timestamp", type="STRING"))

    with pytest.raises(WarehouseError) as caught:
        DuckDBWarehouse(tmp_path / "w.duckdb", Registry.load(schema_copy), "sensor_data")

    assert str(caught.value) == (
        "sensor_data.sensor_thermo_beacon"
        f".timestamp is timestamp[us] in {tmp_path / 'w.duckdb'} but string in schemas/: a "
        "breaking "
        "change needs a new table version"
    )
