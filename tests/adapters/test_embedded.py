"""The embedded defaults behind the warehouse and bucket interfaces: DuckDB and a folder."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from livability.adapters.local_bucket import LocalBucket
from livability.ports import InsertResult
from livability.settings import Settings
from schemas import registry
from schemas.validation import row_id, validate_row

ROW = {
    "day": "2024-12-01",
    "timestamp": "2024-12-01T10:00:00Z",
    "data": {"mac": 1, "home_id": 2, "temperature": 19.5, "humidity": 55.0},
}


def test_bucket_puts_gets_and_lists_by_prefix(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path / "bucket")
    uri = bucket.put("scores/2024-12-01/scores.ndjson", b'{"home_id": 1}\n', "application/x-ndjson")
    bucket.put("scores/2024-12-08/scores.ndjson", b"")
    bucket.put("archive/2024-12-01/x.gz", b"x")
    assert uri == (tmp_path / "bucket/scores/2024-12-01/scores.ndjson").resolve().as_uri()
    assert bucket.get("scores/2024-12-01/scores.ndjson") == b'{"home_id": 1}\n'
    assert bucket.list("scores/") == [
        "scores/2024-12-01/scores.ndjson",
        "scores/2024-12-08/scores.ndjson",
    ]
    bucket.put("scores/2024-12-01/scores.ndjson", b"replaced")
    assert bucket.get("scores/2024-12-01/scores.ndjson") == b"replaced"


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "scores/../../x", "a\\b"])
def test_bucket_refuses_keys_that_leave_it(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="must be a relative path"):
        LocalBucket(tmp_path).put(key, b"x")


def test_empty_bucket_lists_nothing(tmp_path: Path) -> None:
    assert LocalBucket(tmp_path / "never-written").list() == []


def test_insert_skips_ids_seen_before_and_within_the_batch(settings: Settings) -> None:
    table = registry()["sensor_thermo_beacon"]
    row = validate_row(table, ROW)
    other = validate_row(table, {**ROW, "timestamp": "2024-12-01T10:10:00Z"})
    warehouse = settings.open_warehouse()
    ids = [row_id(table, row), row_id(table, row), row_id(table, other)]
    assert warehouse.insert_rows(table.name, [row, row, other], ids) == InsertResult(2)
    assert warehouse.insert_rows(table.name, [row, other], ids[1:]) == InsertResult(0)
    result = warehouse.query(
        "SELECT day, timestamp, data.temperature AS t FROM sensor_data.sensor_thermo_beacon "
        "WHERE day = @day AND timestamp >= @since ORDER BY timestamp",
        {"day": date(2024, 12, 1), "since": datetime(2024, 12, 1, 10, 5, tzinfo=UTC)},
    )
    assert result.to_pylist() == [
        {
            "day": date(2024, 12, 1),
            "timestamp": datetime(2024, 12, 1, 10, 10, tzinfo=UTC),
            "t": 19.5,
        }
    ]


def test_a_naive_datetime_parameter_is_refused(settings: Settings) -> None:
    warehouse = settings.open_warehouse()
    with pytest.raises(TypeError, match="is a naive datetime; pass it in UTC"):
        warehouse.query("SELECT @t AS t", {"t": datetime(2024, 12, 1, 10, 5)})


def test_insert_needs_one_id_per_row(settings: Settings) -> None:
    warehouse = settings.open_warehouse()
    with pytest.raises(ValueError, match="2 rows but 1 row ids"):
        warehouse.insert_rows("sensor_thermo_beacon", [{}, {}], ["a"])


def test_state_lives_under_livability_home(settings: Settings) -> None:
    settings.open_warehouse().close()
    settings.open_bucket().put("k", b"v")
    assert sorted(p.name for p in settings.home.iterdir()) == ["bucket", "warehouse.duckdb"]
