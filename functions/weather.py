"""Cloud Function `meteodata_event`: one weather tick, called by Cloud Scheduler (OIDC).

HTTP in, JSON out: the locations polled, rows published, skipped and failed with reasons.
Status 500 when a backend fails (publisher, bucket, warehouse, Secret Manager) or a setting
is unusable, so the failure shows in the job's status and Scheduler may retry: a retry
re-publishes rows whose row ids collapse them into one. Status 500 too when OpenWeatherMap
rejects the key (401), as the job has failed and someone must act; that tick made exactly one
OpenWeatherMap call and stopped, so a retry costs one call, not one per location. The key is
re-read from Secret Manager on every tick, so a new secret version heals the next one.

The runtime (Cloud Run) checks the OIDC token before the request reaches this code; settings
are read on each call, never at import.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

import flask
import functions_framework

from livability import signals
from livability.logs import configure_logging
from livability.ports import BackendError
from livability.settings import Settings, SettingsError, open_publisher
from livability.weather.errors import WeatherConfigError
from livability.weather.poller import run_tick
from livability.weather.settings import WeatherSettings

log = logging.getLogger("functions.weather")  # a fixed name: the runtime loads this file by path
_FAILED = signals.fields(signals.JOB_FAILED, job="weather")


@functions_framework.http
def meteodata_event(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Poll OpenWeatherMap once for every location and publish the new observations."""
    configure_logging(replace=False)
    try:
        settings = Settings.from_env()
        config = WeatherSettings.from_env(os.environ)
        publisher = open_publisher(settings)
    except (SettingsError, WeatherConfigError) as err:
        log.error(  # noqa: TRY400
            "weather poller misconfigured", extra={"reason": str(err), **_FAILED}
        )
        return {"error": str(err)}, 500
    try:
        report = run_tick(settings, config, publisher, now=datetime.now(UTC))
    except (BackendError, WeatherConfigError) as err:
        # No traceback: the reason says it, and a transport error could quote a URL.
        log.error("weather tick failed", extra={"reason": str(err), **_FAILED})  # noqa: TRY400
        return {"error": str(err)}, 500
    finally:
        publisher.close()
    failed = report.count("failed")
    tick = signals.fields(
        signals.WEATHER_TICK, failed=failed, key_rejected=bool(report.key_rejected)
    )
    log.log(logging.WARNING if failed else logging.INFO, "weather tick", extra=tick)
    return report.to_json(), 500 if report.key_rejected else 200
