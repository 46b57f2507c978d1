"""The smoke test's steps, each timed, against whatever the settings name: a deployed project
(BigQuery, the real topic, the archive bucket, the Scheduler jobs) or the local stack.

1. publish a reading tagged with this run (the smoke home, a MAC drawn from the run id), twice,
   as a gateway re-publishes after a lost acknowledgement;
2. publish a poison message (not JSON, naming the run) to the same topic; a topic with a schema
   (ingest mode bigquery_subscription) refuses it at once, which is the expected outcome there;
3. wait until the reading is in the warehouse exactly once (its `_dedup` view; the table's own
   count is reported: streaming may have stored a second copy for the view to hide);
4. wait until the poison is one dead letter naming the run;
5. run the weekly scoring and 6. the weekly archive for the last complete week;
7. verify that week's archive against its manifest (every file, its bytes, its rows);
8. delete what the run stored (always, even after a failed step). BigQuery refuses to delete
   streamed rows for up to 90 minutes (its streaming buffer): the step retries for
   `cleanup_wait` seconds, then fails naming `livability smoke --cleanup RUN_ID --day DAY`.

Waits are bounded (`timeout` per step) and poll with a growing interval. Nothing here reads
the environment: the CLI builds the target from the settings.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from livability.archive.format import archived_tables
from livability.archive.verify import verify_week
from livability.archive.writer import source_rows
from livability.messages import TABLE_ATTRIBUTE
from livability.ports import (
    Bucket,
    InvalidMessageError,
    ParamValue,
    RawPublisher,
    Warehouse,
    WarehouseError,
)
from livability.smoke.jobs import JobError, Jobs
from livability.weeks import last_complete_week
from schemas import ROW_ID, registry
from schemas.validation import validate_row

SENSOR = "sensor_thermo_beacon"
SMOKE_HOME = 9_007_199_254_740_991  # the contract's highest home id: kept for smoke runs
MAC_BITS = 48
T = TypeVar("T")


class SmokeError(RuntimeError):
    """A step found the platform not doing what it must; the message says what it saw."""


@dataclass(frozen=True)
class Target:
    """What the smoke test talks to."""

    publisher: RawPublisher
    warehouse: Warehouse
    archive: Bucket
    jobs: Jobs


@dataclass(frozen=True)
class Options:
    timeout: float = 300.0  # seconds to wait for a row to be stored, per step
    cleanup_wait: float = 120.0  # seconds to retry a delete the streaming buffer refuses
    poll: float = 0.25  # first wait between two looks; doubles up to max_poll
    max_poll: float = 10.0


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Report:
    run_id: str
    day: date
    week: date
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


def tag(run_id: str) -> str:
    return f"livability-smoke-{run_id}"


def mac_of(run_id: str) -> int:
    return int(run_id, 16) % (1 << MAC_BITS)


def tagged_reading(run_id: str, now: datetime) -> dict[str, Any]:
    """The run's reading: the smoke home, a MAC from the run id, taken `now`."""
    moment = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    return {
        "day": moment.date().isoformat(),
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "data": {"mac": mac_of(run_id), "home_id": SMOKE_HOME, "temperature": 21.5,
                 "humidity": 45.0},
    }  # fmt: skip


class _Steps:
    def __init__(self, report: Report, on_step: Callable[[Step], None]) -> None:
        self.report, self.on_step = report, on_step

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time the block; it appends its detail to the yielded list or raises SmokeError."""
        detail: list[str] = []
        began = time.perf_counter()
        ok = True
        try:
            yield detail
        except (SmokeError, JobError, WarehouseError, InvalidMessageError) as err:
            ok, detail = False, [str(err)]
        except Exception as err:  # noqa: BLE001 - any failure is this step's; cleanup still runs
            ok, detail = False, [f"{type(err).__name__}: {err}"]
        step = Step(name, ok, time.perf_counter() - began, "; ".join(detail))
        self.report.steps.append(step)
        self.on_step(step)

    def skip(self, name: str, why: str) -> None:
        step = Step(name, False, 0.0, f"skipped: {why}")
        self.report.steps.append(step)
        self.on_step(step)


def wait_for(check: Callable[[], T | None], what: str, options: Options) -> T:
    """Poll `check` until it returns a value, at most `options.timeout` seconds."""
    deadline = time.monotonic() + options.timeout
    pause = options.poll
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() + pause > deadline:
            raise SmokeError(f"{what}: not seen within {options.timeout:.0f} s")
        time.sleep(pause)  # waiting on a remote system, not on our own threads
        pause = min(pause * 2, options.max_poll)


def run(
    target: Target,
    options: Options = Options(),
    *,
    now: datetime | None = None,
    run_id: str | None = None,
    on_step: Callable[[Step], None] = lambda _: None,
) -> Report:
    """Every step in order; cleanup runs whatever failed before it."""
    now = now or datetime.now(UTC)
    run_id = run_id or uuid.uuid4().hex[:12]
    report = Report(run_id, now.date(), last_complete_week(now.date()))
    steps = _Steps(report, on_step)
    reading = validate_row(registry()[SENSOR], tagged_reading(run_id, now))
    stored = poisoned = False
    try:
        with steps.step("publish the tagged reading (twice)") as detail:
            ids = [
                *target.publisher.publish(SENSOR, [tagged_reading(run_id, now)]),
                *target.publisher.publish(SENSOR, [tagged_reading(run_id, now)]),
            ]
            detail.append(f"message ids {', '.join(ids)}; row_id {reading[ROW_ID]}")
            stored = True
        with steps.step("publish a poison message") as detail:
            body = f"{tag(run_id)}: not JSON {{".encode()
            try:
                detail.append(
                    "message id " + target.publisher.publish_raw(body, {TABLE_ATTRIBUTE: SENSOR})
                )
                poisoned = True
            except InvalidMessageError as err:
                detail.append(f"refused by the topic's schema, as it must be ({err})")
        if stored:
            with steps.step("reading stored exactly once") as detail:
                detail.append(_stored_once(target.warehouse, reading, options))
        else:
            steps.skip("reading stored exactly once", "the reading was not published")
        if poisoned:
            with steps.step("poison message dead-lettered") as detail:
                detail.append(_dead_lettered(target.warehouse, run_id, report.day, options))
        else:
            steps.skip("poison message dead-lettered", "no poison message reached the topic")
        for job in ("score", "archive"):
            title = "scoring" if job == "score" else "archive"
            with steps.step(f"weekly {title} of {report.week}") as detail:
                answer = target.jobs.run(job, report.week)
                detail.append(_summary(answer))
        with steps.step(f"archive manifest of {report.week}") as detail:
            detail.append(_manifest(target.warehouse, target.archive, report.week))
    finally:
        with steps.step("clean up") as detail:
            detail.append(cleanup(target.warehouse, run_id, report.day, options))
    return report


def _count(warehouse: Warehouse, source: str, day: date, row_id: str) -> int:
    sql = (
        f"SELECT COUNT(*) AS n FROM {warehouse.dataset}.{source} "  # noqa: S608 - our names
        "WHERE day = @day AND row_id = @id"
    )
    return int(warehouse.query(sql, {"day": day, "id": row_id}).column(0)[0].as_py())


def _stored_once(warehouse: Warehouse, reading: Mapping[str, Any], options: Options) -> str:
    day, row_id = reading["day"], reading[ROW_ID]
    seen = wait_for(
        lambda: _count(warehouse, f"{SENSOR}_dedup", day, row_id) or None,
        f"the reading {row_id} in {SENSOR}",
        options,
    )
    if seen != 1:
        raise SmokeError(f"the reading {row_id} is in {SENSOR}_dedup {seen} times, not once")
    copies = _count(warehouse, SENSOR, day, row_id)
    return f"one row in {SENSOR}_dedup; the table holds {copies} (the view hides streamed repeats)"


def _dead_letters(
    warehouse: Warehouse, run_id: str, day: date, table: str = "dead_letter_dedup"
) -> list[dict[str, Any]]:
    """The run's dead letters (row id and reason) in `table`: the de-duplicated view, or
    `dead_letter` itself (what the cleanup must leave empty, streamed repeats included)."""
    sql = (
        f"SELECT row_id, reason FROM {warehouse.dataset}.{table} "  # noqa: S608
        "WHERE day BETWEEN @first AND @last AND STRPOS(payload, @tag) > 0"
    )
    params: dict[str, ParamValue] = {
        "first": day,
        "last": day + timedelta(days=1),
        "tag": tag(run_id),
    }
    rows: list[dict[str, Any]] = warehouse.query(sql, params).to_pylist()
    return rows


def _dead_lettered(warehouse: Warehouse, run_id: str, day: date, options: Options) -> str:
    found = wait_for(
        lambda: _dead_letters(warehouse, run_id, day) or None, "the poison in dead_letter", options
    )
    if len(found) != 1:
        raise SmokeError(f"the poison message is {len(found)} dead letters, not one")
    return f"dead letter {found[0]['row_id']}: {found[0]['reason']}"


def _summary(answer: Mapping[str, Any]) -> str:
    keys = ("week_start", "homes", "new_rows", "replaced", "job", "attempt")
    parts = [f"{k} {answer[k]}" for k in keys if k in answer]
    for week in answer.get("weeks", []):
        parts.append(f"{week.get('week')} {week.get('action')} (verified {week.get('verified')})")
    return ", ".join(parts) or "done"


def _manifest(warehouse: Warehouse, archive: Bucket, week: date) -> str:
    rows = {t.name: source_rows(warehouse, t, week) for t in archived_tables()}
    if not any(rows.values()):
        return f"the week of {week} holds no rows: nothing to archive (a new deployment)"
    check = verify_week(archive, week, record=False)
    if not check.ok:
        raise SmokeError(f"archive of {week}: {'; '.join(check.problems)}")
    empty = [name for name, n in rows.items() if n and not check.tables.get(name)]
    if empty:
        raise SmokeError(f"archive of {week}: no rows archived for {', '.join(empty)}")
    counted = ", ".join(f"{name} {n}" for name, n in sorted(check.tables.items()))
    return f"{archive.url}: every file matches the manifest ({counted} rows)"


def cleanup(warehouse: Warehouse, run_id: str, day: date, options: Options = Options()) -> str:
    """Delete the run's reading and dead letters; retried while BigQuery's streaming buffer
    refuses, for `options.cleanup_wait` seconds."""
    dataset = warehouse.dataset
    statements: tuple[tuple[str, dict[str, ParamValue]], ...] = (
        (
            f"DELETE FROM {dataset}.{SENSOR} WHERE day = @day AND home_id = @home "  # noqa: S608
            "AND data.mac = @mac",
            {"day": day, "home": SMOKE_HOME, "mac": mac_of(run_id)},
        ),
        (
            f"DELETE FROM {dataset}.dead_letter WHERE day BETWEEN @day AND @last "  # noqa: S608
            "AND STRPOS(payload, @tag) > 0",
            {"day": day, "last": day + timedelta(days=1), "tag": tag(run_id)},
        ),
    )
    deadline = time.monotonic() + options.cleanup_wait
    pause = options.poll
    for sql, params in statements:
        while True:
            try:
                warehouse.query(sql, params)
                break
            except WarehouseError as err:
                if "streaming buffer" not in str(err) or time.monotonic() + pause > deadline:
                    raise SmokeError(
                        f"{err}; run `livability smoke --cleanup {run_id} --day {day}` once "
                        "BigQuery has flushed its streaming buffer (up to 90 minutes)"
                    ) from err
                time.sleep(pause)
                pause = min(pause * 2, options.max_poll)
    left = _rows_left(warehouse, run_id, day)
    if left:
        raise SmokeError(f"{left} rows of run {run_id} are still stored after the delete")
    return f"nothing of run {run_id} left in {SENSOR} or dead_letter"


def _rows_left(warehouse: Warehouse, run_id: str, day: date) -> int:
    readings = (
        warehouse.query(
            f"SELECT COUNT(*) FROM {warehouse.dataset}.{SENSOR} "  # noqa: S608
            "WHERE day = @day AND home_id = @home AND data.mac = @mac",
            {"day": day, "home": SMOKE_HOME, "mac": mac_of(run_id)},
        )
        .column(0)[0]
        .as_py()
    )
    return int(readings) + len(_dead_letters(warehouse, run_id, day, "dead_letter"))
