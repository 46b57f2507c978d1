"""How the smoke test calls the weekly jobs (scoring, archive) for a past week.

- `HttpJobs`: POST `{"week": "YYYY-MM-DD"}` to each function's URL, as `livability serve`
  and functions-framework serve them on 127.0.0.1 (or from inside the project's network).
- `SchedulerJobs`: a deployed function takes internal traffic only, which a person's machine
  is not; its Cloud Scheduler job is. `jobs.run` (Cloud Scheduler REST API v1) starts the job
  now, and the job posts `{}`: the function takes the last complete week, the same week the
  smoke test then checks. The job is read back until an attempt that started after the run
  request has its result (`lastAttemptTime`, `status`). Credentials are Application Default
  Credentials; `endpoint` is the API's root (a stand-in in the tests).

Every call is bounded: `timeout` seconds per request, `deadline` seconds per job.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

import requests

Job = Literal["score", "archive"]
SCHEDULER_API = "https://cloudscheduler.googleapis.com"
# The Scheduler job of each weekly function: `<name_prefix>-<resource name>` (infra/).
SCHEDULER_JOB = {"score": "weekly-score", "archive": "weekly-archive"}


class JobError(RuntimeError):
    """A weekly job could not be run or failed; the message says which and why."""


class Jobs(Protocol):
    def run(self, job: Job, week: date) -> dict[str, Any]:
        """Run `job` for `week`; what it answered (HTTP) or reported (Scheduler)."""
        ...


@dataclass(frozen=True)
class HttpJobs:
    score_url: str
    archive_url: str
    timeout: float = 300.0

    def run(self, job: Job, week: date) -> dict[str, Any]:
        url = self.score_url if job == "score" else self.archive_url
        try:
            response = requests.post(url, json={"week": week.isoformat()}, timeout=self.timeout)
        except requests.RequestException as err:
            raise JobError(f"weekly {job} at {url}: {err}") from err
        body = _json(response.text)
        if response.status_code != 200:
            raise JobError(
                f"weekly {job} at {url} answered {response.status_code}: "
                f"{body.get('error') or response.text[:300]}"
            )
        return body


@dataclass
class SchedulerJobs:
    """`parent`: `projects/P/locations/R/jobs/<name_prefix>`, the jobs' common prefix."""

    parent: str
    session: Any  # google.auth.transport.requests.AuthorizedSession, or a requests.Session
    endpoint: str = SCHEDULER_API
    timeout: float = 30.0
    deadline: float = 1800.0  # the weekly jobs' attempt deadline (infra/constructs/scheduler.py)
    poll: float = 5.0
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_adc(cls, parent: str, **options: Any) -> SchedulerJobs:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return cls(parent, session, **options)

    def run(self, job: Job, week: date) -> dict[str, Any]:
        name = f"{self.parent}-{SCHEDULER_JOB[job]}"
        url = f"{self.endpoint.rstrip('/')}/v1/{name}"
        started = self.clock()
        self._call("POST", f"{url}:run", job)
        waited = 0.0
        while waited <= self.deadline:
            state = self._call("GET", url, job)
            attempt = _time(state.get("lastAttemptTime"))
            if attempt is not None and attempt >= started.replace(microsecond=0):
                status = state.get("status") or {}
                if int(status.get("code", 0)) != 0:
                    raise JobError(
                        f"weekly {job} ({name}) failed: {status.get('message') or status}"
                    )
                return {"job": name, "attempt": state["lastAttemptTime"], "week": week.isoformat()}
            self.sleep(self.poll)
            waited += self.poll
        raise JobError(f"weekly {job} ({name}): no finished attempt within {self.deadline:.0f} s")

    def _call(self, method: str, url: str, job: Job) -> dict[str, Any]:
        try:
            response = self.session.request(method, url, timeout=self.timeout)
        except requests.RequestException as err:
            raise JobError(f"weekly {job}: Cloud Scheduler {method} {url}: {err}") from err
        body = _json(response.text)
        if response.status_code != 200:
            message = (body.get("error") or {}).get("message") or response.text[:300]
            raise JobError(
                f"weekly {job}: Cloud Scheduler {method} {url} answered "
                f"{response.status_code}: {message}"
            )
        return body


def _json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _time(text: object) -> datetime | None:
    """An RFC 3339 time as Cloud Scheduler writes it (`2026-12-07T04:00:01.123456Z`)."""
    if not isinstance(text, str):
        return None
    # Python reads at most 6 fraction digits; the API may send 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None
