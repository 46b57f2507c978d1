"""`livability smoke` against the local stack: what a deploy's last step proves, here.

Runs against: tests/smoke/local_stack.py (the real google-cloud-pubsub client publishing to
the gRPC Publisher of the test suite, which pushes to `livability serve`; the weekly jobs under
functions-framework; one DuckDB file, or the BigQuery stand-in `local-bigquery` for the full
run; the archive in a local folder), with the smoke steps of livability/smoke/run.py run in
this process. The week before this one is seeded with simulated homes, so scoring and the
archive have something to do and the manifest to verify. The Cloud Scheduler path runs
against a stand-in of Scheduler's REST API (pytest-httpserver) that calls the local function.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer

from livability.ingest.rows import ingest_rows
from livability.settings import Settings, open_publisher
from livability.sim import make_homes, sensor_rows, weather_rows
from livability.smoke import run as smoke
from livability.smoke.jobs import HttpJobs, JobError, SchedulerJobs
from livability.weeks import last_complete_week
from schemas import registry
from tests.smoke.local_stack import LocalStack, local_stack
from tests.support.warehouses import PROJECT, bigquery_endpoint, drop_dataset, new_dataset

__all__ = ["bigquery_endpoint"]  # the stand-in's session fixture, imported for pytest
FAST = smoke.Options(timeout=60, cleanup_wait=5, poll=0.05, max_poll=0.5)
STEPS = [
    "publish the tagged reading (twice)",
    "publish a poison message",
    "reading stored exactly once",
    "poison message dead-lettered",
    "weekly scoring of {week}",
    "weekly archive of {week}",
    "archive manifest of {week}",
    "clean up",
]
NOW = datetime.now(UTC)
WEEK = last_complete_week(NOW.date())


def seed_last_week(settings: Settings) -> int:
    """Two simulated homes and their weather over the last complete week."""
    start = datetime.combine(WEEK, datetime.min.time(), UTC)
    homes = make_homes(2, seed=11)
    warehouse = settings.open_warehouse()
    stored = 0
    try:
        for home in homes:
            weather = weather_rows(home.site, start, 7, seed=11)
            for name, rows in (
                ("weather_data", weather),
                ("sensor_thermo_beacon", sensor_rows(home, weather, start, 7, seed=11)),
            ):
                result = ingest_rows(
                    warehouse, registry()[name], rows, source="seed", received_at=NOW, batch=True
                )
                stored += result.loaded
    finally:
        warehouse.close()
    return stored


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """The local stack on DuckDB, and on the BigQuery stand-in (skipped without Python 3.13)."""
    home = tmp_path_factory.mktemp("smoke") / "state"
    backend: dict[str, str] = {}
    dataset = ""
    if request.param == "bigquery":
        endpoint = request.getfixturevalue("bigquery_endpoint")
        dataset = new_dataset()
        backend = {
            "LIVABILITY_WAREHOUSE": f"bigquery://{PROJECT}/{dataset}",
            "BIGQUERY_EMULATOR_HOST": endpoint.removeprefix("http://"),
        }
    settings = Settings.from_env({**backend, "LIVABILITY_HOME": str(home)})
    settings.open_warehouse(init=True).close()  # `livability init`, as a deploy does
    assert seed_last_week(settings) > 0
    try:
        with local_stack(home, backend) as running:
            yield running
    finally:
        if dataset:
            drop_dataset(endpoint, dataset)


def target(stack: LocalStack, settings: Settings, **urls: str) -> smoke.Target:
    jobs = HttpJobs(urls.get("score", stack.score), urls.get("archive", stack.archive))
    return smoke.Target(
        open_publisher(settings), settings.open_warehouse(), settings.open_archive(), jobs
    )


def stored_rows(settings: Settings, run_id: str) -> dict[str, int]:
    warehouse = settings.open_warehouse()
    day, dataset = NOW.date(), settings.warehouse_url.dataset
    try:
        readings = warehouse.query(
            f"SELECT COUNT(*) FROM {dataset}.sensor_thermo_beacon WHERE day = @day "
            "AND home_id = @home AND data.mac = @mac",
            {"day": day, "home": smoke.SMOKE_HOME, "mac": smoke.mac_of(run_id)},
        )
        letters = warehouse.query(
            f"SELECT COUNT(*) FROM {dataset}.dead_letter WHERE day >= @day "
            "AND STRPOS(payload, @tag) > 0",
            {"day": day, "tag": smoke.tag(run_id)},
        )
    finally:
        warehouse.close()
    return {"readings": readings.column(0)[0].as_py(), "dead letters": letters.column(0)[0].as_py()}


# DuckDB and the BigQuery stand-in: the steps' SQL (partition filters, STRPOS, DELETE) on both.
@pytest.mark.parametrize("stack", ["duckdb", "bigquery"], indirect=True)
def test_every_step_passes_and_nothing_is_left(stack: LocalStack) -> None:
    settings = Settings.from_env(stack.environment())
    seen: list[smoke.Step] = []
    run_id = "0123456789ab"
    report = smoke.run(target(stack, settings), FAST, now=NOW, run_id=run_id, on_step=seen.append)
    failures = [f"{s.name}: {s.detail}" for s in report.steps if not s.ok]
    assert failures == [], f"{failures}; logs in {stack.logs}"
    assert [s.name for s in report.steps] == [s.format(week=WEEK) for s in STEPS]
    assert seen == report.steps, "each step is reported as it ends"
    assert all(s.seconds >= 0 for s in report.steps)
    details = {s.name: s.detail for s in report.steps}
    assert details["reading stored exactly once"] == (
        "one row in sensor_thermo_beacon_dedup; the table holds 1 (the view hides streamed repeats)"
    )
    assert details["poison message dead-lettered"].endswith(
        ": message.data: not JSON (Expecting value: line 1 column 1 (char 0))"
    )
    assert details[f"weekly scoring of {WEEK}"].startswith(f"week_start {WEEK}, homes 2, ")
    assert "every file matches the manifest" in details[f"archive manifest of {WEEK}"]
    # Three messages reached the topic and each was delivered: two readings and the poison.
    assert [status for _, status in stack.pubsub.pushed] == [200, 200, 200]
    manifest = json.loads((stack.home / "archive" / WEEK.isoformat() / "manifest.json").read_text())
    assert manifest["week_start"] == WEEK.isoformat()
    assert stored_rows(settings, run_id) == {"readings": 0, "dead letters": 0}


@pytest.mark.parametrize("stack", ["duckdb"], indirect=True)
def test_a_job_that_does_not_answer_fails_its_step_and_cleanup_still_runs(
    stack: LocalStack, tmp_path: Path
) -> None:
    settings = Settings.from_env(stack.environment())
    closed = "http://127.0.0.1:9/"  # the discard port: nothing listens there
    report = smoke.run(
        target(stack, settings, archive=closed), FAST, now=NOW, run_id="fedcba987654"
    )
    results = {s.name: (s.ok, s.detail) for s in report.steps}
    assert not report.ok
    ok, detail = results[f"weekly archive of {WEEK}"]
    assert not ok
    assert detail.startswith(f"weekly archive at {closed}: ")
    assert results["reading stored exactly once"][0] is True
    assert results["clean up"] == (
        True,
        "nothing of run fedcba987654 left in sensor_thermo_beacon or dead_letter",
    )
    assert stored_rows(settings, "fedcba987654") == {"readings": 0, "dead letters": 0}


def test_the_tagged_reading_is_a_valid_row_of_the_smoke_home() -> None:
    reading = smoke.tagged_reading("00000000ffff", NOW - timedelta(microseconds=NOW.microsecond))
    assert reading["data"] == {
        "mac": 0xFFFF, "home_id": smoke.SMOKE_HOME, "temperature": 21.5, "humidity": 45.0,
    }  # fmt: skip
    assert reading["day"] == NOW.date().isoformat()
    assert registry()["sensor_thermo_beacon"].ranges["data.home_id"][1] == smoke.SMOKE_HOME


# --- the weekly jobs through Cloud Scheduler, at the wire ---


class SchedulerStandIn:
    """Cloud Scheduler's REST API v1 as `SchedulerJobs` uses it (no stand-in installs here):
    `POST /v1/{job}:run` runs the job now (it posts `{}` to its function, as the deployed job's
    body `e30=` says), `GET /v1/{job}` answers with `lastAttemptTime` and `status`."""

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = targets  # job name -> function URL
        self.jobs: dict[str, dict[str, object]] = {}

    def run(self, request: Any) -> Any:
        from werkzeug import Response

        name = request.path.removeprefix("/v1/").removesuffix(":run")
        if name not in self.targets:
            return Response(json.dumps({"error": {"message": f"{name} not found"}}), 404)
        try:
            answer = requests.post(self.targets[name], json={}, timeout=300)
            status = {} if answer.ok else {"code": 13, "message": answer.text[:200]}
        except requests.ConnectionError as err:  # Scheduler reports an unreachable target
            status = {"code": 14, "message": f"UNAVAILABLE: {err}"[:200]}
        attempt = datetime.now(UTC).isoformat().replace("+00:00", "123Z")
        self.jobs[name] = {"name": name, "lastAttemptTime": attempt, "status": status}
        return Response(json.dumps({"name": name}), 200)

    def get(self, request: Any) -> Any:
        from werkzeug import Response

        name = request.path.removeprefix("/v1/")
        return Response(json.dumps(self.jobs.get(name, {"name": name})), 200)


PARENT = "projects/test-proj/locations/europe-west1/jobs/lvb-dev"


@pytest.mark.parametrize("stack", ["duckdb"], indirect=True)
def test_the_weekly_jobs_run_through_their_scheduler_jobs(
    stack: LocalStack, httpserver: HTTPServer
) -> None:
    standin = SchedulerStandIn(
        {f"{PARENT}-weekly-score": stack.score, f"{PARENT}-weekly-archive": "http://127.0.0.1:9/"}
    )
    httpserver.expect_request(re.compile(r"^/v1/.*:run$"), method="POST").respond_with_handler(
        standin.run
    )
    httpserver.expect_request(re.compile(r"^/v1/"), method="GET").respond_with_handler(standin.get)
    jobs = SchedulerJobs(PARENT, requests.Session(), endpoint=httpserver.url_for("/"), poll=0.05)

    answer = jobs.run("score", WEEK)

    assert answer["job"] == f"{PARENT}-weekly-score"
    assert answer["week"] == WEEK.isoformat()
    with pytest.raises(JobError, match=rf"^weekly archive \({PARENT}-weekly-archive\) failed: "):
        jobs.run("archive", WEEK)
    missing = SchedulerJobs(
        "projects/test-proj/locations/europe-west1/jobs/nope", requests.Session(),
        endpoint=httpserver.url_for("/"),
    )  # fmt: skip
    with pytest.raises(JobError, match=r"answered 404: .*nope-weekly-score not found"):
        missing.run("score", WEEK)


# --- the command a user runs ---

LIVABILITY = Path(sys.executable).parent / "livability"


def livability(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.environment(), "COLUMNS": "200"}
    return subprocess.run(
        [str(LIVABILITY), "smoke", *args], env=env, capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("stack", ["duckdb"], indirect=True)
def test_the_command_prints_each_step_with_its_latency(stack: LocalStack) -> None:
    done = livability(
        stack, "--score-url", stack.score, "--archive-url", stack.archive, "--timeout", "60"
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(("ok ", "FAILED "))]
    names = [s.format(week=WEEK) for s in STEPS]
    timed = [re.match(r"^ok (.+) \(([0-9]+\.[0-9]{2}) s\): ", line) for line in lines]
    assert all(timed), lines
    assert [m.group(1) for m in timed if m] == names
    assert "Smoke run " in done.stdout
    assert done.stdout.count(" ok ") >= len(STEPS), done.stdout


@pytest.mark.parametrize("stack", ["duckdb"], indirect=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the weekly jobs: --scheduler, or --score-url and --archive-url"),
        (
            ("--scheduler", "lvb-dev"),
            "--scheduler: 'lvb-dev' is not projects/P/locations/R/jobs/PREFIX",
        ),
        (("--cleanup", "0123456789ab"), "--cleanup needs --day (the day the run printed)"),
    ],
)
def test_a_command_line_it_cannot_run_is_one_line_naming_the_option(
    stack: LocalStack, args: tuple[str, ...], message: str
) -> None:
    done = livability(stack, *args)
    assert done.returncode == 1
    assert done.stderr == f"livability: error: {message}\n"


@pytest.mark.parametrize("stack", ["duckdb"], indirect=True)
def test_a_later_cleanup_deletes_what_a_run_left(stack: LocalStack) -> None:
    settings = Settings.from_env(stack.environment())
    run_id = "00000000abcd"
    publisher = open_publisher(settings)
    try:
        publisher.publish("sensor_thermo_beacon", [smoke.tagged_reading(run_id, NOW)])
    finally:
        publisher.close()
    warehouse = settings.open_warehouse()
    try:
        smoke.wait_for(
            lambda: stored_rows(settings, run_id)["readings"] or None, "the reading", FAST
        )
    finally:
        warehouse.close()
    done = livability(stack, "--cleanup", run_id, "--day", NOW.date().isoformat())
    assert done.returncode == 0, done.stderr
    assert f"nothing of run {run_id} left" in done.stdout
    assert stored_rows(settings, run_id) == {"readings": 0, "dead letters": 0}
