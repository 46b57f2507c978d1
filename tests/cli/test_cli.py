"""The `livability` command as a user runs it: the console script, real files, real output."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from livability.cli.app import main
from livability.settings import Settings
from scoring.model import MODEL_VERSION
from tests.support.cli import run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score"], "the following arguments are required: --week"),
        (["score", "--week", "2024-13-01"], "'2024-13-01' is not a date (YYYY-MM-DD)"),
        (["demo", "--homes", "0"], "'0' is not an integer from 1 to 10,000"),
        (["demo", "--homes", "10000000"], "'10000000' is not an integer from 1 to 10,000"),
        (["demo", "--homes", "\uff14"], "is not an integer from 1 to 10,000"),
        (["demo", "--weeks", "53"], "'53' is not an integer from 1 to 52"),
        (["serve", "--port", "70000"], "'70000' is not a TCP port (1-65535)"),
        (["launch"], "invalid choice: 'launch'"),
        (["fleet", "--at", "yesterday"], "'yesterday' is not an ISO date-time"),
        (["fleet", "--since", "2025-02-30"], "'2025-02-30' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(*args, home=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_a_fleet_period_too_long_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("fleet", "--since", "2024-01-01", "--at", "2025-01-01T00:00", home=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "livability: error: since: 2024-01-01T00:00:00+00:00 is more than 92 days before "
        "2025-01-01T00:00:00+00:00\n"
    )


def test_bad_dataset_setting_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path))
    monkeypatch.setenv("LIVABILITY_DATASET", "sensor-data; DROP")
    assert main(["score", "--week", "2024-12-01"]) == 1
    assert capsys.readouterr().err == (
        "livability: error: LIVABILITY_DATASET: 'sensor-data; DROP' is not a valid dataset name "
        "(letters, digits and underscores)\n"
    )


@pytest.mark.parametrize(
    "week",
    ["9999-12-27", "0001-01-01", "1999-12-31", "2099-12-27"],
    ids=["year 9999", "year 1", "before 2000", "ends after 2099"],
)
def test_week_outside_the_contract_is_a_one_line_error(tmp_path: Path, week: str) -> None:
    result = run("score", "--week", week, home=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"livability: error: --week {week}: the 7 days from it must lie within "
        "2000-01-01..2099-12-31, the plausible range in schemas/tables.toml\n"
    )


def test_demo_start_outside_the_contract_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("demo", "--start", "9999-12-30", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "livability: error: --start 9999-12-30: the 14 days from it must lie within "
        "2000-01-01..2099-12-31, the plausible range in schemas/tables.toml\n"
    )


def test_last_week_inside_the_contract_scores_nothing_without_error(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert score_json(capsys, "2099-12-21") == []


def readings_in_week(archive: Path, first: str, end: str) -> int:
    path = archive / "2024-12-01" / "sensor_thermo_beacon" / "000000000000.gz"  # its folder
    with gzip.open(path, "rt") as lines:
        return sum(first <= json.loads(line)["timestamp"][:10] < end for line in lines)


def score_json(capsys: pytest.CaptureFixture[str], week: str) -> Any:
    assert main(["score", "--week", week, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_score_of_the_real_week(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-archive", str(archive), "--json"]) == 0
    capsys.readouterr()
    [vector] = score_json(capsys, "2024-12-02")
    # What ../shared/data/README.md says of that week: 16.54-18.60 °C, 61.5-69.3 %RH, December.
    assert (vector["home_id"], vector["week_start"], vector["model_version"]) == (
        1,
        "2024-12-02",
        MODEL_VERSION,
    )
    assert vector["heating_season"] is True
    assert 16.54 <= vector["temperature_mean"] <= 18.60
    assert 61.5 <= vector["humidity_mean"] <= 69.3
    assert vector["coverage"] > 0.98  # one reading every 10 minutes all week
    assert vector["readings"] == readings_in_week(archive, "2024-12-02", "2024-12-09")
    assert vector["hours_below_18c"] > 0
    assert 0 < vector["score"] < 69  # a cool, humid home is no better than D
    # The vector went to the bucket and the scores table.
    bucket = settings.open_bucket()
    assert bucket.list("scores/") == ["scores/2024-12-02/scores.ndjson"]
    published = json.loads(bucket.get("scores/2024-12-02/scores.ndjson"))
    assert published == vector


def test_scoring_a_week_again_adds_no_row(
    archive: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["load-archive", str(archive), "--json"])
    capsys.readouterr()
    first = score_json(capsys, "2024-12-02")
    second = score_json(capsys, "2024-12-02")
    assert [{**v, "computed_at": None} for v in first] == [
        {**v, "computed_at": None} for v in second
    ]
    warehouse = settings.open_warehouse()
    rows = warehouse.query("SELECT count(*) AS n FROM sensor_data.livability_scores").column("n")
    assert rows[0].as_py() == 1


def test_week_without_data_scores_nothing(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert score_json(capsys, "2030-01-07") == []
    assert settings.open_bucket().list() == []


def test_demo_runs_the_whole_job_and_prints_the_score_table(tmp_path: Path) -> None:
    result = run("demo", "--homes", "4", "--weeks", "1", "--start", "2025-01-06", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Livability scores, week of 2025-01-06" in result.stdout
    for archetype in ("insulated heated flat", "cold damp house"):
        assert archetype in result.stdout
    settings = Settings(home=tmp_path)
    pages = [
        f"certificates/2025-01-06/{name}.html"
        for name in ("900001", "900002", "900003", "900004", "index")
    ]
    assert settings.open_bucket().list() == [*pages, "scores/2025-01-06/scores.ndjson"]
    index = tmp_path / "bucket" / "certificates" / "2025-01-06" / "index.html"
    assert f"Certificates of the last week (open in a browser): {index}" in " ".join(
        result.stdout.split()
    )
    vectors = [
        json.loads(line)
        for line in settings.open_bucket().get("scores/2025-01-06/scores.ndjson").splitlines()
    ]
    # 900001..: never a real home's id (the archived week is home 1) in a shared warehouse.
    assert [v["home_id"] for v in vectors] == [900_001, 900_002, 900_003, 900_004]
    assert all(v["week_start"] == date(2025, 1, 6).isoformat() for v in vectors)
    # One sentence per line, whatever the width: the header and the closing lines.
    assert result.stderr.splitlines()[:2] == [
        "Simulating 4 homes for 1 weeks from 2025-01-06 (seed 7).",
        f"Warehouse: duckdb://{tmp_path}/warehouse.duckdb",
    ]
    closing = result.stdout.rstrip().splitlines()[-5:]
    assert closing[0].endswith(" s.")
    # The last home's gateway is silent for the last 20 h; the first sensor's battery dies.
    assert closing[1:] == [
        f"Vectors: file://{tmp_path}/bucket/scores/",
        f"Table: sensor_data.livability_scores in duckdb://{tmp_path}/warehouse.duckdb",
        "Fleet at 2025-01-13 00:00 UTC (`livability fleet --at`): 4 home(s); silent gateways "
        "(> 3 h): 1; sensors below 20 % battery: 1; dead letters: 0",
        f"Certificates of the last week (open in a browser): {index}",
    ]
    # The last week's portfolio page shows the fleet at the end of the period.
    portfolio = " ".join(index.read_text().split())
    assert "Fleet state" in portfolio
    assert "gateway silent since 2025-01-12 04:00 UTC" in portfolio
    assert "a sensor at 0 % battery" in portfolio
    fleet = run("fleet", "--at", "2025-01-13T00:00", "--json", home=tmp_path)
    assert fleet.returncode == 0, fleet.stderr
    report = json.loads(fleet.stdout)
    states = [(r["home_id"], r["gateway_silent"], r["battery_low"]) for r in report["sensor_rows"]]
    assert states == [
        (900_004, True, False),
        (900_001, False, True),
        (900_002, False, False),
        (900_003, False, False),
    ]
    assert report["sensor_rows"][1]["battery_trend"] < -5  # percent per day


def test_init_creates_every_table_once_and_then_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVABILITY_WAREHOUSE", f"duckdb://{tmp_path}/w.duckdb")
    assert main(["init", "--json"]) == 0
    first = {c["table"]: c["action"] for c in json.loads(capsys.readouterr().out)}
    assert main(["init", "--json"]) == 0
    second = {c["table"]: c["action"] for c in json.loads(capsys.readouterr().out)}
    tables = {
        "dead_letter",
        "livability_scores",
        "sensor_hours",
        "sensor_thermo_beacon",
        "weather_data",
    }
    views = {f"{t}_dedup" for t in tables}
    assert first == dict.fromkeys(tables | views, "created")
    assert second == dict.fromkeys(tables | views, "unchanged")


@pytest.mark.parametrize(
    "command",
    [
        ["archive", "--week", "2024-12-01"],
        ["archive", "--verify", "--week", "2024-12-01"],
        ["score", "--week", "2024-12-01"],
        ["report", "--home", "1", "--week", "2024-12-01"],
    ],
    ids=["archive", "verify", "score", "report"],
)
def test_a_week_that_does_not_start_on_a_monday_is_refused_everywhere(
    settings: Settings, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """One definition of a week (issue 16): a Sunday is not read as a Sunday-Saturday week."""
    assert main(command) == 1
    assert capsys.readouterr().err == (
        "livability: error: --week 2024-12-01: a Sunday; a week starts on a Monday (the week "
        "holding that day starts 2024-11-25)\n"
    )
