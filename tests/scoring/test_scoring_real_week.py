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

MODEL_2_FIELDS = (
    "score", "grade", "score_low", "score_high", "cold_hazard", "heat_hazard", "damp_hazard",
    "comfort", "coverage", "readings", "provisional", "surface_rh_mean", "outdoor_running_mean",
    "outdoor_temperature_mean", "moisture_excess_mean", "cold_degree_hours", "sensors", "frsi",
)  # fmt: skip


def test_the_real_week_gives_a_complete_vector(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-archive", str(archive), "--json"]) == 0
    capsys.readouterr()
    assert main(["score", "--week", "2024-12-01", "--json"]) == 0
    [vector] = json.loads(capsys.readouterr().out)
    assert (vector["home_id"], vector["model_version"]) == (1, MODEL_VERSION)
    missing = [name for name in MODEL_2_FIELDS if vector[name] is None]
    assert missing == []
    # README of the data: 16.54-18.60 C, 61.5-69.3 %RH, December near Luton.
    assert vector["hours_above_70rh"] == 0.0  # the room air never reaches 70 %RH ...
    assert 73.0 <= vector["surface_rh_mean"] <= 78.0  # ... but a thermal bridge does ~75 %
    assert vector["cold_hazard"] < 81  # below WHO's 18 C most of the week
    assert vector["damp_hazard"] < 81
    assert vector["score"] <= min(vector["cold_hazard"], vector["damp_hazard"])
    assert vector["grade"] in ("D", "E")
    assert vector["score_low"] <= vector["score"] <= vector["score_high"]
    assert vector["coverage"] > 0.9
    assert vector["heating_season"] is True
    assert vector["sensors"] == 1
    bucket = settings.open_bucket()
    assert json.loads(bucket.get("scores/2024-12-01/scores.ndjson")) == vector


def test_the_score_table_shows_model_2(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["load-archive", str(archive), "--json"])
    capsys.readouterr()
    assert main(["score", "--week", "2024-12-01"]) == 0
    out = capsys.readouterr().out
    for header in ("score", "grade", "cold", "heat", "damp", "comfort", "surface %RH"):
        assert header in out
    assert f"model {MODEL_VERSION}" in out
