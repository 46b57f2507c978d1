"""`functions/weekly_archive.py::weekly_archive` as Cloud Scheduler calls it: HTTP through
functions-framework's real WSGI app, configured by the environment.

Runs against the real embedded DuckDB warehouse and the local archive bucket (the same code
runs EXPORT DATA on BigQuery: test_archive_cloud.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import flask.testing
import functions_framework
import pytest

from livability import weeks
from livability.settings import Settings
from tests.archive.support import SENSOR, WEATHER, WEEK, in_week, load, week_rows
from tests.support.paths import ROOT


@pytest.fixture
def scheduler(settings: Settings) -> Iterator[flask.testing.FlaskClient]:
    app = functions_framework.create_app(
        target="weekly_archive",
        source=str(ROOT / "functions" / "weekly_archive.py"),
        signature_type="http",
    )
    return app.test_client()


def test_the_scheduled_call_archives_the_last_complete_week_and_a_rerun_changes_nothing(
    settings: Settings, scheduler: flask.testing.FlaskClient
) -> None:
    latest = weeks.last_complete_week(datetime.now(UTC).date())
    rows = week_rows(latest)
    warehouse = settings.open_warehouse()
    load(warehouse, rows)
    warehouse.close()
    answer = scheduler.post("/")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["archive"] == (settings.home / "archive").resolve().as_uri()
    by_week = {w["week"]: w for w in body["weeks"]}
    assert by_week[latest.isoformat()]["action"] == "archived"
    assert by_week[latest.isoformat()]["verified"] is True
    assert by_week[latest.isoformat()]["tables"] == {
        t: len(in_week(rows[t], latest)) for t in (SENSOR, WEATHER)
    }
    # The week before holds only the day before `latest`: archived too (late rows window).
    assert by_week[(latest - weeks.WEEK).isoformat()]["action"] == "archived"
    assert body["at_risk"] == []
    manifest = json.loads(
        (settings.home / "archive" / latest.isoformat() / "manifest.json").read_text()
    )
    assert manifest["tables"][SENSOR]["rows"] == len(in_week(rows[SENSOR], latest))
    again = scheduler.post("/").get_json()
    assert {w["action"] for w in again["weeks"]} == {"unchanged"}


def test_a_week_can_be_asked_for_and_a_bad_one_is_refused_naming_the_field(
    settings: Settings, scheduler: flask.testing.FlaskClient
) -> None:
    warehouse = settings.open_warehouse()
    load(warehouse, week_rows())
    warehouse.close()
    answer = scheduler.post("/", json={"week": WEEK.isoformat()})
    assert answer.status_code == 200
    assert [(w["week"], w["action"]) for w in answer.get_json()["weeks"]] == [
        (WEEK.isoformat(), "archived")
    ]
    assert scheduler.get(f"/?week={WEEK.isoformat()}").get_json()["weeks"][0]["action"] == (
        "unchanged"
    )
    for bad in ({"week": "2025-02-30"}, {"week": 20250303}):
        refused = scheduler.post("/", json=bad)
        assert refused.status_code == 400
        assert refused.get_json() == {"error": f"week: {bad['week']!r} is not a date (YYYY-MM-DD)"}


def test_a_backend_failure_or_a_bad_setting_answers_500_so_scheduler_retries(
    settings: Settings,
    scheduler: flask.testing.FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    warehouse = settings.open_warehouse()
    load(warehouse, week_rows())
    warehouse.close()
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("LIVABILITY_ARCHIVE", f"file://{blocker}/archive")
    failed = scheduler.post("/", json={"week": WEEK.isoformat()})
    assert failed.status_code == 500
    assert "a-file" in failed.get_json()["error"]
    monkeypatch.setenv("LIVABILITY_ARCHIVE", "s3://elsewhere")
    misconfigured = scheduler.post("/")
    assert misconfigured.status_code == 500
    assert misconfigured.get_json()["error"].startswith("LIVABILITY_ARCHIVE: 's3://elsewhere'")
