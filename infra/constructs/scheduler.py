"""Cloud Scheduler: the weather poller every 10 minutes, the weekly scoring and archive, the
hourly fleet check, the daily rollup.

Each job calls its HTTP function with an OIDC token of its own service account, which may
invoke that one function (`access.py`). A 500 from a function is retried with backoff.
"""

from __future__ import annotations

from cdktn_provider_google.cloud_scheduler_job import (
    CloudSchedulerJob,
    CloudSchedulerJobHttpTarget,
    CloudSchedulerJobHttpTargetOidcToken,
    CloudSchedulerJobRetryConfig,
)
from constructs import Construct

from infra.config import Environment
from infra.constructs.cloud_functions import Functions, named
from infra.constructs.identities import Identities
from infra.entrypoints import FUNCTIONS

# Scheduler waits at most 30 min for an HTTP target; the weekly jobs may run that long.
ATTEMPT_DEADLINE = {
    "weather": "120s", "scoring": "1800s", "archive": "1800s", "fleet": "300s", "rollup": "1800s",
}  # fmt: skip


class Scheduler(Construct):
    """Out: `jobs` by function key."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        env: Environment,
        functions: Functions,
        identities: Identities,
    ) -> None:
        super().__init__(scope, id_)
        self.jobs: dict[str, CloudSchedulerJob] = {}
        for spec in FUNCTIONS:
            function = functions.functions.get(spec.key)
            if spec.schedule is None or function is None:
                continue
            self.jobs[spec.key] = CloudSchedulerJob(
                self,
                spec.resource_name,
                region=env.region,
                description=f"Runs the {spec.title}.",
                schedule=getattr(env.schedules, spec.schedule),
                time_zone=env.schedules.time_zone,
                attempt_deadline=ATTEMPT_DEADLINE[spec.schedule],
                retry_config=CloudSchedulerJobRetryConfig(
                    retry_count=3, min_backoff_duration="30s", max_backoff_duration="600s"
                ),
                http_target=CloudSchedulerJobHttpTarget(
                    # run.app: with internal ingress, Scheduler is internal only there.
                    uri=functions.uri(spec.key),
                    http_method="POST",
                    headers={"Content-Type": "application/json"},
                    body="e30=",  # base64 of {}: the functions take no arguments
                    oidc_token=CloudSchedulerJobHttpTargetOidcToken(
                        service_account_email=identities.email(f"sched-{spec.schedule}"),
                        audience=functions.uri(spec.key),
                    ),
                ),
                **named(env, spec),
            )
