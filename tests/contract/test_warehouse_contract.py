"""The Warehouse contract (livability/ports.py), run against every adapter.

Each test runs twice: on the real embedded DuckDB (a file in tmp_path), and on the real
local BigQuery stand-in (`local-bigquery` 0.4.0 over HTTP, through google-cloud-bigquery,
a fresh dataset per test). Where the two backends cannot behave alike, the test says so and
runs on the one it describes.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from livability.adapters.bigquery import BigQueryWarehouse
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.ports import (
    BreakingChangeError,
    InsertResult,
    MissingTableError,
    NotSupportedError,
    RowFailure,
    Warehouse,
    WarehouseError,
)
from schemas import ROW_ID, SCHEMA_DIR, Registry, registry
from schemas.validation import validate_row
from tests.support.warehouses import (
    DATASET,
    PROJECT,
    SENSOR,
    Backend,
    bigquery_warehouse,
    only_tables,
)

TABLES = ("dead_letter", "livability_scores", SENSOR, "weather_data")
# Readings as a ThermoBeacon gateway sends them, over two days (two partitions); the first
# with the battery estimate of version 3, the others as sent before it (or from history).
READINGS = (
    {
        "day": "2024-11-29",
        "timestamp": "2024-11-29T14:33:35.855Z",
        "data": {
            "mac": 123,
            "home_id": 7,
            "temperature": 22.938,
            "humidity": 43.312,
            "location": "POINT(-0.41472 51.87833)",
        },
        "battery": 87,
        "room": "bedroom",
    },
    {
        "day": "2024-11-29",
        "timestamp": "2024-11-29T23:59:59.999999Z",
        "data": {"mac": 123, "home_id": 7, "temperature": -3.5},
    },
    {
        "day": "2024-11-30",
        "timestamp": "2024-11-30T00:10:00Z",
        "data": {"mac": 281474976710655, "home_id": 9007199254740991, "humidity": 100.0},
    },
)
ROWS = tuple(validate_row(registry()[SENSOR], r) for r in READINGS)
IDS = tuple(r[ROW_ID] for r in ROWS)
# What readers get back: every column, TIMESTAMPs in UTC, GEOGRAPHY as WKT.
EXPECTED = [
    {
        "day": date(2024, 11, 29),
        "timestamp": datetime(2024, 11, 29, 14, 33, 35, 855000, tzinfo=UTC),
        "data": {
            "mac": 123,
            "home_id": 7,
            "temperature": 22.938,
            "humidity": 43.312,
            "location": "POINT(-0.41472 51.87833)",
        },
        "home_id": 7,
        "battery": 87,
        "room": "bedroom",
        "row_id": IDS[0],
    },
    {
        "day": date(2024, 11, 29),
        "timestamp": datetime(2024, 11, 29, 23, 59, 59, 999999, tzinfo=UTC),
        "data": {"mac": 123, "home_id": 7, "temperature": -3.5, "humidity": None, "location": None},
        "home_id": 7,
        "battery": None,
        "room": None,
        "row_id": IDS[1],
    },
    {
        "day": date(2024, 11, 30),
        "timestamp": datetime(2024, 11, 30, 0, 10, tzinfo=UTC),
        "data": {
            "mac": 281474976710655,
            "home_id": 9007199254740991,
            "temperature": None,
            "humidity": 100.0,
            "location": None,
        },
        "home_id": 9007199254740991,
        "battery": None,
        "room": None,
        "row_id": IDS[2],
    },
]
TWO_DAYS = {"first": date(2024, 11, 29), "last": date(2024, 11, 30)}
VIEW_SQL = (
    "SELECT * FROM {dataset}.sensor_thermo_beacon_dedup "
    "WHERE day BETWEEN @first AND @last ORDER BY timestamp"
)
TABLE_COUNT_SQL = (
    "SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids FROM {dataset}.sensor_thermo_beacon "
    "WHERE day BETWEEN @first AND @last"
)
VIEW_COUNT_SQL = (
    "SELECT COUNT(*) AS n FROM {dataset}.sensor_thermo_beacon_dedup "
    "WHERE day BETWEEN @first AND @last"
)
BATTERY = {"name": "battery", "type": "FLOAT", "mode": "NULLABLE", "description": "Percent."}
FIRMWARE = {"name": "firmware", "type": "STRING", "mode": "NULLABLE", "description": "Version."}
EMULATOR_NESTED_ADD = (
    "local-bigquery 0.4.0 ignores new fields inside a RECORD in tables.update (it adds "
    "top-level ones only); BigQuery applies them. The adapter sees they are missing and "
    "raises instead of reporting them added."
)


def only(backend: Backend, name: str, reason: str) -> None:
    if backend.name != name:
        pytest.skip(f"{name} only: {reason}")


def rows_of(warehouse: Warehouse, sql: str, **params: Any) -> list[dict[str, Any]]:
    table = warehouse.query(sql.format(dataset=warehouse.dataset), params or TWO_DAYS)
    return table.to_pylist()  # type: ignore[no-any-return]


def edited_schemas(tmp_path: Path, edit: Callable[[list[dict[str, Any]]], None]) -> Registry:
    """The sensor table of a copy of schemas/ whose schema file `edit` has changed."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    for path in [*SCHEMA_DIR.glob("*.json"), SCHEMA_DIR / "tables.toml"]:
        shutil.copy(path, folder / path.name)
    sensor = folder / f"{SENSOR}.json"
    fields = json.loads(sensor.read_text())
    edit(fields)
    sensor.write_text(json.dumps(fields))
    return only_tables(Registry.load(folder), SENSOR)


def sensor_field(fields: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(f for f in fields if f["name"] == name)


# --- init ---


def test_init_creates_every_table_and_view_and_is_idempotent(blank: Warehouse) -> None:
    first = blank.init(registry())
    assert {c.name: c.action for c in first if c.name in TABLES} == dict.fromkeys(TABLES, "created")
    views = {f"{table}_dedup" for table in TABLES}
    assert {c.name: c.action for c in first if c.name in views} == dict.fromkeys(views, "created")
    for table in TABLES:  # each view answers, empty, with a partition filter
        partition = registry()[table].partition
        sql = f"SELECT COUNT(*) AS n FROM {blank.dataset}.{table}_dedup WHERE {partition} >= @d"
        assert blank.query(sql, {"d": date(2024, 1, 1)}).to_pylist() == [{"n": 0}]
    second = blank.init(registry())
    assert [c.name for c in second] == [c.name for c in first]
    assert {c.action for c in second} == {"unchanged"}


def test_additive_top_level_column_is_added_and_takes_data(
    backend: Backend, warehouse: Warehouse, tmp_path: Path
) -> None:
    schemas = edited_schemas(tmp_path, lambda fields: fields.append(FIRMWARE))
    evolved = backend.open(schemas)
    changes = {c.name: (c.action, c.detail) for c in evolved.init(schemas)}
    assert changes[SENSOR] == ("columns added", "firmware")
    row = validate_row(schemas[SENSOR], {**READINGS[0], "firmware": "1.2"})
    assert evolved.insert_rows(SENSOR, [row], [row[ROW_ID]]) == InsertResult(1)
    sql = (
        "SELECT firmware FROM {dataset}.sensor_thermo_beacon_dedup "
        "WHERE day BETWEEN @first AND @last"
    )
    assert rows_of(evolved, sql) == [{"firmware": "1.2"}]
    assert {c.action for c in evolved.init(schemas)} == {"unchanged"}


def test_additive_nested_column_is_added(
    backend: Backend, warehouse: Warehouse, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend.name == "bigquery":
        request.applymarker(
            pytest.mark.xfail(raises=WarehouseError, strict=True, reason=EMULATOR_NESTED_ADD)
        )
    schemas = edited_schemas(
        tmp_path, lambda fields: sensor_field(fields, "data")["fields"].append(BATTERY)
    )
    evolved = backend.open(schemas)
    changes = {c.name: (c.action, c.detail) for c in evolved.init(schemas)}
    assert changes[SENSOR] == ("columns added", "data.battery")


def _retype_mac(fields: list[dict[str, Any]]) -> None:
    sensor_field(fields, "data")["fields"][0]["type"] = "FLOAT"


def _drop_location(fields: list[dict[str, Any]]) -> None:
    nested = sensor_field(fields, "data")["fields"]
    nested.remove(sensor_field(nested, "location"))


def _relax_timestamp(fields: list[dict[str, Any]]) -> None:
    sensor_field(fields, "timestamp")["mode"] = "NULLABLE"


def _drop_row_id(fields: list[dict[str, Any]]) -> None:
    fields.remove(sensor_field(fields, "row_id"))


@pytest.mark.parametrize(
    ("edit", "column"),
    [
        (_retype_mac, "sensor_thermo_beacon.data"),
        (_drop_location, "sensor_thermo_beacon.data"),
        (_relax_timestamp, "sensor_thermo_beacon.timestamp"),
        (_drop_row_id, "sensor_thermo_beacon.row_id"),
    ],
    ids=["type-change", "nested-column-removed", "mode-change", "column-removed"],
)
def test_breaking_change_is_refused_naming_the_column(
    backend: Backend,
    warehouse: Warehouse,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    edit: Callable[[list[dict[str, Any]]], None],
    column: str,
) -> None:
    schemas = edited_schemas(tmp_path, edit)
    with pytest.raises(BreakingChangeError, match=f"{column}.*breaking change"):
        backend.open(schemas).init(schemas)


# --- writes and reads ---


def test_inserted_rows_come_back_exactly(warehouse: Warehouse) -> None:
    assert warehouse.insert_rows(SENSOR, list(ROWS), list(IDS)) == InsertResult(3)
    result = warehouse.query(VIEW_SQL.format(dataset=warehouse.dataset), TWO_DAYS)
    assert result.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert result.to_pylist() == EXPECTED


def test_query_parameters_filter_with_their_types(warehouse: Warehouse) -> None:
    warehouse.insert_rows(SENSOR, list(ROWS), list(IDS))
    sql = (
        "SELECT data.mac AS mac FROM {dataset}.sensor_thermo_beacon_dedup WHERE day = @day "
        "AND timestamp >= @since AND home_id = @home AND data.temperature > @colder "
        "AND (@anything OR FALSE) AND row_id != @other"
    )
    params = {
        "day": date(2024, 11, 29),
        "since": datetime(2024, 11, 29, 15, 0, tzinfo=UTC),
        "home": 7,
        "colder": -4.0,
        "anything": True,
        "other": "x",
    }
    assert rows_of(warehouse, sql, **params) == [{"mac": 123}]


def test_reinserted_ids_add_nothing_as_readers_see_it(warehouse: Warehouse) -> None:
    warehouse.insert_rows(SENSOR, list(ROWS), list(IDS))
    # A redelivery of the same message, and a batch that repeats a row within itself.
    again = warehouse.insert_rows(SENSOR, [ROWS[0], ROWS[0], ROWS[2]], [IDS[0], IDS[0], IDS[2]])
    assert again.failed == ()
    assert again.inserted <= 2  # 0 on an exact backend; BigQuery counts what it accepted
    assert rows_of(warehouse, VIEW_COUNT_SQL) == [{"n": 3}]
    assert rows_of(warehouse, VIEW_SQL) == EXPECTED


def test_load_rows_is_exact_in_storage_on_a_rerun(warehouse: Warehouse) -> None:
    batch, ids = [*ROWS, ROWS[1]], [*IDS, IDS[1]]  # one id twice within the batch
    assert warehouse.load_rows(SENSOR, batch, ids) == InsertResult(3)
    assert warehouse.load_rows(SENSOR, batch, ids) == InsertResult(0)
    assert warehouse.load_rows(SENSOR, [ROWS[2]], [IDS[2]]) == InsertResult(0)
    # The base table itself, not the view: nothing was stored twice.
    assert rows_of(warehouse, TABLE_COUNT_SQL) == [{"n": 3, "ids": 3}]
    assert rows_of(warehouse, VIEW_SQL) == EXPECTED


def test_a_copy_with_another_battery_is_the_same_row(warehouse: Warehouse) -> None:
    # battery is an identity column: two copies of one reading whose battery estimates differ
    # (or a copy without one, as stored before version 3) share the row id, so one row.
    warehouse.insert_rows(SENSOR, list(ROWS), list(IDS))
    table = registry()[SENSOR]
    without = {k: v for k, v in READINGS[0].items() if k != "battery"}
    copies = [validate_row(table, {**READINGS[0], "battery": 12}), validate_row(table, without)]
    assert [c[ROW_ID] for c in copies] == [IDS[0], IDS[0]]
    assert warehouse.insert_rows(SENSOR, copies, [IDS[0], IDS[0]]).failed == ()
    assert rows_of(warehouse, VIEW_COUNT_SQL) == [{"n": 3}]


def test_load_rows_after_streaming_adds_only_new_ids(warehouse: Warehouse) -> None:
    warehouse.insert_rows(SENSOR, list(ROWS[:2]), list(IDS[:2]))
    assert warehouse.load_rows(SENSOR, list(ROWS), list(IDS)) == InsertResult(1)
    assert rows_of(warehouse, TABLE_COUNT_SQL) == [{"n": 3, "ids": 3}]


def test_empty_batches_write_nothing(warehouse: Warehouse) -> None:
    assert warehouse.insert_rows(SENSOR, [], []) == InsertResult(0)
    assert warehouse.load_rows(SENSOR, [], []) == InsertResult(0)


def test_a_row_id_per_row_is_required(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="2 rows but 1 row ids"):
        warehouse.insert_rows(SENSOR, list(ROWS[:2]), list(IDS[:1]))


# --- refusals ---

NO_TIMESTAMP = {k: v for k, v in ROWS[0].items() if k != "timestamp"}


def test_row_the_warehouse_refuses_comes_back_failed_with_its_reason(
    backend: Backend, warehouse: Warehouse
) -> None:
    """Validated rows never reach this; a row that skipped validation fails alone, with the
    warehouse's own reason, and the rest of its batch lands (on every backend)."""
    result = warehouse.insert_rows(SENSOR, [ROWS[1], NO_TIMESTAMP], [IDS[1], "no-timestamp"])
    reasons = {
        "bigquery": "invalid: Missing required field: timestamp. (timestamp)",
        "duckdb": (
            "invalid: Constraint Error: NOT NULL constraint failed: "
            'sensor_thermo_beacon."timestamp"'
        ),
    }
    assert result == InsertResult(1, (RowFailure(1, reasons[backend.name]),))
    assert rows_of(warehouse, VIEW_SQL) == [EXPECTED[1]]


def test_missing_table_says_how_to_create_it(blank: Warehouse) -> None:
    sql = f"SELECT * FROM {blank.dataset}.sensor_thermo_beacon WHERE day = @day"
    writes: list[Callable[[], object]] = [
        lambda: blank.insert_rows(SENSOR, list(ROWS), list(IDS)),
        lambda: blank.load_rows(SENSOR, list(ROWS), list(IDS)),
        lambda: blank.query(sql, {"day": date(2024, 11, 29)}),
    ]
    for write in writes:
        with pytest.raises(MissingTableError, match=r"livability init.*make deploy"):
            write()


def test_naive_datetime_parameter_is_refused(warehouse: Warehouse) -> None:
    sql = (
        f"SELECT COUNT(*) AS n FROM {warehouse.dataset}.sensor_thermo_beacon_dedup "
        "WHERE day = @day AND timestamp > @t"
    )
    with pytest.raises(TypeError, match="naive datetime"):
        warehouse.query(sql, {"day": date(2024, 11, 29), "t": datetime(2024, 11, 29, 12)})


@pytest.fixture(params=["duckdb", "bigquery"])
def unavailable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """A warehouse whose backend cannot be reached."""
    if request.param == "duckdb":
        blocker = tmp_path / "a-file"
        blocker.write_text("a file where the warehouse folder should be")
        down: Warehouse = DuckDBWarehouse(blocker / "warehouse.duckdb", registry(), DATASET)
    else:
        with socket.socket() as probe:  # a port nothing listens on once the probe closes
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        down = BigQueryWarehouse(
            PROJECT, DATASET, registry(), emulator=f"127.0.0.1:{port}", deadline=1.0
        )
    yield down
    down.close()


def test_unavailable_backend_raises_warehouse_error(unavailable: Warehouse) -> None:
    sql = f"SELECT * FROM {DATASET}.sensor_thermo_beacon WHERE day = @day"
    calls: list[Callable[[], object]] = [
        lambda: unavailable.init(registry()),
        lambda: unavailable.insert_rows(SENSOR, list(ROWS), list(IDS)),
        lambda: unavailable.load_rows(SENSOR, list(ROWS), list(IDS)),
        lambda: unavailable.query(sql, {"day": date(2024, 11, 29)}),
    ]
    for call in calls:
        with pytest.raises(WarehouseError) as raised:
            call()
        assert not isinstance(raised.value, MissingTableError)


# --- BigQuery's best-effort streaming, and the views that make it exact for readers ---


def test_dedup_view_removes_copies_that_streaming_let_through(
    backend: Backend, warehouse: Warehouse
) -> None:
    only(backend, "bigquery", "DuckDB's primary key stores no copy to remove")
    assert isinstance(warehouse, BigQueryWarehouse)
    # What a redelivery after insertId's one-minute window looks like: a new insertId.
    target = f"{PROJECT}.{warehouse.dataset}.{SENSOR}"
    copy = {**ROWS[0], "day": "2024-11-29", "timestamp": "2024-11-29T14:33:35.855000Z"}
    for insert_id in ("first-delivery", "late-redelivery"):
        assert warehouse.client.insert_rows_json(target, [copy], row_ids=[insert_id]) == []
    assert rows_of(warehouse, TABLE_COUNT_SQL) == [{"n": 2, "ids": 1}]
    assert rows_of(warehouse, VIEW_SQL) == [EXPECTED[0]]


def test_second_client_on_the_same_dataset_sees_the_rows(
    backend: Backend, warehouse: Warehouse
) -> None:
    only(
        backend,
        "bigquery",
        "a second DuckDB process is covered by tests/adapters/test_duckdb_concurrency.py",
    )
    warehouse.insert_rows(SENSOR, list(ROWS), list(IDS))
    assert isinstance(warehouse, BigQueryWarehouse)
    other = bigquery_warehouse(str(warehouse.emulator), registry(), warehouse.dataset)
    try:
        assert rows_of(other, VIEW_SQL) == EXPECTED
    finally:
        other.close()


# --- what a backend can do: the optional export_week, asked of the port ---

ARCHIVE_URLS = {"folder": "file:///srv/livability/archive", "cloud": "gs://archive-bucket/raw"}
# BigQuery's EXPORT DATA writes Cloud Storage only; DuckDB writes no export files itself.
EXPORTS_TO = {
    "duckdb": {"folder": False, "cloud": False},
    "bigquery": {"folder": False, "cloud": True},
}
WEEK_START, WEEK_END = date(2024, 11, 25), date(2024, 12, 1)


def test_each_backend_says_where_it_exports_and_refuses_to_export_anywhere_else(
    backend: Backend, warehouse: Warehouse
) -> None:
    answers = {kind: warehouse.exports_to(url) for kind, url in ARCHIVE_URLS.items()}
    assert answers == EXPORTS_TO[backend.name]
    for kind, url in ARCHIVE_URLS.items():
        if answers[kind]:
            continue  # tests/archive/test_archive_cloud.py exports into the Cloud Storage stand-in
        with pytest.raises(NotSupportedError):
            warehouse.export_week(SENSOR, WEEK_START, WEEK_END, f"{url}/2024-11-25/{SENSOR}/*.gz")


@pytest.mark.parametrize("uri", ["gs://archive-bucket/it's/*.gz", "gs://archive-bucket/a\\b/*.gz"])
def test_export_week_refuses_a_uri_that_could_leave_its_quotes(
    backend: Backend, warehouse: Warehouse, uri: str
) -> None:
    only(backend, "bigquery", "DuckDB exports nothing (the test above)")
    with pytest.raises(ValueError, match="not a URI EXPORT DATA can take"):
        warehouse.export_week(SENSOR, WEEK_START, WEEK_END, uri)
