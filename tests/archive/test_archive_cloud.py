"""The archive on the cloud backends: BigQuery EXPORT DATA into Cloud Storage, and the round
trip archive → export on BigQuery.

Runs against the real local BigQuery stand-in (`local-bigquery`, through
google-cloud-bigquery) started with `STORAGE_EMULATOR_HOST`, so its EXPORT DATA writes into
the real Cloud Storage stand-in (`gcp-storage-emulator`, through google-cloud-storage).

What the stand-in cannot prove: its EXPORT DATA writes JSON unlike BigQuery's (INTEGER as
a number, TIMESTAMP as `2025-03-03 00:07:53.216+00`, explicit nulls, `POINT (x y)`), which
the contract's reader refuses (its offset is not ISO 8601). So the EXPORT DATA path is
tested for what it owns — the statement runs, the files land under `<week>/<table>/*.gz`,
the manifest counts and checksums them, verification and reruns hold, the rows are the
week's keys — and the byte format of BigQuery's export is tested on the real week in
../shared/data (test_archive_export.py) and by the query-and-upload writer, which the round
trip here runs on BigQuery through the same ports.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import polars as pl
import polars.testing
import pytest

from livability.adapters.bigquery import BigQueryWarehouse
from livability.archive import export, verify
from livability.archive import writer as archiver
from schemas import registry
from tests.archive.support import SENSOR, WEATHER, WEEK, in_week, load, new_gcs_bucket, week_rows
from tools.storage_emulator import StorageEmulator

LAST = WEEK + timedelta(days=6)


@pytest.fixture
def bigquery(bigquery_with_storage: str) -> Iterator[BigQueryWarehouse]:
    dataset = f"archive_{uuid.uuid4().hex[:10]}"
    warehouse = BigQueryWarehouse(
        "test-proj", dataset, registry(), emulator=bigquery_with_storage, deadline=8.0
    )
    warehouse.init(registry())
    yield warehouse
    warehouse.client.delete_dataset(f"test-proj.{dataset}", delete_contents=True, not_found_ok=True)
    warehouse.close()


def test_export_data_writes_the_week_into_cloud_storage_with_a_verified_manifest(
    bigquery: BigQueryWarehouse, storage: StorageEmulator
) -> None:
    rows = week_rows(hours=6)
    load(bigquery, rows)
    bucket = new_gcs_bucket(storage)
    assert archiver.choose_writer(bigquery, bucket) == "bigquery-export-data"
    outcome = archiver.archive_week(bigquery, bucket, WEEK, source="bigquery://test-proj/x")
    expected = {t: len(in_week(rows[t])) for t in (SENSOR, WEATHER)}
    assert (outcome.action, outcome.writer, outcome.tables, outcome.verified) == (
        "archived",
        "bigquery-export-data",
        expected,
        True,
    )
    week = WEEK.isoformat()
    assert [k for k in bucket.list() if k.endswith(".gz")] == [
        f"{week}/{SENSOR}/000000000000.gz",
        f"{week}/{WEATHER}/000000000000.gz",
    ]
    manifest = json.loads(bucket.get(f"{week}/manifest.json"))
    assert manifest["writer"] == "bigquery-export-data"
    for table in (SENSOR, WEATHER):
        data = gzip.decompress(bucket.get(f"{week}/{table}/000000000000.gz"))
        ids = sorted(json.loads(line)["row_id"] for line in data.splitlines())
        assert ids == sorted(r["row_id"] for r in in_week(rows[table]))
        assert manifest["tables"][table]["rows"] == expected[table]
    again = archiver.archive_week(bigquery, bucket, WEEK)
    assert (again.action, again.verified) == ("unchanged", True)
    assert verify.verify_week(bucket, WEEK).ok
    bucket.close()


def test_round_trip_on_bigquery_archive_then_export_equals_the_warehouse_rows(
    bigquery: BigQueryWarehouse, storage: StorageEmulator
) -> None:
    """Query and upload on BigQuery; the export then reads a dataset that no longer holds
    the week (a fresh one: the expired partitions), so every row comes from the archive."""
    load(bigquery, week_rows(hours=6))
    bucket = new_gcs_bucket(storage)
    outcome = archiver.archive_week(bigquery, bucket, WEEK, writer="query-upload")
    assert (outcome.writer, outcome.verified) == ("query-upload", True)
    fresh = BigQueryWarehouse(
        "test-proj",
        f"empty_{uuid.uuid4().hex[:8]}",
        registry(),
        emulator=bigquery.emulator,
        deadline=8.0,
    )
    fresh.init(registry())
    try:
        for table in (SENSOR, WEATHER):
            stored = pl.from_arrow(
                export._conform(
                    bigquery.query(
                        f"SELECT * FROM {bigquery.dataset}.{table}_dedup "
                        "WHERE day BETWEEN @first AND @last",
                        {"first": WEEK, "last": LAST},
                    ),
                    export.arrow_schema(registry()[table]),
                )
            )
            assert isinstance(stored, pl.DataFrame)
            from_archive = export.scan(table, WEEK, LAST, warehouse=fresh, archive=bucket).collect()
            polars.testing.assert_frame_equal(
                from_archive, stored.sort(["day", "timestamp", "row_id"])
            )
            from_warehouse = export.scan(
                table, WEEK, LAST, warehouse=bigquery, archive=bucket
            ).collect()
            polars.testing.assert_frame_equal(from_warehouse, from_archive)
    finally:
        fresh.client.delete_dataset(
            f"test-proj.{fresh.dataset}", delete_contents=True, not_found_ok=True
        )
        fresh.close()
        bucket.close()
