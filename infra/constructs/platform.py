"""Project-level pieces: the OpenWeather secret, the edge image repository, the budget."""

from __future__ import annotations

from collections.abc import Sequence

from cdktn_provider_google.artifact_registry_repository import (
    ArtifactRegistryRepository,
    ArtifactRegistryRepositoryCleanupPolicies,
    ArtifactRegistryRepositoryCleanupPoliciesCondition,
    ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions,
)
from cdktn_provider_google.billing_budget import (
    BillingBudget,
    BillingBudgetAllUpdatesRule,
    BillingBudgetAmount,
    BillingBudgetAmountSpecifiedAmount,
    BillingBudgetBudgetFilter,
    BillingBudgetThresholdRules,
)
from cdktn_provider_google.secret_manager_secret import (
    SecretManagerSecret,
    SecretManagerSecretReplication,
    SecretManagerSecretReplicationAuto,
)
from constructs import Construct

from infra.constructs import Inputs, Part

SECRET_ID = "OPENWEATHER_API_KEY"  # noqa: S105 - the secret's name, not its value
EDGE_REPOSITORY = "edge"
KEEP_IMAGES = 20
DELETE_AFTER = "2592000s"  # 30 days: an image neither recent nor a release is deleted
RELEASE_TAG_PREFIX = "v"  # release images (edge-image.yml tags them vX.Y.Z) are kept


class Secrets(Part):
    """The secret only: its value is added by hand (docs/deploy.md), never in code or state.

    Out: `openweather` (its `.id`)."""

    def declare(self) -> None:
        self.openweather = SecretManagerSecret(
            self,
            "openweather",
            secret_id=SECRET_ID,
            replication=SecretManagerSecretReplication(auto=SecretManagerSecretReplicationAuto()),
            **self.placed("weather"),
        )


class Artifacts(Part):
    """The Docker repository of the edge gateway image. Out: `edge` (its `.name`).

    Cleanup: images older than 30 days are deleted, except the KEEP_IMAGES most recent and
    every release (a tag starting with `v`): Artifact Registry applies KEEP over DELETE.
    """

    def declare(self) -> None:
        self.edge = ArtifactRegistryRepository(
            self,
            "edge",
            location=self.env.region,
            repository_id=EDGE_REPOSITORY,
            format="DOCKER",
            description="The edge gateway image (edge/Dockerfile), amd64 and arm64.",
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="keep-recent",
                    action="KEEP",
                    most_recent_versions=(
                        ArtifactRegistryRepositoryCleanupPoliciesMostRecentVersions(
                            keep_count=KEEP_IMAGES
                        )
                    ),
                ),
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="keep-releases",
                    action="KEEP",
                    condition=ArtifactRegistryRepositoryCleanupPoliciesCondition(
                        tag_state="TAGGED", tag_prefixes=[RELEASE_TAG_PREFIX]
                    ),
                ),
                ArtifactRegistryRepositoryCleanupPolicies(
                    id="delete-old",
                    action="DELETE",
                    condition=ArtifactRegistryRepositoryCleanupPoliciesCondition(
                        tag_state="ANY", older_than=DELETE_AFTER
                    ),
                ),
            ],
            **self.placed("edge"),
        )


class Budget(Part):
    """A monthly budget on the project with alert thresholds, if a billing account is set;
    each threshold crossed also notifies the monitoring `channels` (the `[alerts]` emails).

    Out: `budget` or None."""

    def __init__(
        self, scope: Construct, id_: str, inputs: Inputs, *, channels: Sequence[str] = ()
    ) -> None:
        self.channels = list(channels)
        super().__init__(scope, id_, inputs)

    def declare(self) -> None:
        env = self.env
        self.budget: BillingBudget | None = None
        if env.budget is None or env.budget.billing_account is None:
            return
        self.budget = BillingBudget(
            self,
            "budget",
            billing_account=env.budget.billing_account,
            display_name=f"{env.name_prefix} monthly",
            budget_filter=BillingBudgetBudgetFilter(
                projects=[f"projects/{self.inputs.project_number}"], calendar_period="MONTH"
            ),
            amount=BillingBudgetAmount(
                specified_amount=BillingBudgetAmountSpecifiedAmount(
                    currency_code=env.budget.currency, units=str(env.budget.amount)
                )
            ),
            threshold_rules=[
                BillingBudgetThresholdRules(threshold_percent=t) for t in env.budget.thresholds
            ],
            # The billing account's admins are still emailed; the channels add the on-call.
            all_updates_rule=BillingBudgetAllUpdatesRule(
                monitoring_notification_channels=self.channels
            )
            if self.channels
            else None,
            **self.after_apis(),
        )
