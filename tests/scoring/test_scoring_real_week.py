"""The real archived week (../shared/data) through `load-archive` and `score`, on DuckDB.

Runs the `livability` CLI in process against a real DuckDB file and local bucket; skips when
../shared is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livability.cli.app import main
from livability.settings import Settings
from scoring.model import MODEL_VERSION

MODEL_FIELDS = (
    "score", "grade", "score_low", "score_high", "cold_hazard", "heat_hazard", "damp_hazard",
    "comfort", "coverage", "readings", "provisional", "surface_rh_mean", "outdoor_running_mean",
    "outdoor_temperature_mean", "moisture_excess_mean", "cold_degree_hours", "sensors", "frsi",
    "time_zone", "reading_interval_s", "week_hours",
)  # fmt: skip


def test_the_real_week_gives_a_complete_vector(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-archive", str(archive), "--json"]) == 0
    capsys.readouterr()
    assert main(["score", "--week", "2024-12-02", "--json"]) == 0
    [vector] = json.loads(capsys.readouterr().out)
    assert (vector["home_id"], vector["model_version"]) == (1, MODEL_VERSION)
    missing = [name for name in MODEL_FIELDS if vector[name] is None]
    assert missing == []
    # README of the data: 16.54-18.60 C, 61.5-69.3 %RH, December near Luton.
    assert vector["hours_above_70rh"] == 0.0  # the room air never reaches 70 %RH ...
    assert 73.0 <= vector["surface_rh_mean"] <= 78.0  # ... but a thermal bridge does ~75 %
    # Below WHO's 18 C most of the week, but by 0-1.5 K: model 3's cold ramp (issue 14,
    # item 5: no tens of points within the sensor's accuracy) puts it under A, not under C.
    assert vector["cold_hazard"] < 92
    assert vector["hours_below_18c"] > 100
    # The surface averages about 75 %RH, under ISO 13788's 80 %: no damp hazard in model 3
    # (model 2 started at 70 % and gave 62.0; issue 14, item 3).
    assert vector["damp_hazard"] == 100.0
    assert vector["comfort"] == 0.0  # never within EN 16798-1 category II
    assert vector["score"] <= vector["cold_hazard"]
    assert vector["grade"] in ("D", "E")
    assert (vector["time_zone"], vector["reading_interval_s"]) == ("Europe/London", 600.0)
    assert vector["score_low"] <= vector["score"] <= vector["score_high"]
    assert vector["coverage"] > 0.9
    assert vector["heating_season"] is True
    assert vector["sensors"] == 1
    bucket = settings.open_bucket()
    assert json.loads(bucket.get("scores/2024-12-02/scores.ndjson")) == vector


def test_the_score_table_shows_the_model(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["load-archive", str(archive), "--json"])
    capsys.readouterr()
    assert main(["score", "--week", "2024-12-02"]) == 0
    out = capsys.readouterr().out
    for header in ("score", "grade", "cold", "heat", "damp", "comfort", "surface %RH"):
        assert header in out
    assert f"model {MODEL_VERSION}" in out
