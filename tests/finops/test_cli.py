"""`livability finops` through the CLI's `main()`: the table, `--json`, `--reference`, and
one-line errors for arguments it cannot use.

Runs the real command: the real price file, measurements of simulated rows validated by the
contract, rich's console writing to the captured stdout. No cloud.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from livability import finops
from livability.cli.app import main
from livability.settings import Settings


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(["finops", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_table_has_a_section_per_service_and_a_total(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["finops", "--homes", "1000", "--locations", "10"]) == 0
    out = capsys.readouterr().out
    for heading in ("BigQuery: $", "Pub/Sub: $", "Cloud Run functions: $", "Cloud Storage: $"):
        assert heading in out
    assert "Cloud Scheduler: $0.20" in out  # the fleet check and the daily rollup
    assert "COLDLINE: weekly archive" in out
    assert "Monthly total" in out
    assert "1,000 homes" in out


def test_json_lines_add_up_to_the_services_and_the_total(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(capsys, "--homes", "5000", "--ingest-mode", "bigquery_subscription")
    assert report["scenario"]["homes"] == 5000
    assert report["scenario"]["ingest_mode"] == "bigquery_subscription"
    assert report["prices_as_of"] == finops.PriceBook.load().as_of.isoformat()
    exact = sum((Decimal(line["cost_exact"]) for line in report["lines"]), Decimal(0))
    assert Decimal(report["total_exact"]) == exact
    assert report["total"] == float(finops.cents(exact))
    assert report["total"] == pytest.approx(sum(report["services"].values()), abs=0.03)
    services = {line["service"] for line in report["lines"]}
    assert services == set(report["services"])
    assert "pubsub.bigquery_subscription" in {line["price"] for line in report["lines"]}


def test_the_options_change_the_estimate(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    hourly = run_json(capsys, "--rows-per-message", "6")
    batched = run_json(capsys, "--rows-per-message", "100")
    assert batched["total"] < hourly["total"]
    assert batched["services"]["Cloud Run functions"] < hourly["services"]["Cloud Run functions"]
    polled = run_json(capsys, "--weather-interval", "3h")
    assert polled["scenario"]["weather_interval"] == "3h"


def test_the_reference_reproduction(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "--reference")
    assert report["reference_row_bytes"] == 32
    function, subscription = report["modes"]["function"], report["modes"]["bigquery_subscription"]
    assert (function["stated_total"], function["total_from_stated_usage"]) == (74.85, 74.85)
    assert (subscription["stated_total"], subscription["total_from_stated_usage"]) == (3.43, 3.43)
    for mode in (function, subscription):
        assert all(abs(line["difference"]) < 0.05 for line in mode["lines"])
    assert main(["finops", "--reference"]) == 0
    out = capsys.readouterr().out
    assert "$74.85" in out
    assert "$3.43" in out
    assert "3,863,829" in out


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--reading-interval", "0m"], "argument --reading-interval: '0m' is not a positive"),
        (["--weather-interval", "3 hours"], "argument --weather-interval: '3 hours' is not"),
        (["--homes", "-1"], "argument --homes: '-1' is not an integer from 1"),
        (["--homes", "many"], "argument --homes: 'many' is not an integer from 1"),
        (["--rows-per-message", "0"], "argument --rows-per-message: '0' is not an integer"),
        (["--ingest-mode", "dataflow"], "argument --ingest-mode: invalid choice: 'dataflow'"),
    ],
)
def test_an_unusable_argument_is_one_line_naming_option_and_value(
    args: list[str], named: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["finops", *args])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("livability finops: error: ")
    assert named in captured.err
