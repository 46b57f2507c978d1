"""Bytes per row: BigQuery's logical sizes computed from the contract in schemas/, on rows our
own code produces (the simulator's, validated) and on the real archived week in ../shared/data
(skipped with a reason where absent).

The expected sizes are BigQuery's documented data-type sizes
(cloud.google.com/bigquery/docs/storage_overview#data_type_sizes) applied by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from livability import finops
from livability.cli import finops as command
from schemas import Field, Table, registry
from schemas.validation import validate_row
from tests.finops.support import read_week

SAMPLE = Table(
    "sample",
    (
        Field("n", "INTEGER"),
        Field("x", "FLOAT"),
        Field("ok", "BOOLEAN"),
        Field("day", "DATE"),
        Field("at", "TIMESTAMP"),
        Field("text", "STRING"),
        Field("where", "GEOGRAPHY"),
        Field("rec", "RECORD", fields=(Field("a", "INTEGER"), Field("b", "STRING"))),
    ),
)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"n": 7}, 8),
        ({"x": 1.5}, 8),
        ({"ok": True}, 1),
        ({"day": "2024-12-01"}, 8),
        ({"at": "2024-12-01T00:00:00Z"}, 8),
        ({"text": "overcast clouds"}, 2 + 15),
        ({"text": "15 °C"}, 2 + 6),  # the degree sign is two bytes of UTF-8
        ({"text": ""}, 2),
        ({"where": "POINT(-0.41472 51.87833)"}, 16 + 24),
        ({"where": "LINESTRING(0 0, 1 1, 2 1.5)"}, 16 + 3 * 24),
        ({"rec": {"a": 1, "b": "xy"}}, 8 + 4),
        ({"rec": {"a": None, "b": None}}, 0),
        ({"n": None, "text": None, "where": None, "rec": None}, 0),
        ({}, 0),
    ],
)
def test_logical_bytes_per_data_type(row: dict[str, Any], expected: int) -> None:
    assert finops.row_bytes(SAMPLE, row) == expected


def test_a_subset_of_columns_by_leaf_path() -> None:
    row = {"n": 7, "text": "abc", "rec": {"a": 1, "b": "xy"}}
    assert finops.row_bytes(SAMPLE, row, ("n", "rec.b")) == 8 + 4
    with pytest.raises(KeyError, match=r"no column\(s\) \['rec.c'\]"):
        finops.row_bytes(SAMPLE, row, ("rec.c",))


def test_a_sensor_row_of_the_contract_adds_up_from_its_columns(
    simulated_rows: dict[str, list[dict[str, Any]]],
) -> None:
    """Each column of `sensor_thermo_beacon` as the contract types it; a STRING `row_id` is 2 B
    plus its hex digits, a POINT 40 B. The sum is the row's size, whatever columns are added."""
    table = registry()["sensor_thermo_beacon"]
    row = validate_row(table, simulated_rows["sensor_thermo_beacon"][0])
    per_column = {path: finops.row_bytes(table, row, (path,)) for path, _ in table.leaves()}
    assert per_column["timestamp"] == per_column["data.temperature"] == 8
    assert per_column["data.location"] == 40
    assert per_column["row_id"] == 2 + len(row["row_id"])
    assert finops.row_bytes(table, row) == sum(per_column.values())


def test_simulated_and_real_readings_measure_alike(
    measured: finops.Measurements, archive: Path
) -> None:
    """Over the columns the real week sets, simulated and real readings weigh the same."""
    table = registry()["sensor_thermo_beacon"]
    real = [validate_row(table, r) for r in read_week(archive, "sensor_thermo_beacon")]
    paths = [p for p, _ in table.leaves() if any(finops.row_bytes(table, r, (p,)) for r in real)]
    assert "data.location" in paths
    assert finops.mean(finops.row_bytes(table, r, paths) for r in real) == (
        measured.sensor.columns(paths)
    )


def test_real_weather_rows_measure_within_a_tenth_of_the_simulated(
    measured: finops.Measurements, archive: Path
) -> None:
    """Real weather rows differ in description lengths, and 134 of them have no location."""
    table = registry()["weather_data"]
    real = [validate_row(table, r) for r in read_week(archive, "weather_data")]
    mean = finops.mean(finops.row_bytes(table, r) for r in real)
    assert abs(mean / measured.weather.logical_bytes - 1) < Decimal("0.1")


def test_messages_are_measured_from_what_our_code_sends(
    simulated_rows: dict[str, list[dict[str, Any]]], measured: finops.Measurements
) -> None:
    """A gateway message of n rows weighs what edge.messages.encode makes of them; a one-row
    message what the data plane's publisher sends."""
    from edge.messages import encode
    from livability.messages import row_body as _body

    rows = simulated_rows["sensor_thermo_beacon"][:100]
    sample = measured.sensor
    body = encode("sensor_thermo_beacon", rows, "sensor_data").data
    estimated = 1 + 100 * sample.gateway_row_bytes
    assert abs(estimated / len(body) - 1) < Decimal("0.02")
    table = registry()["sensor_thermo_beacon"]
    one = json.loads(_body(table, 0, rows[0]))
    assert set(one) >= {"row_id", "home_id", "data"}  # what a BigQuery subscription stores
    assert abs(sample.message_bytes / len(_body(table, 0, rows[0])) - 1) < Decimal("0.05")


def test_the_archive_compresses_what_the_warehouse_stores(measured: finops.Measurements) -> None:
    """gzip'd JSON lines are smaller than the logical row, and not absurdly so."""
    for sample in (measured.sensor, measured.weather):
        assert Decimal(5) < sample.export_bytes < sample.logical_bytes


def test_a_score_row_and_a_function_bundle_are_measured(measured: finops.Measurements) -> None:
    table = registry()["livability_scores"]
    assert measured.score_bytes == finops.row_bytes(table, command.score_row())
    assert measured.score_json_bytes > measured.score_bytes / 2
    # functions/, livability/ (without local/) and schemas/, zipped: tens of kilobytes at least.
    assert 20_000 < measured.function_source_bytes < 5_000_000
