"""`livability report` on the real embedded DuckDB: a PNG of one home's week, or a clear error.

Runs the CLI in process with matplotlib's Agg backend writing a real file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livability.cli.app import main
from livability.settings import Settings
from tests.scoring.weeks import WEEK, sensor_row, steady, store, weather

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_report_renders_a_png_of_the_week(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = steady([17.0 + (h % 24) / 6 for h in range(168)], 62.0)
    store(settings.home / "warehouse.duckdb", rows, weather(6.0)).close()
    target = tmp_path / "home-1.png"
    assert main(["report", "--home", "1", "--week", WEEK.isoformat(), "--out", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"Wrote {target}"
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 50_000  # a chart, not an empty canvas
    assert sensor_row(rows[0])["data"]["home_id"] == 1


def test_report_of_a_home_without_readings_is_a_one_line_error(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(settings.home / "warehouse.duckdb", steady(20.0, 50.0), weather(6.0)).close()
    assert main(["report", "--home", "7", "--week", WEEK.isoformat()]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: home 7 has no readings in the 7 days from {WEEK}\n"
    )
