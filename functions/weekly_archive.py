"""Cloud Function `weekly_archive`: archive the raw tables by week, called by Cloud Scheduler.

HTTP in (Mondays 04:00 UTC, OIDC), JSON out: each week archived, unchanged or kept, with its
rows per table and whether its files match the manifest, and any week at risk of expiring
unverified. What a run does (livability/archive/schedule.py, `scheduled_run`):

- archives the last complete Monday week and the one before it (rows that arrived late),
  from the `<table>_dedup` views, with BigQuery EXPORT DATA into LIVABILITY_ARCHIVE;
- writes each week's manifest last, then verifies the files against it;
- gates partition expiry: a week whose partitions expire within 35 days and has no verified
  archive is archived now; if it still is not verified, an ERROR entry with `alert: true`
  is logged (a log-based alert) and the run answers 500.

A body `{"week": "YYYY-MM-DD"}` (or `?week=`) archives that week only, e.g. to re-run one.
Status 500 when a backend fails or a week is left unverified, so Scheduler retries; a rerun
rewrites nothing that is unchanged. Settings are read on each call, never at import.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework

from functions.http_args import requested_week
from livability import signals
from livability.archive import ArchiveError
from livability.archive.schedule import RunReport, scheduled_run
from livability.archive.writer import WeekOutcome, archive_week
from livability.logs import configure_logging
from livability.ports import BackendError
from livability.settings import Settings, SettingsError, open_warehouse

_FAILED = signals.fields(signals.JOB_FAILED, job="weekly_archive")
log = logging.getLogger("functions.weekly_archive")  # the runtime loads this file by path


def _outcome(o: WeekOutcome) -> dict[str, Any]:
    return {**asdict(o), "week": o.week.isoformat(), "seconds": round(o.seconds, 3)}


@functions_framework.http
def weekly_archive(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Archive the recent complete weeks and gate expiry; see the module docstring."""
    configure_logging(replace=False)
    try:
        week = requested_week(request)
        settings = Settings.from_env()
    except SettingsError as err:  # before ValueError, which it is: the deployment's fault
        log.error(  # noqa: TRY400
            "weekly archive misconfigured", extra={"reason": str(err), **_FAILED}
        )
        return {"error": str(err)}, 500
    except ValueError as err:  # the request's week
        return {"error": str(err)}, 400
    warehouse = open_warehouse(settings, init=False)
    bucket = settings.open_archive()
    source = str(settings.warehouse_url)
    try:
        if week is not None:
            outcome = archive_week(warehouse, bucket, week, source=source)
            report = RunReport(outcomes=[outcome])
        else:
            report = scheduled_run(warehouse, bucket, datetime.now(UTC).date(), source=source)
    except (BackendError, ArchiveError) as err:
        log.error("weekly archive failed", extra={"reason": str(err), **_FAILED})  # noqa: TRY400
        return {"error": str(err)}, 500
    finally:
        warehouse.close()
        bucket.close()
    body = {
        "archive": bucket.url,
        "weeks": [_outcome(o) for o in report.outcomes],
        "at_risk": report.at_risk,
    }
    if not report.ok:
        log.error("weekly archive left weeks unverified", extra={"alert": True, **body, **_FAILED})
        return body, 500
    log.info("weekly archive done", extra=body)
    return body, 200
