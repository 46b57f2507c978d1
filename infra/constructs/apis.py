"""The Google APIs the stack uses, enabled on the project (and never disabled by a destroy)."""

from __future__ import annotations

from cdktn_provider_google.project_service import ProjectService
from constructs import Construct

from infra.config import Environment

SERVICES = (
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
)
BUDGET_SERVICE = "billingbudgets.googleapis.com"


class Apis(Construct):
    """Out: `enabled`, what every other resource depends on."""

    def __init__(self, scope: Construct, id_: str, env: Environment) -> None:
        super().__init__(scope, id_)
        services = [*SERVICES, *([BUDGET_SERVICE] if env.billing_account else [])]
        self.enabled: list[ProjectService] = [
            ProjectService(
                self,
                service.split(".")[0],
                project=env.project,
                service=service,
                # Other stacks or people may use the API: a destroy leaves it on.
                disable_on_destroy=False,
            )
            for service in sorted(services)
        ]
