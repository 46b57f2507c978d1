"""`livability load-archive`: BigQuery JSON exports through the same contract as messages."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from livability.cli.app import main
from livability.settings import Settings

REAL_WEEK = {"sensor_thermo_beacon": 1152, "weather_data": 2014}
# A line as BigQuery's EXPORT DATA writes it (INTEGER as string, +00:00 offset, WKT).
EXPORT_LINE = {
    "day": "2024-12-01",
    "timestamp": "2024-12-01T00:07:53.216+00:00",
    "data": {
        "mac": "79091822756114",
        "home_id": "1",
        "temperature": 18.34,
        "humidity": 66.99,
        "location": "POINT(-0.41472 51.87833)",
    },
}


def load_json(capsys: pytest.CaptureFixture[str], *args: str, status: int = 0) -> Any:
    assert main(["load-archive", *args, "--json"]) == status
    return json.loads(capsys.readouterr().out)


def dead_letters(settings: Settings) -> list[dict[str, Any]]:
    warehouse = settings.open_warehouse()
    try:
        return warehouse.query(  # type: ignore[no-any-return]
            "SELECT message_id, target_table, reason, payload FROM sensor_data.dead_letter "
            "ORDER BY reason"
        ).to_pylist()
    finally:
        warehouse.close()


def counts(settings: Settings) -> dict[str, int]:
    warehouse = settings.open_warehouse()
    try:
        return {
            table: warehouse.query(f"SELECT count(*) AS n FROM sensor_data.{table}")
            .column("n")[0]
            .as_py()
            for table in (*REAL_WEEK, "dead_letter")
        }
    finally:
        warehouse.close()


def write_export(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)


SENSOR_FILE = "2024-12-01/sensor_thermo_beacon/000000000000.gz"
WEATHER_FILE = "2024-12-01/weather_data/000000000000.gz"


def line(n: int) -> str:
    """EXPORT_LINE at the `n`th 10 seconds of the day, with readings that vary (so that the
    gzip stream is not all back-references and a prefix of it holds whole lines)."""
    hours, rest = divmod(n * 10, 3600)
    stamp = f"2024-12-01T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.216+00:00"
    data = {
        **EXPORT_LINE["data"],
        "temperature": 15 + (n * 7919 % 1000) / 100,
        "humidity": 40 + (n * 104729 % 3000) / 100,
    }
    return json.dumps({**EXPORT_LINE, "timestamp": stamp, "data": data})


def clean(tables: dict[str, int]) -> dict[str, Any]:
    return {
        "tables": {t: {"loaded": n, "rejected": 0, "duplicates": 0} for t, n in tables.items()},
        "problems": [],
    }


def test_real_archive_loads_every_row_once(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load_json(capsys, str(archive)) == clean(REAL_WEEK)
    second = load_json(capsys, str(archive))
    assert second == {
        "tables": {t: {"loaded": 0, "rejected": 0, "duplicates": n} for t, n in REAL_WEEK.items()},
        "problems": [],
    }
    assert counts(settings) == {**REAL_WEEK, "dead_letter": 0}


def test_one_week_folder_can_be_loaded_on_its_own(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    result = load_json(capsys, str(archive / "2024-12-01"))
    assert {t: c["loaded"] for t, c in result["tables"].items()} == REAL_WEEK


def test_bad_lines_are_dead_lettered_with_file_and_line_and_the_rest_loads(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    too_hot = {**EXPORT_LINE, "data": {**EXPORT_LINE["data"], "temperature": 91.2}}
    write_export(
        tmp_path / "archive" / SENSOR_FILE,
        [line(7), "{truncated", json.dumps(too_hot), "", line(17)],
    )
    result = load_json(capsys, str(tmp_path / "archive"))
    assert result == {
        "tables": {"sensor_thermo_beacon": {"loaded": 2, "rejected": 2, "duplicates": 0}},
        "problems": [],
    }
    assert dead_letters(settings) == [
        {
            "message_id": SENSOR_FILE,
            "target_table": "sensor_thermo_beacon",
            "reason": f"{SENSOR_FILE} line 2: not JSON (Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1))",
            "payload": "{truncated",
        },
        {
            "message_id": SENSOR_FILE,
            "target_table": "sensor_thermo_beacon",
            "reason": f"{SENSOR_FILE} line 3: data.temperature: 91.2 is outside the physical "
            "range -40..85",
            "payload": json.dumps(too_hot),
        },
    ]


# --- Damaged files: small generated archives (run everywhere) ----------------------------------

UNDECODABLE = b'{"day":"2024-12-01","timestamp":"2024-12-01T00:07:53\xff.216+00:00"}'


def gzipped(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(item + b"\n" for item in lines))


def test_undecodable_byte_costs_one_line(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "archive" / SENSOR_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(gzipped([line(7).encode(), UNDECODABLE, line(27).encode()]))
    result = load_json(capsys, str(tmp_path / "archive"))
    assert result["tables"] == {
        "sensor_thermo_beacon": {"loaded": 2, "rejected": 1, "duplicates": 0}
    }
    assert dead_letters(settings) == [
        {
            "message_id": SENSOR_FILE,
            "target_table": "sensor_thermo_beacon",
            "reason": f"{SENSOR_FILE} line 2: not UTF-8 (byte 0xff at column 53)",
            "payload": "base64:" + base64.b64encode(UNDECODABLE).decode(),
        }
    ]


def truncated_export(tmp_path: Path, lines: int) -> tuple[Path, bytes]:
    whole = gzipped([line(minute).encode() for minute in range(lines)])
    target = tmp_path / "archive" / SENSOR_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    return target, whole


def test_truncated_gzip_loads_what_was_read_reports_damage_and_a_rerun_completes(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    target, whole = truncated_export(tmp_path, 300)
    target.write_bytes(whole[: len(whole) // 2])

    first = load_json(capsys, str(tmp_path / "archive"), status=1)
    loaded = first["tables"]["sensor_thermo_beacon"]["loaded"]
    assert 0 < loaded < 300
    [problem] = first["problems"]
    assert problem["where"] == SENSOR_FILE
    assert problem["damage"] is True
    assert problem["reason"].startswith(
        "truncated: the gzip stream ends before its end marker, at compressed byte "
        f"{len(whole) // 2}: reading stopped in line {loaded + 1}; the {loaded} line(s) before "
        "it were read"
    )
    [dead] = dead_letters(settings)
    assert dead["reason"] == f"{SENSOR_FILE}: {problem['reason']}"
    assert line(loaded).startswith(dead["payload"])  # the unfinished line

    target.write_bytes(whole)  # the file is fetched again, whole
    second = load_json(capsys, str(tmp_path / "archive"))
    assert second == {
        "tables": {
            "sensor_thermo_beacon": {"loaded": 300 - loaded, "rejected": 0, "duplicates": loaded}
        },
        "problems": [],
    }
    assert counts(settings)["sensor_thermo_beacon"] == 300


def test_corrupt_gzip_loads_the_lines_before_the_bad_byte(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    target, whole = truncated_export(tmp_path, 200)
    damaged = bytearray(whole)
    middle = len(whole) // 2
    damaged[middle : middle + 8] = b"\xff" * 8
    target.write_bytes(bytes(damaged))

    result = load_json(capsys, str(tmp_path / "archive"), status=1)
    counted = result["tables"]["sensor_thermo_beacon"]
    assert counted["loaded"] > 0
    assert counted["loaded"] + counted["rejected"] <= 201
    [problem] = result["problems"]
    assert problem["reason"].startswith(("corrupt gzip data", "truncated"))
    assert "reading stopped" in problem["reason"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            b"this is not gzip",
            "corrupt gzip data (Error -3 while decompressing data: incorrect header check), "
            "at compressed byte 1: reading stopped after line 0; the 0 line(s) before it were read",
            id="not gzip",
        ),
        pytest.param(
            b"",
            "empty file (0 bytes), not a gzip export, at compressed byte 0: reading stopped "
            "after line 0; the 0 line(s) before it were read",
            id="empty file",
        ),
    ],
)
def test_unreadable_file_is_damage_and_the_other_files_load(
    tmp_path: Path,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    reason: str,
) -> None:
    root = tmp_path / "archive"
    (root / WEATHER_FILE).parent.mkdir(parents=True)
    (root / WEATHER_FILE).write_bytes(content)
    write_export(root / SENSOR_FILE, [line(7)])

    assert main(["load-archive", str(root)]) == 1
    captured = capsys.readouterr()
    assert [e for e in captured.err.splitlines() if e.startswith("livability:")] == [
        f"livability: damaged: {WEATHER_FILE}: {reason}",
        f"livability: error: 1 file(s) or folder(s) of {root} damaged or refused, the rest "
        "loaded; each is a dead letter (livability dead-letter list); fix and rerun, nothing "
        "loads twice",
    ]
    assert "Traceback" not in captured.out + captured.err
    assert counts(settings) == {"sensor_thermo_beacon": 1, "weather_data": 0, "dead_letter": 1}


@pytest.mark.parametrize("table", ["livability_scores", "dead_letter"])
def test_folders_of_tables_that_are_not_ingest_tables_are_refused(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    """A forged score was written this way: only tables devices publish to may load."""
    root = tmp_path / "archive"
    forged = {"week_start": "2024-12-01", "home_id": 1, "model_version": "x", "score": 100.0}
    write_export(root / "2024-12-01" / table / "000000000000.gz", [json.dumps(forged)])
    write_export(root / SENSOR_FILE, [line(7)])

    result = load_json(capsys, str(root), status=1)
    reason = (
        f"'{table}' is not an ingest table: load-archive loads only the tables devices publish "
        "to, as the event processor does; not loaded"
    )
    assert result == {
        "tables": {"sensor_thermo_beacon": {"loaded": 1, "rejected": 0, "duplicates": 0}},
        "problems": [{"where": f"2024-12-01/{table}", "reason": reason, "damage": True}],
    }
    warehouse = settings.open_warehouse()
    try:
        scores = warehouse.query("SELECT count(*) AS n FROM sensor_data.livability_scores")
    finally:
        warehouse.close()
    assert scores.to_pylist() == [{"n": 0}]
    assert dead_letters(settings) == [
        {
            "message_id": f"2024-12-01/{table}",
            "target_table": table,
            "reason": f"2024-12-01/{table}: {reason}",
            "payload": json.dumps({"folder": f"2024-12-01/{table}"}),
        }
    ]


def test_unknown_table_folder_is_refused_and_the_rest_loads(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "archive"
    write_export(root / "2024-12-01" / "users" / "000000000000.gz", [json.dumps({"a": 1})])
    write_export(root / SENSOR_FILE, [line(7)])
    result = load_json(capsys, str(root), status=1)
    assert result["problems"] == [
        {
            "where": "2024-12-01/users",
            "reason": "'users' is not a table defined in schemas/: not loaded",
            "damage": True,
        }
    ]
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 1


def test_stray_files_and_folders_are_skipped_with_a_note(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "archive"
    write_export(root / SENSOR_FILE, [line(7)])
    (root / "notes").mkdir()
    (root / "2024-13-01").mkdir()  # not a calendar date
    (root / "README.txt").write_text("exported by hand")
    (root / SENSOR_FILE).with_name("_SUCCESS").write_text("")

    result = load_json(capsys, str(root))  # nothing damaged: exit 0
    skipped = "not a <week start> folder (a YYYY-MM-DD date): skipped"
    assert result["problems"] == [
        {"where": "2024-13-01", "reason": skipped, "damage": False},
        {"where": "README.txt", "reason": skipped, "damage": False},
        {"where": "notes", "reason": skipped, "damage": False},
        {
            "where": "2024-12-01/sensor_thermo_beacon/_SUCCESS",
            "reason": "not a .gz export file: skipped",
            "damage": False,
        },
    ]
    assert result["tables"]["sensor_thermo_beacon"]["loaded"] == 1


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "not an archive: no <week start> folder (YYYY-MM-DD) in it, it is empty"),
    ],
)
def test_unusable_archive_is_a_one_line_error(
    tmp_path: Path,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    layout: dict[str, bool],
    message: str,
) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    assert main(["load-archive", str(root)]) == 1
    err = capsys.readouterr().err
    assert err == f"livability: error: {root}: {message}\n"


def test_missing_archive_folder_is_a_one_line_error(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-archive", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err == f"livability: error: {tmp_path / 'nowhere'}: no such folder\n"


# --- Damaged copies of the real week (skipped without ../shared) -------------------------------


def test_real_week_with_one_undecodable_byte_loads_every_other_line(
    archive: Path, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "archive"
    for relative in (SENSOR_FILE, WEATHER_FILE):
        lines = gzip.decompress((archive / relative).read_bytes()).split(b"\n")
        if relative == WEATHER_FILE:
            lines[16] = lines[16].replace(b"overcast", b"over\xffcast", 1)
        (root / relative).parent.mkdir(parents=True)
        (root / relative).write_bytes(gzip.compress(b"\n".join(lines)))

    result = load_json(capsys, str(root))
    assert result["tables"] == {
        "sensor_thermo_beacon": {"loaded": 1152, "rejected": 0, "duplicates": 0},
        "weather_data": {"loaded": 2013, "rejected": 1, "duplicates": 0},
    }
    [dead] = dead_letters(settings)
    assert dead["reason"].startswith(f"{WEATHER_FILE} line 17: not UTF-8 (byte 0xff at column ")
    assert dead["payload"] == "base64:" + base64.b64encode(lines[16]).decode()


def test_real_week_truncated_loads_the_lines_before_and_a_rerun_completes(
    archive: Path, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "archive"
    whole = (archive / SENSOR_FILE).read_bytes()
    (root / SENSOR_FILE).parent.mkdir(parents=True)
    (root / SENSOR_FILE).write_bytes(whole[: len(whole) * 2 // 3])

    first = load_json(capsys, str(root), status=1)
    loaded = first["tables"]["sensor_thermo_beacon"]["loaded"]
    assert 500 < loaded < 1152
    assert first["tables"]["sensor_thermo_beacon"]["rejected"] == 1  # the damage
    assert "reading stopped" in first["problems"][0]["reason"]

    (root / SENSOR_FILE).write_bytes(whole)
    second = load_json(capsys, str(root))
    assert second["tables"]["sensor_thermo_beacon"] == {
        "loaded": 1152 - loaded,
        "rejected": 0,
        "duplicates": loaded,
    }
    assert counts(settings)["sensor_thermo_beacon"] == 1152


def test_zlib_sees_the_damage_the_tests_make() -> None:
    """The corrupt-gzip test relies on zlib refusing 8 bytes of 0xff mid-stream."""
    whole = gzip.compress(b"".join(line(m).encode() + b"\n" for m in range(200)))
    damaged = whole[: len(whole) // 2] + b"\xff" * 8 + whole[len(whole) // 2 + 8 :]
    with pytest.raises((zlib.error, EOFError, OSError)):
        gzip.decompress(damaged)
