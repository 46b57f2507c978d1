"""Cloud Function `fleet_health`: the hourly fleet check, called by Cloud Scheduler.

HTTP in (every hour, OIDC), JSON out: the fleet's counts at the call's instant over the last
7 days (`livability.fleet.check`, the query `livability fleet` runs): homes, sensors, silent
gateways (no reading for 3 h), sensors below 20 % battery, dead letters by reason. It logs
one line with the signal `fleet_check` (`livability.signals`) whose `silent_homes` the
stack's log-based metric takes: the alert on silent homes reads that, and the alert on a
missing check reads its absence. Status 500 when the warehouse fails (logged as the signal
`job_failed`), so Scheduler retries. Settings are read on each call, never at import.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework

from livability import signals
from livability.fleet.check import check
from livability.logs import configure_logging
from livability.ports import BackendError
from livability.settings import Settings, SettingsError, open_warehouse

log = logging.getLogger("functions.fleet_health")  # the runtime loads this file by path
_FAILED = signals.fields(signals.JOB_FAILED, job="fleet_health")


@functions_framework.http
def fleet_health(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Count silent gateways and low batteries; see the module docstring."""
    configure_logging(replace=False)
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        log.error("fleet check misconfigured", extra={"reason": str(err), **_FAILED})  # noqa: TRY400
        return {"error": str(err)}, 500
    warehouse = open_warehouse(settings, init=False)
    try:
        report = check(warehouse, datetime.now(UTC), max_rows=0)
    except BackendError as err:
        log.error("fleet check failed", extra={"reason": str(err), **_FAILED})  # noqa: TRY400
        return {"error": str(err)}, 500
    finally:
        warehouse.close()
    counts = signals.fields(
        signals.FLEET_CHECK,
        homes=report.homes,
        silent_homes=report.silent_gateways,
        low_battery_sensors=report.low_battery_sensors,
    )
    log.info("fleet check", extra={**counts, "dead_letters": report.dead_letter_total})
    body = report.to_json()
    del body["sensor_rows"]
    return body, 200
