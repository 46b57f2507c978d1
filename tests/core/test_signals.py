"""The log-field contract: every field a log-based metric of the stack uses is written.

The code paths run for real and their JSON log lines (stdout, as Cloud Logging reads them)
are captured: a poison row through the event processor (functions-framework's app), each
scheduled function misconfigured (functions-framework's apps), the weather poller against an
OpenWeatherMap stand-in answering 401 (pytest-httpserver, the key in the `drongo` Secret
Manager server, the suite's gRPC Publisher), the hourly fleet check on DuckDB with a silent
gateway, and the archive's expiry gate with a bucket that refuses writes. Then every
`google_logging_metric` of the synthesized dev and prod stacks is read: its signal, the
fields its filter, label extractors and value extractor name, and (dev) its filter's clauses
must match at least one captured line.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask.testing
import functions_framework
import pytest
from pytest_httpserver import HTTPServer

from livability import signals
from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.adapters.local_bucket import LocalBucket
from livability.archive import schedule
from livability.logs import configure_logging
from livability.settings import Settings
from schemas import registry
from tests.archive.support import WEEK, FailingBucket, load, week_rows
from tests.infra.synth import synthesize_all
from tests.support.paths import ROOT
from tests.support.pubsub import binary_headers, push_body
from tests.weather.owm_bodies import UNAUTHORIZED
from tests.weather.test_function import PATH, drongo, fake, poller, secret

__all__ = ["drongo", "fake", "poller", "secret"]  # the weather function's stand-ins
SCHEDULED = {
    "weekly_score": "weekly_score",
    "weekly_archive": "weekly_archive",
    "fleet_health": "fleet_health",
    "weather": "meteodata_event",
    "daily_rollup": "daily_rollup",
}
_FIELD = re.compile(r"jsonPayload\.([A-Za-z_]+)")
_CLAUSE = re.compile(r"(jsonPayload\.[A-Za-z_]+|severity)(=|>)(\"[^\"]*\"|[A-Za-z0-9_]+)")


def scheduled(module: str, target: str) -> flask.testing.FlaskClient:
    app = functions_framework.create_app(
        target=target, source=str(ROOT / "functions" / f"{module}.py"), signature_type="http"
    )
    return app.test_client()


def run_the_code_paths(
    client: flask.testing.FlaskClient,
    weather: flask.testing.FlaskClient,
    httpserver: HTTPServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    poison = {
        "day": now.date().isoformat(),
        "timestamp": now.isoformat(),
        "data": {"mac": 1, "home_id": 1, "temperature": 120.0, "humidity": 50.0},
    }
    assert client.post("/", json=push_body([poison]), headers=binary_headers()).status_code == 200
    # A gateway silent for 5 h, then the hourly check.
    before = now - timedelta(hours=5)  # its own day: before 05:00 UTC that is yesterday
    quiet = {**poison, "day": before.date().isoformat(), "timestamp": before.isoformat()}
    quiet["data"] = {**poison["data"], "temperature": 20.0}
    assert (
        client.post(
            "/", json=push_body([quiet], None, "2"), headers=binary_headers("2")
        ).status_code
        == 200
    )
    assert scheduled("fleet_health", "fleet_health").post("/", json={}).status_code == 200
    httpserver.expect_request(PATH).respond_with_json(UNAUTHORIZED, status=401)
    assert weather.post("/").status_code == 500
    # The archive's expiry gate, with a bucket that refuses every write.
    warehouse = DuckDBWarehouse(tmp_path / "archive.duckdb", registry(), "sensor_data")
    warehouse.init()
    load(warehouse, week_rows())
    refusing = FailingBucket(LocalBucket(tmp_path / "archive"), fail_at=1)
    today = WEEK + schedule.RETENTION - timedelta(days=20)
    assert not schedule.scheduled_run(warehouse, refusing, today).ok
    warehouse.close()
    monkeypatch.setenv("LIVABILITY_WAREHOUSE", "nosuch://warehouse")
    for module, target in SCHEDULED.items():
        assert scheduled(module, target).post("/", json={}).status_code == 500


def matches(entry: dict[str, Any], text: str) -> bool:
    """Whether a log entry satisfies the `=`/`>` clauses of a metric's filter."""
    for field, op, raw in _CLAUSE.findall(text):
        name = field.removeprefix("jsonPayload.")
        value = entry.get(name)
        wanted: Any = raw.strip('"')
        if raw in ("true", "false"):
            wanted = raw == "true"
        if op == ">":
            if not isinstance(value, int | float) or not value > float(wanted):
                return False
        elif value != wanted:
            return False
    return True


def test_every_field_a_metric_uses_is_written(
    client: flask.testing.FlaskClient,
    poller: flask.testing.FlaskClient,
    httpserver: HTTPServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging()
    run_the_code_paths(client, poller, httpserver, settings, monkeypatch, tmp_path)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_signal: dict[str, list[dict[str, Any]]] = {}
    for entry in logged:
        if signals.SIGNAL in entry:
            by_signal.setdefault(entry[signals.SIGNAL], []).append(entry)
    jobs = {e[signals.JOB] for e in by_signal.get(signals.JOB_FAILED, [])}
    assert jobs == set(signals.JOBS), f"job_failed lines came from {jobs}"
    for name in ("dev", "prod"):
        metrics = synthesize_all()[name].resources("google_logging_metric").values()
        assert len(metrics) >= 7
        for metric in metrics:
            extracted = {_FIELD.findall(v)[0] for v in metric.get("label_extractors", {}).values()}
            extracted |= set(_FIELD.findall(metric.get("value_extractor", "")))
            terms = per_signal(metric["filter"])
            assert terms, f"{metric['name']}: its filter names no signal"
            for signal, text in terms:
                fields = set(_FIELD.findall(text)) | extracted
                lines = by_signal.get(signal, [])
                assert lines, f"{metric['name']}: no line with signal {signal!r} was written"
                assert fields <= set(signals.SIGNALS[signal]) | {signals.SIGNAL}, metric["name"]
                assert any(fields <= set(e) for e in lines), (
                    f"{metric['name']}: fields {sorted(fields)} not all in any {signal} line"
                )
                if name == "dev":
                    assert any(matches(e, text) for e in lines), f"{metric['name']}: {text}"


def per_signal(text: str) -> list[tuple[str, str]]:
    """Each signal a filter names, with the text from it to the next signal (its clauses)."""
    found = list(re.finditer(r'jsonPayload\.signal="([a-z_]+)"', text))
    ends = [m.start() for m in found[1:]] + [len(text)]
    return [(m.group(1), text[m.end() : end]) for m, end in zip(found, ends, strict=True)]


def test_fields_refuses_what_its_signal_does_not_declare() -> None:
    with pytest.raises(ValueError, match="signal: 'nope' is not one of"):
        signals.fields("nope")
    with pytest.raises(ValueError, match=r"fields \['silent'\] differ from the declared"):
        signals.fields(signals.FLEET_CHECK, silent=1)
    with pytest.raises(ValueError, match="job: 'cron' is not one of"):
        signals.fields(signals.JOB_FAILED, job="cron")
    assert signals.fields(signals.JOB_FAILED, job="weather") == {
        "signal": "job_failed",
        "job": "weather",
    }


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("row 0: data.temperature: 120.0 is outside [-40.0, 85.0]", "data.temperature"),
        ("message.data: empty, with no row to store", "message.data"),
        ("table_id: 'x' is not a table that accepts device data", "table_id"),
        ("'{' is not JSON", "other"),
        ("", "other"),
    ],
)
def test_reason_class(reason: str, expected: str) -> None:
    assert signals.reason_class(reason) == expected
