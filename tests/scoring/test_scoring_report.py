"""`livability report` on the real embedded DuckDB: a table and a PNG of one home's week, or a
clear error.

Runs the CLI in process with matplotlib's Agg backend writing a real file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from livability.cli.app import main
from livability.cli.report import figure, summary
from livability.settings import Settings
from tests.scoring.hand_built import PLACES, local_readings, outdoor
from tests.scoring.weeks import WEEK, one, score, sensor_row, steady, store, weather

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOKYO = "Asia/Tokyo"


def _hot_nights(at: datetime) -> tuple[float, float]:
    return (27.5 if at.hour >= 22 or at.hour < 7 else 21.0), 45.0


def test_report_renders_a_png_of_the_week(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = steady([17.0 + (h % 24) / 6 for h in range(168)], 62.0)
    store(settings.home / "warehouse.duckdb", rows, weather(6.0)).close()
    target = tmp_path / "home-1.png"
    assert main(["report", "--home", "1", "--week", WEEK.isoformat(), "--out", str(target)]) == 0
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith(f"Wrote {target}")
    for shown in ("Europe/London", "600 s (inferred)", "168 h", "cold hazard", "heat hazard"):
        assert shown in printed, shown
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 50_000  # a chart, not an empty canvas
    assert sensor_row(rows[0])["data"]["home_id"] == 1


def test_report_into_a_folder_writes_the_default_name_and_says_the_path(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--out somedir` (issue 16): the PNG inside it, and the message names the real file."""
    store(settings.home / "warehouse.duckdb", steady([19.0] * 168, 55.0), weather(6.0)).close()
    folder = tmp_path / "charts"
    folder.mkdir()
    assert main(["report", "--home", "1", "--week", WEEK.isoformat(), "--out", str(folder)]) == 0
    written = folder / f"report-1-{WEEK.isoformat()}.png"
    assert capsys.readouterr().out.rstrip().endswith(f"Wrote {written}")
    assert written.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in folder.iterdir()] == [written.name]


def test_report_to_stdout_writes_the_png_there_and_the_table_to_stderr(
    settings: Settings, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`--out -` (issue 16): stdout on purpose, so a pipe gets the PNG and nothing else."""
    store(settings.home / "warehouse.duckdb", steady([19.0] * 168, 55.0), weather(6.0)).close()
    assert main(["report", "--home", "1", "--week", WEEK.isoformat(), "--out", "-"]) == 0
    captured = capfdbinary.readouterr()
    assert captured.out.startswith(PNG_SIGNATURE)
    assert captured.err.rstrip().endswith(b"Wrote stdout")


def test_the_table_says_the_zone_the_interval_and_the_new_hazards(tmp_path: Path) -> None:
    # A bedroom in Tokyo at 27.5 C every local night: TM59's limit, in local time.
    readings = local_readings(_hot_nights, zone=TOKYO, room="bedroom")
    vector = one(score(tmp_path, readings, outdoor(lambda _: 5.0, zone=TOKYO)))
    assert readings[0].location == PLACES[TOKYO]
    assert summary(vector) == [
        ("home", "1"),
        ("local week", "2025-01-06 00:00, 168 h"),
        ("time zone", "Asia/Tokyo"),
        ("reading interval", "600 s (inferred)"),
        ("coverage", "100%"),
        ("score", f"63.5 D, provisional (interval {vector['score_low']:.1f}-"
                  f"{vector['score_high']:.1f})"),
        ("cold hazard", "100.0: below 18 °C 0.0 h"),
        (
            "heat hazard",
            "63.5: bedroom nights above 26 °C 63.0 h, above 32 °C 0.0 h, TM52 ΔT ≥ 1 K 0.0 h, "
            "daily 0 K·h, ΔT > 4 K 0.0 h",
        ),
        (
            "damp hazard",
            f"100.0: surface mean {vector['surface_rh_mean']:.1f} %RH, dry rooms at 80 % "
            "0.0 h, wet rooms at 80 % 0.0 h",
        ),
        ("comfort", f"{vector['comfort']:.1f}"),
        ("flags", vector["flags"].replace(",", ", ")),
    ]  # fmt: skip
    assert "hot_nights" in vector["flags"].split(",")


def test_report_of_a_home_without_readings_is_a_one_line_error(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(settings.home / "warehouse.duckdb", steady(20.0, 50.0), weather(6.0)).close()
    assert main(["report", "--home", "7", "--week", WEEK.isoformat()]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: home 7 has no readings in the 7 days from {WEEK}\n"
    )


def _chart(tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """The report's figure for a week whose indoor curve runs through the top-left corner
    (where a legend inside the panel would sit) and whose interval is wide."""
    from scoring.model import hourly_series, score_week

    warehouse = store(
        tmp_path / "w.duckdb", steady([26.0 + (h % 24) / 4 for h in range(168)], 62.0), weather(6.0)
    )
    try:
        hours = hourly_series(warehouse, WEEK, 1)
        [vector] = score_week(warehouse, WEEK).to_dicts()
    finally:
        warehouse.close()
    return figure(hours.to_dicts(), vector), vector


def test_the_chart_keeps_its_legend_off_the_curves_and_dates_the_week(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    drawn, vector = _chart(tmp_path)
    try:
        drawn.canvas.draw()
        panels = drawn.axes[:3]
        assert [axes.get_legend() for axes in panels] == [None, None, None]
        [legend] = drawn.legends
        box = legend.get_window_extent()
        for axes in panels:  # the one legend lies below every panel, over no curve
            assert box.y1 <= axes.get_window_extent().y0
        texts = [t.get_text() for t in legend.get_texts()]
        assert {"indoor, air °C", "indoor, air %RH", "indoor, surface %RH", "outdoor"} <= set(texts)
        ticks = [t.get_text() for t in panels[2].get_xticklabels()]
        assert ticks[:7] == [
            "Mon 06 Jan", "Tue 07 Jan", "Wed 08 Jan", "Thu 09 Jan", "Fri 10 Jan", "Sat 11 Jan",
            "Sun 12 Jan",
        ]  # fmt: skip
        scores = drawn.axes[3]
        [overall] = [t for t in scores.texts if t.get_position()[1] == 4]
        assert overall.get_text() == f"{vector['score']:.1f}"
        assert overall.get_position()[0] > vector["score_high"]  # past the whisker, not on it
    finally:
        plt.close(drawn)
