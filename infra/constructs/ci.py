"""GitHub Actions: a Workload Identity pool and provider, and what the CI accounts may do.

No key leaves Google: a workflow exchanges its GitHub OIDC token for the account its
subject may impersonate. The provider accepts tokens of the configured repository only.
- `ci-plan`: jobs of pull requests (subject `repo:OWNER/NAME:pull_request`); read-only
  roles and the state (plan runs with -lock=false).
- `ci-deploy`: jobs in the GitHub environment named like this stack (subject
  `repo:OWNER/NAME:environment:<env>`; prod's environment requires an approval); the admin
  roles of the services the stack manages, the state, and acting as the runtime accounts.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable
from cdktn_provider_google.iam_workload_identity_pool import IamWorkloadIdentityPool
from cdktn_provider_google.iam_workload_identity_pool_provider import (
    IamWorkloadIdentityPoolProvider,
    IamWorkloadIdentityPoolProviderOidc,
)
from cdktn_provider_google.project_iam_member import ProjectIamMember
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.config import Environment
from infra.constructs.identities import Identities
from infra.constructs.storage import Storage

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
PLANNER_ROLES = (
    "roles/artifactregistry.reader",
    "roles/bigquery.metadataViewer",
    "roles/browser",
    "roles/cloudfunctions.viewer",
    "roles/cloudscheduler.viewer",
    "roles/iam.securityReviewer",
    "roles/iam.serviceAccountViewer",
    "roles/iam.workloadIdentityPoolViewer",
    "roles/pubsub.viewer",
    "roles/run.viewer",
    "roles/secretmanager.viewer",
    "roles/serviceusage.serviceUsageViewer",
    "roles/storage.bucketViewer",
)
DEPLOYER_ROLES = (
    "roles/artifactregistry.admin",
    "roles/bigquery.admin",
    "roles/cloudfunctions.admin",
    "roles/cloudscheduler.admin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.workloadIdentityPoolAdmin",
    "roles/pubsub.admin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",
    "roles/secretmanager.admin",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/storage.admin",
)
# The accounts the deployer must be able to act as: those functions and jobs run as.
ACTS_AS = ("ingest", "weather", "scoring", "archive", "build", "push",
           "sched-weather", "sched-scoring", "sched-archive")  # fmt: skip


class GitHubCi(Construct):
    """Out: `pool`, `provider` (its `.name` is the workflows' workload_identity_provider)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        project_number: str,
        identities: Identities,
        storage: Storage,
        apis: Sequence[ITerraformDependable],
    ) -> None:
        super().__init__(scope, id_)
        repo = env.github.repository
        self.pool = IamWorkloadIdentityPool(
            self,
            "pool",
            project=env.project,
            workload_identity_pool_id=f"{env.name_prefix}-github",
            display_name=f"{env.name_prefix} GitHub Actions",
            description=f"GitHub Actions of {repo}",
            depends_on=list(apis),
        )
        self.provider = IamWorkloadIdentityPoolProvider(
            self,
            "provider",
            project=env.project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="github",
            display_name="GitHub",
            attribute_mapping={
                "google.subject": "assertion.sub",
                "attribute.repository": "assertion.repository",
                "attribute.ref": "assertion.ref",
            },
            # This repository's pull requests and this environment's jobs, nothing else
            # (another workflow or branch of the repository gets no token here).
            attribute_condition=(
                f'assertion.repository == "{repo}" && '
                f'(assertion.sub == "repo:{repo}:pull_request" || '
                f'assertion.sub == "repo:{repo}:environment:{env.name}")'
            ),
            oidc=IamWorkloadIdentityPoolProviderOidc(issuer_uri=GITHUB_ISSUER),
        )
        principal = (
            f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
            f"workloadIdentityPools/{env.name_prefix}-github/subject/repo:{repo}:"
        )
        plan, deploy = identities.accounts["ci-plan"], identities.accounts["ci-deploy"]
        for key, account, subject in (
            ("plan", plan, "pull_request"),
            ("deploy", deploy, f"environment:{env.name}"),
        ):
            ServiceAccountIamMember(
                self,
                f"{key}-wif",
                service_account_id=account.name,
                role="roles/iam.workloadIdentityUser",
                member=f"{principal}{subject}",
                depends_on=[self.provider],
            )
        for key, account, roles, state_role in (
            ("plan", plan, PLANNER_ROLES, "roles/storage.objectViewer"),
            ("deploy", deploy, DEPLOYER_ROLES, "roles/storage.objectUser"),
        ):
            member = f"serviceAccount:{account.email}"
            for role in roles:
                ProjectIamMember(
                    self,
                    f"{key}-{role.removeprefix('roles/').replace('.', '-')}",
                    project=env.project,
                    role=role,
                    member=member,
                )
            # The state bucket exists before the stack (docs/deploy.md); it is not managed here.
            StorageBucketIamMember(
                self, f"{key}-state", bucket=env.state_bucket, role=state_role, member=member
            )
        # Refreshing the bundle objects reads their metadata: that bucket only, no data.
        StorageBucketIamMember(
            self,
            "plan-bundles",
            bucket=storage.source.name,
            role="roles/storage.objectViewer",
            member=f"serviceAccount:{plan.email}",
        )
        for key in ACTS_AS:
            ServiceAccountIamMember(
                self,
                f"deploy-acts-as-{key}",
                service_account_id=identities.accounts[key].name,
                role="roles/iam.serviceAccountUser",
                member=f"serviceAccount:{deploy.email}",
            )
