"""`livability load-archive`: BigQuery JSON exports through the same contract as messages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from livability.local.cli import main
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


def load_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(["load-archive", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


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


def test_real_archive_loads_every_row_once(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    first = load_json(capsys, str(archive))
    assert first == {
        "tables": {t: {"loaded": n, "rejected": 0, "duplicates": 0} for t, n in REAL_WEEK.items()}
    }
    second = load_json(capsys, str(archive))
    assert second == {
        "tables": {t: {"loaded": 0, "rejected": 0, "duplicates": n} for t, n in REAL_WEEK.items()}
    }
    assert counts(settings) == {**REAL_WEEK, "dead_letter": 0}


def test_one_week_folder_can_be_loaded_on_its_own(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    result = load_json(capsys, str(archive / "2024-12-01"))
    assert {t: c["loaded"] for t, c in result["tables"].items()} == REAL_WEEK


def test_bad_lines_are_dead_lettered_and_the_rest_loads(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    too_hot = {**EXPORT_LINE, "data": {**EXPORT_LINE["data"], "temperature": 91.2}}
    later = {**EXPORT_LINE, "timestamp": "2024-12-01T00:17:53.363+00:00"}
    write_export(
        tmp_path / "archive" / "2024-12-01" / "sensor_thermo_beacon" / "000000000000.gz",
        [json.dumps(EXPORT_LINE), "{truncated", json.dumps(too_hot), json.dumps(later)],
    )
    result = load_json(capsys, str(tmp_path / "archive"))
    assert result == {
        "tables": {"sensor_thermo_beacon": {"loaded": 2, "rejected": 2, "duplicates": 0}}
    }
    warehouse = settings.open_warehouse()
    dead = warehouse.query(
        "SELECT message_id, reason, payload FROM sensor_data.dead_letter ORDER BY reason"
    ).to_pylist()
    assert dead == [
        {
            "message_id": "2024-12-01/sensor_thermo_beacon/000000000000.gz",
            "reason": 'row 1: row: expected a JSON object, got "{truncated"',
            "payload": '"{truncated"',
        },
        {
            "message_id": "2024-12-01/sensor_thermo_beacon/000000000000.gz",
            "reason": "row 2: data.temperature: 91.2 is outside the physical range -40..85",
            "payload": json.dumps(too_hot),
        },
    ]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "no <week start>/<table>/*.gz export files found"),
        ({"2024-12-01/users/000000000000.gz": True}, "'users' is not a table defined in schemas/"),
        ({"2024-12-01/weather_data/000000000000.gz": False}, "cannot read"),
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
    for relative, valid_gzip in layout.items():
        target = root / relative
        if valid_gzip:
            write_export(target, [json.dumps(EXPORT_LINE)])
        else:
            target.parent.mkdir(parents=True)
            target.write_bytes(b"this is not gzip")
    assert main(["load-archive", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("livability: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_archive_folder_is_a_one_line_error(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-archive", str(tmp_path / "nowhere")]) == 1
    assert (
        capsys.readouterr().err == f"livability: error: {tmp_path / 'nowhere'}: not a directory\n"
    )
