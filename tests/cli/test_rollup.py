"""`livability rollup` as a person runs it, on the embedded DuckDB warehouse: the daily
function's default days, a range written again after late readings, and refusals."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from livability.cli.app import main
from livability.settings import Settings
from schemas import ROW_ID, registry
from schemas.validation import validate_row
from scoring import rollup
from tests.scoring.weeks import Reading, sensor_row
from tests.support.cli import run

TODAY = datetime.now(UTC).date()


def day(back: int) -> date:
    return TODAY - timedelta(days=back)


def load(settings: Settings, on: date, temperature: float, hours: range) -> None:
    start = datetime.combine(on, datetime.min.time(), UTC)
    readings = [Reading(start + timedelta(hours=h, minutes=5), temperature, 55.0) for h in hours]
    table = registry()["sensor_thermo_beacon"]
    rows = [validate_row(table, sensor_row(r)) for r in readings]
    warehouse = settings.open_warehouse()
    try:
        warehouse.load_rows(table.name, rows, [r[ROW_ID] for r in rows])
    finally:
        warehouse.close()


def hours_of(settings: Settings, on: date) -> list[dict[str, Any]]:
    warehouse = settings.open_warehouse()
    try:
        rows = warehouse.query(
            f"SELECT {rollup.COLUMNS} FROM sensor_data.sensor_hours ORDER BY hour"
        ).to_pylist()
    finally:
        warehouse.close()
    return [r for r in rows if r["hour"].date() == on]


def rollup_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main(["rollup", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_default_days_then_a_range_after_late_readings(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    load(settings, day(1), 20.0, range(0, 24, 4))
    load(settings, day(8), 18.0, range(0, 24, 4))
    # Yesterday only: day 8, eight days back, is not looked for (the weekly job fills its
    # week's missing days).
    assert rollup_json(capsys) == {"days": [day(1).isoformat()]}
    assert hours_of(settings, day(8)) == []
    assert rollup_json(capsys, "--from", day(8).isoformat(), "--to", day(8).isoformat()) == {
        "days": [day(8).isoformat()]
    }
    assert [r["temperature"] for r in hours_of(settings, day(8))] == [18.0] * 6
    # Readings of day 8 arrive a week late: the daily default no longer writes it; a range does.
    load(settings, day(8), 30.0, range(2, 3))
    assert rollup_json(capsys) == {"days": [day(1).isoformat()]}
    assert len(hours_of(settings, day(8))) == 6
    span = ("--from", day(8).isoformat(), "--to", day(7).isoformat())
    assert rollup_json(capsys, *span) == {"days": [day(8).isoformat(), day(7).isoformat()]}
    written = hours_of(settings, day(8))
    assert [(r["hour"].hour, r["temperature"]) for r in written][:3] == [
        (0, 18.0), (2, 30.0), (4, 18.0)
    ]  # fmt: skip
    # The summary a person reads.
    assert main(["rollup", *span]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Daily rollup written: 2 day(s) of sensor_hours",
        f"  days: {day(8).isoformat()}..{day(7).isoformat()}",
    ]
    assert hours_of(settings, day(8)) == written  # again: the same rows, each once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", day(1).isoformat(), "--to", TODAY.isoformat()],
         f"--to: {TODAY.isoformat()!r} has not closed yet (today is {TODAY.isoformat()}, UTC)"),
        (["--from", "2000-01-01", "--to", day(1).isoformat()],
         f"days from '2000-01-01'; at most {rollup.MAX_DAYS} in one run"),
        (["--from", "1999-12-31", "--to", "2000-01-01"],
         "--from: '1999-12-31' is outside 2000-01-01..2099-12-31"),
        (["--from", "2025-01-01"], "--to: missing; give it with --from 2025-01-01"),
        (["--to", "2025-01-01"], "--from: missing; give it with --to 2025-01-01"),
    ],
)  # fmt: skip
def test_a_bad_range_is_a_one_line_error(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("rollup", *args, home=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("livability: error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_a_day_that_is_no_date_is_a_usage_error(tmp_path: Path) -> None:
    result = run("rollup", "--from", "2025-02-30", "--to", "2025-03-01", home=tmp_path)
    assert result.returncode == 2
    assert "'2025-02-30' is not a date (YYYY-MM-DD)" in result.stderr
