"""`livability archive`: layout, manifest, verification, idempotent reruns, crash mid-way.

Runs against the real embedded DuckDB warehouse and two real archive buckets: the local
bucket (a folder) and Cloud Storage through google-cloud-storage against the
`gcp-storage-emulator` stand-in. The query-and-upload writer is the one used here (a DuckDB
warehouse); the BigQuery EXPORT DATA writer is in test_archive_cloud.py.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date, datetime, timedelta

import pytest

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.archive import schedule, verify
from livability.archive import writer as archiver
from livability.ports import Bucket, BucketError
from schemas import registry
from tests.archive.support import (
    SENSOR,
    WEATHER,
    WEEK,
    FailingBucket,
    in_week,
    load,
    sensor_row,
    week_rows,
)

W = WEEK.isoformat()


def lines(bucket: Bucket, key: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in gzip.decompress(bucket.get(key)).splitlines()]


def snapshot(bucket: Bucket) -> dict[str, str]:
    """Every data object's checksum (manifest and marker left out: they carry times)."""
    return {
        key: hashlib.sha256(bucket.get(key)).hexdigest()
        for key in bucket.list()
        if key.endswith(".gz")
    }


def test_a_week_is_archived_in_the_reference_layout_with_a_manifest(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    rows = week_rows()
    load(duck, rows)
    outcome = archiver.archive_week(duck, archive_bucket, WEEK, source="duckdb:///w")
    expected = {SENSOR: len(in_week(rows[SENSOR])), WEATHER: len(in_week(rows[WEATHER]))}
    assert (outcome.action, outcome.tables, outcome.verified, outcome.problems) == (
        "archived",
        expected,
        True,
        [],
    )
    assert archive_bucket.list() == sorted(
        [
            f"{W}/manifest.json",
            f"{W}/{SENSOR}/000000000000.gz",
            f"{W}/{WEATHER}/000000000000.gz",
            f"{W}/verified.json",
        ]
    )
    manifest = json.loads(archive_bucket.get(f"{W}/manifest.json"))
    assert manifest["format"] == "livability-archive/1"
    assert (manifest["week_start"], manifest["last_day"]) == (W, "2025-03-09")
    assert (manifest["writer"], manifest["source"]) == ("query-upload", "duckdb:///w")
    for table, count in expected.items():
        entry = manifest["tables"][table]
        data = archive_bucket.get(f"{W}/{table}/000000000000.gz")
        assert entry["schema_version"] == registry()[table].version
        assert entry["columns"] == [f.name for f in registry()[table].fields]
        assert (entry["rows"], entry["source_rows"]) == (count, count)
        assert entry["files"] == [
            {
                "name": "000000000000.gz",
                "bytes": len(data),
                "rows": count,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        ]
    # Only the week's days, one row per row_id.
    sensor = lines(archive_bucket, f"{W}/{SENSOR}/000000000000.gz")
    assert {r["day"] for r in sensor} == {(WEEK + timedelta(days=n)).isoformat() for n in range(7)}
    assert sorted(r["row_id"] for r in sensor) == sorted(r["row_id"] for r in in_week(rows[SENSOR]))


def test_lines_are_written_as_bigquery_exports_them(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    """INTEGER as a string, TIMESTAMP with +00:00 and trimmed fraction, an integral FLOAT
    without fraction, NULL omitted, non-ASCII as UTF-8: ../shared/data/README.md."""
    load(duck, week_rows())
    archiver.archive_week(duck, archive_bucket, WEEK)
    first_sensor = gzip.decompress(archive_bucket.get(f"{W}/{SENSOR}/000000000000.gz"))
    row = sensor_row(1, archiver_dt("2025-03-03T00:07:53.216+00:00"), 18.0 + 0 / 4 + 1 / 100)
    [line] = [x for x in first_sensor.split(b"\n") if row["row_id"].encode() in x]
    assert line == (
        b'{"day":"2025-03-03","timestamp":"2025-03-03T00:07:53.216+00:00","data":{'
        b'"mac":"79091822756001","home_id":"1","temperature":18.01,"humidity":56,'
        b'"location":"POINT(-0.41472 51.87833)"},"home_id":"1","row_id":"'
        + row["row_id"].encode()
        + b'"}'
    )
    weather = gzip.decompress(archive_bucket.get(f"{W}/{WEATHER}/000000000000.gz"))
    first = json.loads(weather.split(b"\n", 1)[0])
    assert "location" not in first["data"]  # NULL at 00:07 (even hour): omitted
    assert first["data"]["description"] == "light rain, «drizzle»"
    assert "«".encode() in weather  # UTF-8, not \u escapes
    assert first["data"]["sunrise"] == "2025-03-03T06:41:02+00:00"


def archiver_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_rerun_writes_nothing_when_the_week_is_unchanged_and_the_same_bytes_when_forced(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    load(duck, week_rows())
    archiver.archive_week(duck, archive_bucket, WEEK)
    before = snapshot(archive_bucket)
    manifest = archive_bucket.get(f"{W}/manifest.json")
    again = archiver.archive_week(duck, archive_bucket, WEEK)
    assert (again.action, again.verified) == ("unchanged", True)
    assert archive_bucket.get(f"{W}/manifest.json") == manifest
    forced = archiver.archive_week(duck, archive_bucket, WEEK, force=True)
    assert (forced.action, forced.verified) == ("archived", True)
    assert snapshot(archive_bucket) == before  # deterministic: same rows, same bytes


def test_late_rows_are_added_by_a_rerun_without_duplicating_the_others(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    rows = week_rows()
    load(duck, rows)
    archiver.archive_week(duck, archive_bucket, WEEK)
    late = sensor_row(2, archiver_dt("2025-03-05T12:00:00.5+00:00"), 21.5)
    load(duck, {SENSOR: [late, rows[SENSOR][30]]})  # one new row, one redelivery
    outcome = archiver.archive_week(duck, archive_bucket, WEEK)
    assert (outcome.action, outcome.verified) == ("archived", True)
    archived = lines(archive_bucket, f"{W}/{SENSOR}/000000000000.gz")
    ids = [r["row_id"] for r in archived]
    assert len(ids) == len(set(ids)) == len(in_week(rows[SENSOR])) + 1
    assert late["row_id"] in ids


def test_expired_partitions_never_shrink_the_archive(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    load(duck, week_rows())
    archiver.archive_week(duck, archive_bucket, WEEK)
    before = snapshot(archive_bucket)
    expire(duck, WEEK, WEEK + timedelta(days=2))
    outcome = archiver.archive_week(duck, archive_bucket, WEEK, force=True)
    assert (outcome.action, outcome.verified) == ("kept", True)
    assert any("the warehouse holds" in note for note in outcome.notes)
    assert snapshot(archive_bucket) == before


def expire(warehouse: DuckDBWarehouse, first: date, last: date) -> None:
    """What the 365-day partition expiry does: the days' rows are gone."""
    for table in (SENSOR, WEATHER):
        warehouse.query(
            f"DELETE FROM sensor_data.{table} WHERE day BETWEEN @first AND @last",
            {"first": first, "last": last},
        )


def test_an_empty_week_writes_nothing(duck: DuckDBWarehouse, archive_bucket: Bucket) -> None:
    outcome = archiver.archive_week(duck, archive_bucket, WEEK)
    assert (outcome.action, archive_bucket.list()) == ("empty", [])


def test_verify_names_every_damaged_missing_and_stray_file(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    load(duck, week_rows())
    archiver.archive_week(duck, archive_bucket, WEEK)
    sensor, weather = f"{W}/{SENSOR}/000000000000.gz", f"{W}/{WEATHER}/000000000000.gz"
    good = archive_bucket.get(sensor)
    archive_bucket.put(sensor, good[:-9])  # truncated
    archive_bucket.put(f"{W}/{WEATHER}/000000000007.gz", gzip.compress(b"{}\n"))
    result = verify.verify_week(archive_bucket, WEEK)
    assert not result.ok
    assert len(result.problems) == 1
    assert result.problems[0].startswith(sensor)
    assert "the manifest says" in result.problems[0]
    assert result.notes == [
        f"{W}/{WEATHER}/000000000007.gz: not in the manifest (an earlier run's): ignored"
    ]
    assert not verify.is_verified(archive_bucket, WEEK)
    recorded = json.loads(archive_bucket.get(f"{W}/verified.json"))
    assert recorded["verified"] is False
    assert recorded["problems"] == result.problems
    # A rerun finds the damage and, the warehouse still holding the week, writes it again.
    outcome = archiver.archive_week(duck, archive_bucket, WEEK)
    assert (outcome.action, outcome.verified) == ("archived", True)
    assert outcome.notes[0].startswith(sensor)
    assert archive_bucket.get(sensor) == good
    archive_bucket.put(f"{W}/{WEATHER}/000000000000.gz", b"")  # now missing its bytes
    assert verify.verify_week(archive_bucket, WEEK).problems[0].startswith(weather)


def test_verify_without_a_manifest_or_with_a_damaged_one_fails(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    assert verify.verify_week(archive_bucket, WEEK).problems == [
        f"{archive_bucket.url}/{W}: no manifest.json"
    ]
    archive_bucket.put(f"{W}/manifest.json", b'{"format": "livability-archive/1", "tables": 3}')
    problem = verify.verify_week(archive_bucket, WEEK).problems[0]
    assert problem.endswith("tables: expected an object, got int")
    # A damaged manifest is rewritten by the next run.
    load(duck, week_rows())
    assert archiver.archive_week(duck, archive_bucket, WEEK).verified


def test_a_crash_mid_way_leaves_the_week_unverified_and_the_rerun_completes(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    rows = week_rows()
    load(duck, rows)
    archiver.archive_week(duck, archive_bucket, WEEK)
    load(duck, {SENSOR: [sensor_row(1, archiver_dt("2025-03-04T01:02:03+00:00"), 20.0)]})
    crashing = FailingBucket(archive_bucket, fail_at=3)  # marker, sensor file, then crash
    with pytest.raises(BucketError, match="injected failure"):
        archiver.archive_week(duck, crashing, WEEK)
    assert not verify.is_verified(archive_bucket, WEEK)
    assert not verify.verify_week(archive_bucket, WEEK, record=False).ok
    outcome = archiver.archive_week(duck, archive_bucket, WEEK)
    assert (outcome.action, outcome.verified) == ("archived", True)
    assert outcome.tables[SENSOR] == len(in_week(rows[SENSOR])) + 1


def test_the_expiry_gate_archives_a_week_near_expiry_and_alerts_if_it_stays_unverified(
    duck: DuckDBWarehouse, archive_bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    assert WEEK in schedule.weeks_near_expiry(WEEK + schedule.RETENTION - timedelta(days=20))
    today = WEEK + schedule.RETENTION - timedelta(days=20)
    load(duck, week_rows())
    report = schedule.scheduled_run(duck, archive_bucket, today)
    near = [o for o in report.outcomes if o.week == WEEK]
    assert [(o.action, o.verified) for o in near] == [("archived", True)]
    assert report.ok
    assert report.at_risk == []
    # The same week, its archive damaged and the bucket refusing writes: an alert.
    archive_bucket.put(f"{W}/{SENSOR}/000000000000.gz", b"damaged")
    verify.verify_week(archive_bucket, WEEK)
    caplog.set_level("ERROR", logger="livability")
    damaged = schedule.scheduled_run(duck, _ReadOnly(archive_bucket), today)
    assert not damaged.ok
    assert damaged.at_risk[0].startswith(f"week {W}: its partitions expire from 2026-03-03")
    assert damaged.at_risk[0].endswith("read-only")
    # Once writes work again, the next run repairs it.
    assert schedule.scheduled_run(duck, archive_bucket, today).ok
    assert verify.verify_week(archive_bucket, WEEK).ok
    alerts = [r for r in caplog.records if getattr(r, "alert", False)]
    assert alerts
    assert alerts[0].week == W


class _ReadOnly(FailingBucket):
    """The archive as a reader sees it: the verification record is not rewritten."""

    def __init__(self, inner: Bucket) -> None:
        super().__init__(inner, fail_at=10**9)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        if key.endswith("verified.json"):
            return key
        raise BucketError(f"cannot write {key}: read-only")
