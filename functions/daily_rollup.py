"""Cloud Function `daily_rollup`: write the daily rollup's days, called by Cloud Scheduler.

HTTP in (daily 02:30 UTC, OIDC), JSON out: the days written (`scoring.daily.run`, what
`livability rollup` runs). At the call's UTC date it writes yesterday (each day's readings
read once), so the Monday 03:00 scoring finds its week rolled up (it writes any day a failed
run left out before it scores). A late row is counted if it lands within 2.5 h of its
day's close (the run's grace); a gateway's outbox may hold readings for
much longer (`edge/config.py` `outbox_limit`, 500,000 readings, oldest evicted), so after a
longer outage write its days again: a body `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}` (or
`?from=&to=`) writes exactly that range (closed days only, at most `scoring.rollup.MAX_DAYS`,
within the contract's plausible dates; 400 naming the field otherwise). At about a minute a
day at 1M homes, a call of more than about 25 days outlasts the function's 30 minutes: run
`livability rollup --from --to` on BigQuery for those (docs/operations.md, "Daily rollup and
late data").

Each day is written whole (DELETE, INSERT), so a re-run gives the same rows. Status 500 when
the warehouse fails (logged as the signal `job_failed`, which the job-failure alert counts),
so Scheduler retries. Settings are read on each call, never at import.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

import flask
import functions_framework

from functions.http_args import requested_week
from livability import signals
from livability.logs import configure_logging
from livability.ports import BackendError
from livability.settings import Settings, SettingsError, open_warehouse
from scoring import daily

log = logging.getLogger("functions.daily_rollup")  # the runtime loads this file by path
_FAILED = signals.fields(signals.JOB_FAILED, job="daily_rollup")
_FIELDS = ("from", "to")


def _requested_span(request: flask.Request, today: date) -> tuple[date, date] | None:
    """The range asked for (`from` and `to`, both or neither), checked; None if none. A body
    is a JSON object of those keys only: a typo must not run the default days instead."""
    if request.data:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValueError(f"body: {request.data[:60]!r} is not a JSON object")
        unknown = sorted(set(body) - set(_FIELDS))
        if unknown:
            raise ValueError(f"body: unknown key {unknown[0]!r} (known: from, to)")
    first, last = requested_week(request, "from"), requested_week(request, "to")
    if first is None and last is None:
        return None
    if first is None or last is None:
        missing, given = ("from", last) if first is None else ("to", first)
        assert given is not None
        raise ValueError(f"{missing}: missing; give both from and to (got {given.isoformat()!r})")
    daily.requested_days(first, last, today)
    return first, last


@functions_framework.http
def daily_rollup(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Write the rollup's due days, or the range asked; see the module docstring."""
    configure_logging(replace=False)
    today = datetime.now(UTC).date()
    try:
        span = _requested_span(request, today)
    except ValueError as err:
        return {"error": str(err)}, 400
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        log.error("daily rollup misconfigured", extra={"reason": str(err), **_FAILED})  # noqa: TRY400
        return {"error": str(err)}, 500
    warehouse = open_warehouse(settings, init=False)
    try:
        done = daily.run(warehouse, today, span)
    except BackendError as err:
        log.error("daily rollup failed", extra={"reason": str(err), **_FAILED})  # noqa: TRY400
        return {"error": str(err)}, 500
    finally:
        warehouse.close()
    body = done.to_json()
    log.info("daily rollup written", extra={"days": body["days"], "requested": span is not None})
    return body, 200
