"""Period access: `livability export`, `livability.archive.export.scan` and `load-archive` of what
`archive` writes; the round trip archive → export equals the warehouse's rows exactly.

Runs against the real embedded DuckDB warehouse, the local bucket and Cloud Storage through
google-cloud-storage against `gcp-storage-emulator`; the CLI runs in process through its
`main`, configured by the environment as a user's shell does. Partition expiry is what
BigQuery's 365-day expiration does: the days' rows are deleted from the warehouse.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import polars.testing
import pytest

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.archive import export
from livability.archive import writer as archiver
from livability.cli.app import main
from livability.ports import Bucket
from livability.settings import Settings
from schemas import registry
from tests.archive.support import SENSOR, WEATHER, WEEK, load, week_rows

LAST = WEEK + timedelta(days=6)


def warehouse_rows(warehouse: DuckDBWarehouse, table: str, first: date, last: date) -> pl.DataFrame:
    """The rows readers see in the warehouse, typed and ordered as the export writes them."""
    result = warehouse.query(
        f"SELECT * FROM sensor_data.{table}_dedup WHERE day BETWEEN @first AND @last",
        {"first": first, "last": last},
    )
    frame = pl.from_arrow(export._conform(result, export.arrow_schema(registry()[table])))
    assert isinstance(frame, pl.DataFrame)
    return frame.sort(["day", "timestamp", "row_id"])


def expire(warehouse: DuckDBWarehouse, first: date, last: date) -> None:
    for table in (SENSOR, WEATHER):
        warehouse.query(
            f"DELETE FROM sensor_data.{table} WHERE day BETWEEN @first AND @last",
            {"first": first, "last": last},
        )


@pytest.mark.parametrize("expired_days", [7, 3])
def test_round_trip_archive_then_export_equals_the_warehouse_rows(
    duck: DuckDBWarehouse, archive_bucket: Bucket, expired_days: int
) -> None:
    """All of the week expired (read from the archive only), or its first 3 days (both)."""
    load(duck, week_rows())
    before = {t: warehouse_rows(duck, t, WEEK, LAST) for t in (SENSOR, WEATHER)}
    assert archiver.archive_week(duck, archive_bucket, WEEK).verified
    expire(duck, WEEK, WEEK + timedelta(days=expired_days - 1))
    for table in (SENSOR, WEATHER):
        frame = export.scan(table, WEEK, LAST, warehouse=duck, archive=archive_bucket).collect()
        polars.testing.assert_frame_equal(frame, before[table])


def test_export_reads_the_warehouse_alone_while_it_holds_the_week(
    duck: DuckDBWarehouse, archive_bucket: Bucket
) -> None:
    load(duck, week_rows())
    archiver.archive_week(duck, archive_bucket, WEEK)
    reader = export.PeriodReader(registry()[SENSOR], WEEK, LAST, duck, archive_bucket)
    frame = pl.concat(list(reader.frames()))
    assert reader.stats.archived_weeks == []
    assert (reader.stats.archive_rows, reader.stats.warehouse_rows) == (0, frame.height)
    polars.testing.assert_frame_equal(frame, warehouse_rows(duck, SENSOR, WEEK, LAST))


def test_scan_is_lazy_and_applies_selection_and_filters(
    duck: DuckDBWarehouse, tmp_path: Path
) -> None:
    archive = LocalBucket(tmp_path / "archive")
    load(duck, week_rows())
    archiver.archive_week(duck, archive, WEEK)
    expire(duck, WEEK, LAST)
    frame = export.scan(
        SENSOR, WEEK - timedelta(days=1), LAST + timedelta(days=1), warehouse=duck, archive=archive
    )
    assert frame.collect_schema() == export.polars_schema(registry()[SENSOR])
    homes = (
        frame.filter(pl.col("home_id") == 2)
        .select("timestamp", pl.col("data").struct.field("temperature"))
        .collect()
    )
    rows = [r for r in week_rows()[SENSOR] if r["home_id"] == 2]
    assert homes.height == len(
        rows
    )  # the day before and after from the warehouse, the week archived
    assert homes.columns == ["timestamp", "temperature"]
    assert (
        export.scan(SENSOR, WEEK, LAST, warehouse=duck, archive=archive).head(5).collect().height
        == 5
    )


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, status: int = 0) -> Any:
    assert main([*args]) == status, capsys.readouterr().err
    captured = capsys.readouterr()
    return json.loads(captured.out) if "--json" in args else captured.err


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LIVABILITY_ARCHIVE", f"file://{settings.home / 'archive'}")
    return Settings.from_env()


def test_cli_archive_export_parquet_and_csv_round_trip(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    warehouse = cli_settings.open_warehouse()
    load(warehouse, week_rows())
    before = warehouse_rows(warehouse, SENSOR, WEEK, LAST)  # type: ignore[arg-type]
    warehouse.close()
    done = run_cli(capsys, "archive", "--week", WEEK.isoformat(), "--json")
    assert [(w["week"], w["action"], w["verified"]) for w in done["weeks"]] == [
        (WEEK.isoformat(), "archived", True)
    ]
    assert run_cli(capsys, "archive", "--verify", "--week", WEEK.isoformat(), "--json")[0][
        "verified"
    ]
    warehouse = cli_settings.open_warehouse()
    expire(warehouse, WEEK, LAST)  # type: ignore[arg-type]
    warehouse.close()
    out = tmp_path / "out" / "sensor.parquet"
    summary = run_cli(
        capsys,
        "export",
        "--table",
        SENSOR,
        "--from",
        WEEK.isoformat(),
        "--to",
        LAST.isoformat(),
        "--out",
        str(out),
        "--json",
    )
    assert (summary["rows"], summary["from_archive"], summary["from_warehouse"]) == (
        before.height,
        before.height,
        0,
    )
    polars.testing.assert_frame_equal(pl.read_parquet(out), before)
    csv = tmp_path / "sensor.csv"
    run_cli(
        capsys,
        "export",
        "--table",
        SENSOR,
        "--from",
        WEEK.isoformat(),
        "--to",
        LAST.isoformat(),
        "--format",
        "csv",
        "--out",
        str(csv),
        "--json",
    )
    flat = pl.read_csv(csv, infer_schema=False)
    assert flat.columns == [
        "day",
        "timestamp",
        "data.mac",
        "data.home_id",
        "data.temperature",
        "data.humidity",
        "data.location",
        *[f.name for f in registry()[SENSOR].fields[3:]],
    ]
    first = before.row(0, named=True)
    assert flat.row(0, named=True)["timestamp"] == first["timestamp"].strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    assert flat.height == before.height
    assert flat["row_id"].to_list() == before["row_id"].to_list()


def test_cli_export_refuses_bad_options_with_one_line(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cases = [
        (["--table", "dead_letter"], "--table 'dead_letter': not a raw table"),
        (["--table", SENSOR, "--from", "2025-03-09", "--to", "2025-03-03"], "is before --from"),
        (["--table", SENSOR, "--out", "/dev/null"], "a character device, not a regular file"),
        (["--table", SENSOR, "--from", "1999-01-01"], "plausible range"),
    ]
    for extra, message in cases:
        args = {"--from": "2025-03-03", "--to": "2025-03-09", "--out": str(tmp_path / "x.pq")}
        for option, value in zip(extra[::2], extra[1::2], strict=True):
            args[option] = value
        flat = [x for pair in args.items() for x in pair]
        if "--table" not in args:
            flat += ["--table", SENSOR]
        err = run_cli(capsys, "export", *flat, status=1)
        assert message in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.pq").exists()


def test_load_archive_reads_what_archive_writes_from_a_folder_and_from_gs(
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    from tests.archive.support import new_gcs_bucket

    source = DuckDBWarehouse(tmp_path / "source.duckdb", registry(), "sensor_data")
    source.init()
    load(source, week_rows())
    gcs = new_gcs_bucket(request.getfixturevalue("storage"))
    archiver.archive_week(source, gcs, WEEK)
    local = LocalBucket(tmp_path / "archive")
    archiver.archive_week(source, local, WEEK)
    # A file an earlier run left behind is not in the manifest: it must not load.
    stray = tmp_path / "archive" / WEEK.isoformat() / SENSOR / "000000000009.gz"
    stray.write_bytes(
        (tmp_path / "archive" / WEEK.isoformat() / SENSOR / "000000000000.gz").read_bytes()
    )
    expected = {t: warehouse_rows(source, t, WEEK, LAST) for t in (SENSOR, WEATHER)}
    source.close()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs._emulator or "")
    for where in (str(tmp_path / "archive"), f"{gcs.url}/{WEEK.isoformat()}", gcs.url):
        monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path / f"load-{len(where)}"))
        counts = run_cli(capsys, "load-archive", where, "--json")
        assert {t: c["loaded"] for t, c in counts["tables"].items()} == {
            t: f.height for t, f in expected.items()
        }
        skipped = [p for p in counts["problems"] if not p["damage"]]
        assert skipped == (
            [
                {
                    "where": f"{WEEK.isoformat()}/{SENSOR}/000000000009.gz",
                    "reason": "not in the week's manifest (left by an earlier run): skipped",
                    "damage": False,
                }
            ]
            if where.startswith("/")
            else []
        )
        loaded = Settings.from_env().open_warehouse()
        for table, frame in expected.items():
            polars.testing.assert_frame_equal(warehouse_rows(loaded, table, WEEK, LAST), frame)  # type: ignore[arg-type]
        loaded.close()
    gcs.close()


def test_the_legacy_week_reads_through_export(
    archive: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The reference PoC's week (no manifest) with an empty warehouse: every row the
    contract accepts, typed and keyed as load-archive stores them."""
    monkeypatch.setenv("LIVABILITY_ARCHIVE", f"file://{archive}")
    out = tmp_path / "legacy.parquet"
    summary = run_cli(
        capsys,
        "export",
        "--table",
        SENSOR,
        "--from",
        "2024-12-01",
        "--to",
        "2024-12-08",
        "--out",
        str(out),
        "--json",
    )
    assert (summary["rows"], summary["from_archive"], summary["skipped"]) == (1152, 1152, 0)
    assert summary["archived_weeks_read"] == ["2024-12-01"]
    exported = pl.read_parquet(out)
    # The same rows as load-archive puts in the warehouse.
    run_cli(capsys, "load-archive", str(archive), "--json")
    warehouse = Settings.from_env().open_warehouse()
    stored = warehouse_rows(warehouse, SENSOR, date(2024, 12, 1), date(2024, 12, 8))  # type: ignore[arg-type]
    warehouse.close()
    polars.testing.assert_frame_equal(exported, stored)
    weather = export.scan(
        WEATHER,
        date(2024, 12, 1),
        date(2024, 12, 7),
        archive=LocalBucket(archive),
        warehouse=None,
        settings=Settings(home=tmp_path / "empty"),
    ).collect()
    assert weather.height == 2014
    assert weather.filter(pl.col("data").struct.field("location").is_null()).height == 134


def test_cli_all_complete_weeks_archives_every_monday_week_with_rows_then_verifies_them(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = cli_settings.open_warehouse()
    load(warehouse, week_rows())  # Sunday before WEEK, WEEK, Monday after it
    warehouse.close()
    done = run_cli(capsys, "archive", "--all-complete-weeks", "--json")
    weeks = ["2025-02-24", WEEK.isoformat(), "2025-03-10"]
    assert [(w["week"], w["action"], w["verified"]) for w in done["weeks"]] == [
        (w, "archived", True) for w in weeks
    ]
    again = run_cli(capsys, "archive", "--all-complete-weeks", "--json")
    assert {w["action"] for w in again["weeks"]} == {"unchanged"}
    checked = run_cli(capsys, "archive", "--verify", "--all-complete-weeks", "--json")
    assert [(w["week"], w["verified"]) for w in checked] == [(w, True) for w in weeks]
    err = run_cli(capsys, "archive", "--verify", "--week", "2025-01-06", status=1)
    assert err.strip().splitlines() == [
        "livability: error: 1 week(s) do not match their manifest: 2025-01-06; archive them "
        "again (livability archive --week D --force)"
    ]
    assert not (cli_settings.home / "archive" / "2025-01-06").exists()
    with pytest.raises(SystemExit) as usage:
        main(["archive", "--week", "2025-01-06", "--all-complete-weeks"])
    assert usage.value.code == 2


def test_cli_export_csv_to_stdout_and_into_a_folder(
    cli_settings: Settings, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--out -` is stdout on purpose (the counts go to stderr); `--out FOLDER` writes the
    default name inside it and says so (issue 16)."""
    warehouse = cli_settings.open_warehouse()
    load(warehouse, week_rows())
    rows = warehouse_rows(warehouse, SENSOR, WEEK, LAST).height  # type: ignore[arg-type]
    warehouse.close()
    period = ["--table", SENSOR, "--from", WEEK.isoformat(), "--to", LAST.isoformat()]
    assert main(["export", *period, "--format", "csv", "--out", "-"]) == 0
    captured = capfd.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("day,")
    assert len(lines) == rows + 1
    assert f"{rows} rows of {SENSOR}" in captured.err
    assert "written to stdout (csv)" in captured.err
    assert main(["export", *period, "--format", "csv", "--out", str(tmp_path)]) == 0
    written = tmp_path / f"{SENSOR}-{WEEK.isoformat()}-{LAST.isoformat()}.csv"
    assert f"written to {written} (csv)" in capfd.readouterr().out
    assert written.read_text().splitlines() == lines
