"""`livability load-archive` within its bounds (issue 16 #2), inside its root (#3), against
its manifest (#4): a bound reached, a link, a special file or a lying manifest is one clear
line and a non-zero exit (or a skip with its reason), never a traceback, and every readable
valid row still loads once. Real gzip files in a real folder, a real DuckDB warehouse.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from livability.archive import format as archive_format
from livability.archive import loader, survey
from livability.archive.manifest import FileEntry, Manifest, TableEntry
from livability.cli.app import main
from livability.settings import Settings
from tests.archive.test_load_archive import SENSOR_FILE, counts, dead_letters, line

WEEK = "2024-12-01"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    status = main(["load-archive", *args, "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if captured.out else None, captured.err


def put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(text + b"\n" for text in lines), mtime=0)


# --- family 2: bounds -------------------------------------------------------------------------


def test_a_line_over_the_cap_is_one_dead_letter_of_1_kib_and_the_other_lines_load(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    long = b'{"day": "' + b"x" * archive_format.MAX_LINE_BYTES + b'"}'
    put(tmp_path / SENSOR_FILE, gz([line(1).encode(), long, line(2).encode()]))
    status, result, err = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"] == {
        "loaded": 2,
        "rejected": 1,
        "duplicates": 0,
    }
    [dead] = dead_letters(settings)
    assert dead["reason"] == (
        f"{SENSOR_FILE} line 2: longer than 1 MiB (load-archive's line cap): refused; its "
        "first 1 KiB are the payload"
    )
    assert dead["payload"] == long[:1024].decode()
    assert err.splitlines()[-1].startswith("livability: error: 1 file(s) or folder(s)")
    assert "Traceback" not in err
    assert "1 line(s) over the 1 MiB line cap (first: line 2)" in err


def test_a_line_that_never_ends_is_read_in_bounded_pieces() -> None:
    """A 12 MiB line with no newline: refused once, its bytes discarded as they come."""
    data = gzip.compress(b"[" * (12 << 20), mtime=0)
    items = list(archive_format.read_lines(lambda: _bytes_io(data)))
    assert len(items) == 1
    [only] = items
    assert isinstance(only, archive_format.Line)
    assert (only.number, only.bound, len(only.text)) == (1, True, 1024)


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def test_dead_letters_past_the_cap_are_counted_in_one_summary_record(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [b"{}"] * 1500 + [line(1).encode()]
    put(tmp_path / SENSOR_FILE, gz(lines))
    status, result, err = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"] == {
        "loaded": 1,
        "rejected": 1500,
        "duplicates": 0,
    }
    stored = counts(settings)
    assert (stored["sensor_thermo_beacon"], stored["dead_letter"]) == (1, 1001)
    reason = (
        "500 more line(s) refused past the dead-letter cap (1,000 dead letters or 64 MiB per "
        "file): counted, not stored one by one; fix the file and load it again"
    )
    summary = [d for d in dead_letters(settings) if "past the dead-letter cap" in d["reason"]]
    assert [(d["reason"], json.loads(d["payload"])) for d in summary] == [
        (f"{SENSOR_FILE}: {reason}", {"file": SENSOR_FILE, "refused_past_cap": 500})
    ]
    assert f"livability: damaged: {SENSOR_FILE}: {reason}" in err.splitlines()


def test_a_gzip_bomb_stops_at_the_ratio_cap_after_its_valid_lines(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    head = line(1).encode() + b"\n"
    bomb = gzip.compress(head + b"\n" * (64 << 20), mtime=0)
    put(tmp_path / SENSOR_FILE, bomb)
    status, result, err = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 1
    [problem] = [p for p in result["problems"] if p["damage"]]
    assert problem["where"] == SENSOR_FILE
    assert problem["reason"].startswith(
        "decompresses at over 200:1 past 16 MiB (a gzip bomb? load-archive's ratio cap), at "
        "compressed byte "
    )
    assert "Traceback" not in err


def test_batches_are_cut_by_bytes_as_well_as_lines(tmp_path: Path, settings: Settings) -> None:
    """6,000 rows of 2 KiB: the first batch ends at 8 MiB (about 4,100 rows), not at 5,000."""
    padded = [json.dumps({**json.loads(line(n)), "note": "x" * 2000}).encode() for n in range(6000)]
    put(tmp_path / SENSOR_FILE, gz(padded))
    batches: list[int] = []
    warehouse = settings.open_warehouse()
    try:
        report = loader.load_archive(
            warehouse, survey.survey(tmp_path), root=tmp_path, on_rows=batches.append
        )
    finally:
        warehouse.close()
    assert report.totals["sensor_thermo_beacon"].loaded == 6000
    assert sum(batches) == 6000
    first = sum(len(text) for text in padded[: batches[0]])
    assert first >= loader.BATCH_BYTES > first - len(padded[batches[0] - 1])
    assert max(batches) < loader.BATCH_ROWS


def test_a_folder_over_the_entry_cap_is_refused_in_one_line(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / WEEK / "sensor_thermo_beacon"
    folder.mkdir(parents=True)
    for index in range(survey.MAX_ENTRIES + 1):
        (folder / f"{index:012d}.gz").touch()
    assert main(["load-archive", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"livability: error: {WEEK}/sensor_thermo_beacon: over 10,000 entries (load-archive's "
        "cap per folder)\n"
    )


def test_a_load_over_the_file_cap_is_refused_in_one_line(
    tmp_path: Path,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cap lowered to 2 (100,000 files would take minutes to make): the same check."""
    monkeypatch.setattr(survey, "MAX_FILES", 2)
    for index in range(3):
        put(
            tmp_path / WEEK / "sensor_thermo_beacon" / f"{index:012d}.gz",
            gz([line(index).encode()]),
        )
    assert main(["load-archive", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: {tmp_path}: 3 export files, over load-archive's cap of 2 per "
        "load; load one <week start> folder at a time\n"
    )
    assert counts(settings)["sensor_thermo_beacon"] == 0


def test_a_load_over_the_listing_cap_is_refused_in_one_line(
    tmp_path: Path,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many folders of stray entries, each under the folder cap: the cap on the whole listing
    (lowered to 5 here; a million entries would take minutes to make) bounds the survey."""
    monkeypatch.setattr(survey, "MAX_LISTED", 5)
    for week in ("2024-12-02", "2024-12-09", "2024-12-16"):
        (tmp_path / week / "notes").mkdir(parents=True)
    assert main(["load-archive", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: {tmp_path}: over 5 entries in all (load-archive's cap per load); "
        "load one <week start> folder at a time\n"
    )


def test_a_manifest_over_the_cap_is_not_read_and_every_file_loads(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    put(tmp_path / SENSOR_FILE, gz([line(1).encode()]))
    put(tmp_path / WEEK / "manifest.json", b" " * (survey.MAX_MANIFEST_BYTES + 1))
    status, result, _ = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 1
    assert {"where": f"{WEEK}/manifest.json", "damage": True} | {
        "reason": "unreadable manifest, every .gz loads: over 16 MiB (load-archive's manifest "
        "cap): not read"
    } in result["problems"]


# --- family 3: nothing outside the root ------------------------------------------------------


def test_links_out_of_the_archive_are_not_followed(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    secret = put(outside / "secret.gz", gz([b"SECRET_TOKEN=abc"]))
    put(outside / WEEK / "sensor_thermo_beacon" / "000000000000.gz", gz([line(7).encode()]))
    root = tmp_path / "archive"
    put(root / SENSOR_FILE, gz([line(1).encode()]))
    (root / WEEK / "sensor_thermo_beacon" / "000000000001.gz").symlink_to(secret)
    (root / WEEK / "weather_data").symlink_to(outside / WEEK / "sensor_thermo_beacon")
    (root / "2024-12-08").symlink_to(outside / WEEK)
    status, result, _ = run_json(capsys, str(root))
    assert status == 0
    assert result["tables"] == {
        "sensor_thermo_beacon": {"loaded": 1, "rejected": 0, "duplicates": 0}
    }
    reason = (
        "a symbolic link, not followed: skipped (load-archive reads only what lies inside PATH)"
    )
    assert sorted(result["problems"], key=lambda p: p["where"]) == [
        {
            "where": f"{WEEK}/sensor_thermo_beacon/000000000001.gz",
            "reason": reason,
            "damage": False,
        },
        {"where": f"{WEEK}/weather_data", "reason": reason, "damage": False},
        {"where": "2024-12-08", "reason": reason, "damage": False},
    ]
    assert counts(settings)["dead_letter"] == 0


def test_a_fifo_is_skipped_with_its_reason_and_never_opened(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    put(tmp_path / SENSOR_FILE, gz([line(1).encode()]))
    os.mkfifo(tmp_path / WEEK / "sensor_thermo_beacon" / "000000000001.gz")
    status, result, _ = run_json(capsys, str(tmp_path))
    assert status == 0
    assert result["problems"] == [
        {
            "where": f"{WEEK}/sensor_thermo_beacon/000000000001.gz",
            "reason": "a FIFO, not a regular file: skipped (load-archive reads only what lies "
            "inside PATH)",
            "damage": False,
        }
    ]


def test_a_link_swapped_in_after_the_survey_is_not_opened(tmp_path: Path) -> None:
    secret = put(tmp_path / "secret.gz", gz([b"SECRET_TOKEN=abc"]))
    link = tmp_path / "000000000000.gz"
    link.symlink_to(secret)
    [damage] = list(archive_format.read_lines(link))
    assert isinstance(damage, archive_format.Damage)
    assert damage.reason.startswith("cannot read (")
    assert damage.tail == b""


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "PATH is empty: give the archive folder (or one week folder)"),
        ("/proc", "/proc: a system folder, not an archive"),
        ("/dev/null", "/dev/null: not a folder; give the archive folder (or one week folder)"),
    ],
)
def test_what_is_not_an_archive_is_refused_in_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], path: str, message: str
) -> None:
    assert main(["load-archive", path]) == 1
    assert capsys.readouterr().err == f"livability: error: {message}\n"


@pytest.mark.parametrize("path", ["gs://", "gs:///", "gs:/"])
def test_a_bucket_url_without_a_bucket_is_refused_in_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    assert main(["load-archive", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith("livability: error: load-archive PATH: 'gs://")
    assert err.count("\n") == 1


def test_a_folder_with_no_week_in_it_is_not_an_archive(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "README.txt").write_text("hello")
    (tmp_path / "src").mkdir()
    assert main(["load-archive", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: {tmp_path}: not an archive: no <week start> folder (YYYY-MM-DD) "
        "in it, 2 other entries\n"
    )


# --- family 4: a manifest is checked, not trusted --------------------------------------------


def manifest(tables: dict[str, TableEntry]) -> bytes:
    return Manifest(
        week_start=date(2024, 12, 1),
        last_day=date(2024, 12, 7),
        created_at=datetime(2024, 12, 8, tzinfo=UTC),
        writer="query-upload",
        source="duckdb:///w",
        tables=tables,
    ).to_json()


def entry_for(data: bytes, **changes: Any) -> TableEntry:
    rows = len(zlib.decompress(data, 31).splitlines())
    fields: dict[str, Any] = {
        "name": "000000000000.gz",
        "bytes": len(data),
        "rows": rows,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    listed = FileEntry(**(fields | changes))
    return TableEntry(schema_version=1, rows=listed.rows, source_rows=listed.rows, files=(listed,))


def test_a_true_manifest_loads_without_a_problem(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    data = put(tmp_path / SENSOR_FILE, gz([line(n).encode() for n in range(3)])).read_bytes()
    put(tmp_path / WEEK / "manifest.json", manifest({"sensor_thermo_beacon": entry_for(data)}))
    status, result, _ = run_json(capsys, str(tmp_path))
    assert (status, result["problems"]) == (0, [])
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 3


@pytest.mark.parametrize(
    "lie",
    [{"rows": 4}, {"bytes": 1}, {"sha256": "0" * 64}],
    ids=["rows", "bytes", "sha256"],
)
def test_a_manifest_that_lies_about_a_file_names_it_and_its_rows_still_load(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str], lie: dict[str, Any]
) -> None:
    data = put(tmp_path / SENSOR_FILE, gz([line(n).encode() for n in range(3)])).read_bytes()
    entry = entry_for(data, **lie)
    entry = TableEntry(1, entry.files[0].rows, entry.files[0].rows, entry.files)
    put(tmp_path / WEEK / "manifest.json", manifest({"sensor_thermo_beacon": entry}))
    status, result, err = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 3
    [problem] = result["problems"]
    assert (problem["where"], problem["damage"]) == (SENSOR_FILE, True)
    digest = hashlib.sha256(data).hexdigest()
    claimed = entry.files[0]
    assert problem["reason"] == (
        f"{len(data)} bytes, SHA-256 {digest[:12]}…, 3 rows; the manifest says {claimed.bytes} "
        f"bytes, {claimed.sha256[:12]}…, {claimed.rows} rows: not the file the manifest lists "
        "(its readable rows loaded)"
    )
    assert err.splitlines()[-1].startswith("livability: error: 1 file(s)")


def test_an_empty_tables_manifest_does_not_hide_the_week(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    put(tmp_path / SENSOR_FILE, gz([line(n).encode() for n in range(3)]))
    put(tmp_path / WEEK / "manifest.json", manifest({}))
    status, result, _ = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 3
    assert result["problems"] == [
        {
            "where": SENSOR_FILE,
            "reason": "the week's manifest lists no table 'sensor_thermo_beacon': manifest and "
            "files disagree (the file's readable rows loaded)",
            "damage": True,
        }
    ]


def test_a_manifest_whose_total_is_not_its_files_sum_is_an_error(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    data = put(tmp_path / SENSOR_FILE, gz([line(n).encode() for n in range(3)])).read_bytes()
    entry = entry_for(data)
    wrong = TableEntry(1, rows=99, source_rows=99, files=entry.files)
    put(tmp_path / WEEK / "manifest.json", manifest({"sensor_thermo_beacon": wrong}))
    status, result, _ = run_json(capsys, str(tmp_path))
    assert status == 1
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 3
    assert result["problems"] == [
        {
            "where": f"{WEEK}/sensor_thermo_beacon",
            "reason": "the manifest's files hold 3 rows but its total for the table says 99",
            "damage": True,
        }
    ]


# --- the terminal is for people ---------------------------------------------------------------


def test_without_v_the_terminal_gets_a_summary_and_no_log_lines(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path /= "archive"  # beside the settings' state folder
    put(tmp_path / SENSOR_FILE, gz([line(1).encode(), b"{}", b'{"day": 1}']))
    for index in range(7):
        (tmp_path / f"stray-{index}.txt").write_text("x")
    assert main(["load-archive", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    skipped = "not a <week start> folder (a YYYY-MM-DD date): skipped"
    assert err == [
        *(f"livability: skipped: stray-{index}.txt: {skipped}" for index in range(5)),
        "livability: skipped: 2 more (see -v or --json)",
    ]
    assert main(["-v", "load-archive", str(tmp_path)]) == 0
    verbose = capsys.readouterr().err.splitlines()
    assert [text for text in verbose if text.startswith("livability: skipped")] == [
        f"livability: skipped: stray-{index}.txt: {skipped}" for index in range(7)
    ]
    assert any(json.loads(text).get("severity") for text in verbose if text.startswith("{"))


def test_a_bucket_with_no_week_in_it_is_not_an_archive(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """Against the Cloud Storage stand-in (gcp-storage-emulator), through google-cloud-storage."""
    from tests.archive.support import new_gcs_bucket

    gcs = new_gcs_bucket(request.getfixturevalue("storage"))
    gcs.put("notes/readme.txt", CANARY_TEXT, "text/plain")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs._emulator or "")
    assert main(["load-archive", gcs.url]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: {gcs.url}: not an archive: no <week start> folder (YYYY-MM-DD) in it\n"
    )
    gcs.close()


CANARY_TEXT = b"SECRET_TOKEN=abc"
