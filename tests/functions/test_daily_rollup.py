"""The daily rollup function as Cloud Scheduler calls it: `functions-framework` serving
`functions/daily_rollup.py` on 127.0.0.1 in its own process, POSTs over HTTP, on the embedded
DuckDB warehouse under its LIVABILITY_HOME (the server opens the file only while it works, so
the test loads readings and reads the rollup between calls).

The function dates its work by the wall clock (UTC), as in the cloud: the readings are placed
relative to today. (A run that straddles midnight UTC would shift the days under the test.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from livability.adapters.duckdb_warehouse import DuckDBWarehouse
from livability.net import free_port, wait_listening
from schemas import ROW_ID, registry
from schemas.validation import validate_row
from scoring import daily, rollup
from tests.scoring.weeks import Reading, sensor_row
from tests.support.paths import ROOT

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
TODAY = datetime.now(UTC).date()


def day(back: int) -> date:
    return TODAY - timedelta(days=back)


@dataclass
class Served:
    url: str
    log: Path
    home: Path

    def post(self, body: object = None, query: str = "") -> requests.Response:
        return requests.post(self.url + query, json=body or {}, timeout=120)

    def logged(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def warehouse(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(self.home / "warehouse.duckdb", registry(), "sensor_data")


def _serve(home: Path, extra: dict[str, str]) -> Iterator[Served]:
    env = {**os.environ, "LIVABILITY_HOME": str(home), **extra}
    if "LIVABILITY_WAREHOUSE" not in extra:
        env.pop("LIVABILITY_WAREHOUSE", None)
    port, log = free_port(), home.parent / "daily_rollup.log"
    command = [
        str(BIN / "functions-framework"), "--target=daily_rollup",
        f"--source={ROOT / 'functions' / 'daily_rollup.py'}", "--host=127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, process, STARTUP_SECONDS)
            yield Served(f"http://127.0.0.1:{port}/", log, home)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The function on a fresh, initialised DuckDB warehouse."""
    home = tmp_path / "state"
    home.mkdir()
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb", registry(), "sensor_data")
    warehouse.init()
    warehouse.close()
    yield from _serve(home, {})


def hourly(on: date, temperature: float, *, hours: range = range(0, 24, 6)) -> list[Reading]:
    """Home 1's sensor 11, a reading at minute 10 of each of `hours`."""
    start = datetime.combine(on, datetime.min.time(), UTC)
    return [Reading(start + timedelta(hours=h, minutes=10), temperature, 50.0) for h in hours]


def load(served: Served, readings: list[Reading]) -> None:
    table = registry()["sensor_thermo_beacon"]
    rows = [validate_row(table, sensor_row(r)) for r in readings]
    warehouse = served.warehouse()
    try:
        warehouse.load_rows(table.name, rows, [r[ROW_ID] for r in rows])
    finally:
        warehouse.close()


def rolled_up(served: Served) -> list[dict[str, Any]]:
    """Every row of the rollup, in order."""
    warehouse = served.warehouse()
    try:
        found = warehouse.query(
            f"SELECT {rollup.COLUMNS} FROM sensor_data.sensor_hours ORDER BY hour, home_id, mac"
        )
    finally:
        warehouse.close()
    return found.to_pylist()


def on_day(rows: list[dict[str, Any]], wanted: date) -> list[dict[str, Any]]:
    return [r for r in rows if r["hour"].date() == wanted]


def iso(*days: date) -> list[str]:
    return [d.isoformat() for d in days]


def test_a_daily_run_writes_yesterday_once_each_reading_read_once(served: Served) -> None:
    load(served, [*hourly(day(5), 18.0), *hourly(day(2), 19.0), *hourly(day(1), 20.0)])
    load(served, hourly(TODAY, 21.0, hours=range(1)))  # today's first reading: an open day
    answer = served.post()
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"days": iso(day(1))}
    # Yesterday only: older days without a rollup are the weekly job's to fill before it
    # scores (no daily look for them), and today has not closed.
    first = rolled_up(served)
    assert sorted({r["hour"].date() for r in first}) == [day(1)]
    assert [(r["n"], r["temperature"]) for r in first] == [(1, 20.0)] * 4

    # A late row of yesterday (a gateway back within the grace, or Scheduler's retry after
    # it): a run again the same day writes yesterday with it.
    late = Reading(datetime.combine(day(1), datetime.min.time(), UTC) + timedelta(minutes=40),
                   23.0, 50.0)  # fmt: skip
    load(served, [late])
    again = served.post()
    assert again.status_code == 200, again.text
    second = rolled_up(served)
    midnight = on_day(second, day(1))[0]
    assert (midnight["n"], midnight["temperature"]) == (2, 21.5)
    assert midnight["last_at"] == late.at
    assert second[1:] == first[1:]

    # Nothing new: the same rows, each once.
    assert served.post().status_code == 200
    third = rolled_up(served)
    assert third == second
    keys = [(r["hour"], r["home_id"], r["mac"]) for r in third]
    assert len(keys) == len(set(keys)) == 4


def test_a_range_in_the_body_writes_exactly_that_range(served: Served) -> None:
    load(served, [*hourly(day(6), 18.0), *hourly(day(4), 18.0)])
    first = served.post({"from": day(6).isoformat(), "to": day(4).isoformat()})
    assert first.json() == {"days": iso(day(6), day(5), day(4))}
    # Late rows for two days the daily run no longer writes; only one is asked for.
    late = range(3, 4)  # 03:10, an hour without a reading
    load(served, [*hourly(day(6), 30.0, hours=late), *hourly(day(4), 30.0, hours=late)])
    before = rolled_up(served)
    answer = served.post({"from": day(6).isoformat(), "to": day(6).isoformat()})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"days": iso(day(6))}
    after = rolled_up(served)
    assert len(on_day(after, day(6))) == len(on_day(before, day(6))) + 1
    assert on_day(after, day(4)) == on_day(before, day(4))  # not asked: still without it
    # The query string works as the body does.
    by_query = served.post(query=f"?from={day(4).isoformat()}&to={day(4).isoformat()}")
    assert by_query.json()["days"] == iso(day(4))
    assert len(on_day(rolled_up(served), day(4))) == 5


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"from": day(1).isoformat(), "to": TODAY.isoformat()},
         f"to: {TODAY.isoformat()!r} has not closed yet (today is {TODAY.isoformat()}, UTC)"),
        ({"from": "2000-01-01", "to": day(1).isoformat()},
         f"to: {day(1).isoformat()!r} is {(day(1) - date(2000, 1, 1)).days + 1} days from "
         f"'2000-01-01'; at most {rollup.MAX_DAYS} in one run"),
        ({"from": "1999-12-31", "to": "2000-01-02"},
         "from: '1999-12-31' is outside 2000-01-01..2099-12-31 (schemas/tables.toml)"),
        ({"from": day(1).isoformat(), "to": day(3).isoformat()},
         f"from: {day(1).isoformat()!r} is after to {day(3).isoformat()!r}"),
        ({"from": "2025-13-01", "to": "2025-12-02"},
         "from: '2025-13-01' is not a date (YYYY-MM-DD)"),
        ({"from": "2025-12-01"}, "to: missing; give both from and to (got '2025-12-01')"),
        ({"to": "2025-12-01"}, "from: missing; give both from and to (got '2025-12-01')"),
        ({"form": "2025-12-01", "to": "2025-12-01"},
         "body: unknown key 'form' (known: from, to)"),
        (["2025-12-01"], "body: b'[\"2025-12-01\"]' is not a JSON object"),
    ],
)  # fmt: skip
def test_a_bad_range_is_refused_naming_the_field_and_the_value(
    served: Served, body: object, error: str
) -> None:
    load(served, hourly(day(1), 20.0))
    answer = served.post(body)
    assert (answer.status_code, answer.json()) == (400, {"error": error})
    assert rolled_up(served) == []  # nothing written


def test_a_body_that_is_no_json_is_refused(served: Served) -> None:
    answer = requests.post(served.url, data=b"from=2025-01-01", timeout=30)
    assert (answer.status_code, answer.json()) == (
        400, {"error": "body: b'from=2025-01-01' is not a JSON object"}
    )  # fmt: skip


def test_the_range_bound_is_the_rollups() -> None:
    """The function refuses what `rollup.write_days` would, before any day is written."""
    days = daily.requested_days(day(rollup.MAX_DAYS), day(1), TODAY)
    assert len(days) == rollup.MAX_DAYS
    with pytest.raises(ValueError, match=f"at most {rollup.MAX_DAYS} in one run"):
        daily.requested_days(day(rollup.MAX_DAYS + 1), day(1), TODAY)


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("nosuch://warehouse", "LIVABILITY_WAREHOUSE"),  # misconfigured
        ("duckdb:///{home}/not-a-database.duckdb", "cannot open the warehouse"),  # fails
    ],
)
def test_a_failing_warehouse_answers_500_and_logs_the_job_failure(
    tmp_path: Path, setting: str, reason: str
) -> None:
    home = tmp_path / "state"
    home.mkdir()
    (home / "not-a-database.duckdb").write_bytes(b"not a DuckDB file\n" * 100)
    for served in _serve(home, {"LIVABILITY_WAREHOUSE": setting.format(home=home)}):
        answer = served.post()
        assert answer.status_code == 500
        assert reason in answer.json()["error"]
        failures = [e for e in served.logged() if e.get("signal") == "job_failed"]
        assert [(e["severity"], e["job"]) for e in failures] == [("ERROR", "daily_rollup")]
        assert reason in failures[0]["reason"]
