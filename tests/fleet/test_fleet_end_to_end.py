"""A dead-letter flood and a silent gateway, end to end on one machine.

Readings and poison messages go through the real event processor (functions-framework's app,
as Pub/Sub pushes) into the embedded DuckDB warehouse; then the hourly `fleet_health`
function runs as Cloud Scheduler calls it (functions-framework's app over HTTP), and
`livability fleet --json` as the operator runs it (the CLI's `main`). Both must show the
silent gateway and the flood by reason, and the function's log line must carry the count
the stack's silent-homes metric reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import flask.testing
import functions_framework
import pytest

from livability.cli.app import main
from livability.settings import Settings
from tests.support.paths import ROOT
from tests.support.pubsub import binary_headers, push_body

FLOOD = 12  # poison rows in one message each


def row(home: int, mac: int, at: datetime, temperature: float = 20.0) -> dict[str, Any]:
    return {
        "day": at.date().isoformat(),
        "timestamp": at.isoformat(),
        "data": {"mac": mac, "home_id": home, "temperature": temperature, "humidity": 50.0},
        "battery": 85,
    }


def push(client: flask.testing.FlaskClient, rows: list[dict[str, Any]], event_id: str) -> None:
    answer = client.post(
        "/", json=push_body(rows, None, event_id), headers=binary_headers(event_id)
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)


@pytest.fixture
def ingested(client: flask.testing.FlaskClient, settings: Settings) -> datetime:
    """Home 1 reports every 10 minutes up to now; home 2's gateway stopped 5 hours ago; a
    gateway with a broken sensor sends 12 readings at 120 °C."""
    now = datetime.now(UTC).replace(microsecond=0)
    for k in range(0, 36, 6):  # 6 hours, a message per hour
        push(client, [row(1, 11, now - timedelta(minutes=10 * (k + i))) for i in range(6)], f"a{k}")
    for k in range(30, 66, 6):
        push(client, [row(2, 21, now - timedelta(minutes=10 * (k + i))) for i in range(6)], f"b{k}")
    for i in range(FLOOD):
        push(client, [row(3, 31, now - timedelta(minutes=i), 120.0)], f"p{i}")
    return now


def test_the_hourly_check_and_the_cli_show_the_flood_and_the_silent_gateway(
    ingested: datetime, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()  # the processor's lines
    app = functions_framework.create_app(
        target="fleet_health",
        source=str(ROOT / "functions" / "fleet_health.py"),
        signature_type="http",
    )
    answer = app.test_client().post("/", json={})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert (body["homes"], body["silent_gateways"], body["low_battery_sensors"]) == (2, 1, 0)
    assert body["dead_letters"] == {"data.temperature": FLOOD}
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    checks = [e for e in logged if e.get("signal") == "fleet_check"]
    assert [(c["severity"], c["homes"], c["silent_homes"]) for c in checks] == [("INFO", 2, 1)]

    assert main(["fleet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dead_letters"] == {"data.temperature": FLOOD}
    states = [(r["home_id"], r["gateway_silent"]) for r in report["sensor_rows"]]
    assert states == [(2, True), (1, False)]
    assert report["sensor_rows"][0]["coverage_24h"] == 36 / 144


def test_a_warehouse_it_cannot_open_answers_500_and_logs_the_job_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVABILITY_WAREHOUSE", "nosuch://warehouse")
    app = functions_framework.create_app(
        target="fleet_health",
        source=str(ROOT / "functions" / "fleet_health.py"),
        signature_type="http",
    )
    answer = app.test_client().post("/", json={})
    assert answer.status_code == 500
    assert "LIVABILITY_WAREHOUSE" in answer.get_json()["error"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["severity"], e["signal"], e["job"]) for e in logged] == [
        ("ERROR", "job_failed", "fleet_health")
    ]
