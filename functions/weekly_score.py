"""Cloud Function `weekly_score`: score the last complete week, called by Cloud Scheduler.

HTTP in (Mondays 03:00 UTC, OIDC), JSON out: the week scored, how many homes, how many rows
were new, how many older vectors they replaced, how many are provisional, where the vectors
went, and the homes' certificates (`certificates/<week start>/`: a page per home and the
portfolio `index.html`, docs/certificates.md). It runs the same code as `livability score`
(`scoring.job.run`): the SQL runs in the warehouse (BigQuery), polars finishes per home,
the vectors go to `LIVABILITY_BUCKET/scores/<week start>/scores.ndjson` and to `livability_scores`.

The week is the last complete Monday-Sunday week before the call's UTC date. A body
`{"week": "YYYY-MM-DD"}` (or `?week=`) scores the 7 days from that date instead, e.g. to
re-score a week after late data: its days of the daily rollup are written again from the
readings, and the new vectors replace the old ones. Status 500 when a
backend fails, so Scheduler retries; a rerun on unchanged data adds nothing. Settings are
read on each call, never at import.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

import flask
import functions_framework

from functions.http_args import requested_week
from livability import signals, weeks
from livability.certificate import publish as certificates
from livability.certificate.content import FleetState
from livability.fleet.check import check as fleet_check
from livability.logs import configure_logging
from livability.ports import BackendError, Warehouse
from livability.settings import Settings, SettingsError, open_warehouse
from schemas import registry
from scoring import job
from scoring.model import MODEL_VERSION

log = logging.getLogger("functions.weekly_score")  # the runtime loads this file by path
_FAILED = signals.fields(signals.JOB_FAILED, job="weekly_score")


def _requested_week(request: flask.Request) -> date | None:
    """The week asked for, if any, within the contract's plausible range."""
    week = requested_week(request)
    if week is None:
        return None
    first, last = registry()["livability_scores"].ranges["week_start"]
    if not first <= week <= last:
        raise ValueError(
            f"week: {week.isoformat()!r} is outside {first}..{last} (schemas/tables.toml)"
        )
    return week


@functions_framework.http
def weekly_score(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Score a week in the warehouse and publish the vectors; see the module docstring."""
    configure_logging(replace=False)
    try:
        requested = _requested_week(request)
    except ValueError as err:
        return {"error": str(err)}, 400
    now = datetime.now(UTC)
    week = requested or weeks.last_complete_week(now.date())
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        log.error(  # noqa: TRY400
            "weekly scoring misconfigured", extra={"reason": str(err), **_FAILED}
        )
        return {"error": str(err)}, 500
    warehouse = open_warehouse(settings, init=False)
    bucket = settings.open_bucket()
    try:
        # A week asked for is a re-score (late data): its rollup days are written again.
        published = job.run(warehouse, bucket, week, now, refresh=requested is not None)
        fleet = _fleet_state(warehouse, now) if requested is None else None
        index = certificates.publish_week(
            warehouse, bucket, week, published.vectors, fleet=fleet, ranges=published.ranges
        )
    except BackendError as err:
        log.error(  # noqa: TRY400 - the reason is the message; a trace adds nothing here
            "weekly scoring failed",
            extra={"week_start": week.isoformat(), "reason": str(err), **_FAILED},
        )
        return {"error": str(err), "week_start": week.isoformat()}, 500
    finally:
        warehouse.close()
        bucket.close()
    vectors = published.vectors
    provisional = int(vectors["provisional"].sum()) if not vectors.is_empty() else 0
    return {
        "week_start": week.isoformat(),
        "model_version": MODEL_VERSION,
        "homes": vectors.height,
        "new_rows": published.new_rows,
        "replaced": published.replaced,
        "provisional": provisional,
        "uri": published.object_uri,
        "certificates": index,
    }, 200


def _fleet_state(warehouse: Warehouse, now: datetime) -> FleetState | None:
    """The fleet as it is now, for the portfolio page of the week just scored; None (and a
    warning) when the check fails: the certificates do not wait on it."""
    try:
        report = fleet_check(warehouse, now)
    except BackendError as err:
        log.warning("fleet state left off the portfolio page", extra={"reason": str(err)})
        return None
    return FleetState(report.now, report.summary(), report.problems())
