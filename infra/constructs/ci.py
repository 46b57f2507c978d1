"""GitHub Actions: a Workload Identity pool and provider, and what the CI accounts may do.

No key leaves Google: a workflow exchanges its GitHub OIDC token for the one account its
subject may impersonate. The provider accepts tokens of one repository, identified by its
numeric id and its owner's (a name can be renamed and taken by someone else; an id cannot),
and only these subjects, each bound to one account:

| subject (`repo:OWNER/NAME:...`) | account | from ref |
| --- | --- | --- |
| `pull_request` | `ci-plan`: read-only roles, the state, bundle metadata | any PR |
| `environment:<env>-plan` | `ci-plan` | `deploy_ref` |
| `environment:<env>` | `ci-deploy`: admin roles of the stack's services | `deploy_ref` |
| `environment:<env>-edge` | `edge-push`: writes the edge repository, nothing else | `deploy_ref` |

The ref check is Google's, not only GitHub's environment rule: a job of the dev environment
started from another branch gets no token (`deploy_ref`: `refs/heads/main` for dev, the tags
`refs/tags/v*` for prod). The pool and the provider refuse to be destroyed (`prevent_destroy`):
a destroyed pool stays soft-deleted for 30 days under its id, and CI would lose its way in
(docs/deploy.md says how `make destroy` keeps them and how to recover one).
"""

from __future__ import annotations

from typing import Any

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.artifact_registry_repository_iam_member import (
    ArtifactRegistryRepositoryIamMember,
)
from cdktn_provider_google.iam_workload_identity_pool import IamWorkloadIdentityPool
from cdktn_provider_google.iam_workload_identity_pool_provider import (
    IamWorkloadIdentityPoolProvider,
    IamWorkloadIdentityPoolProviderOidc,
)
from cdktn_provider_google.project_iam_member import ProjectIamMember
from cdktn_provider_google.service_account import ServiceAccount
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket_iam_member import StorageBucketIamMember
from constructs import Construct

from infra.config import Environment
from infra.constructs import Inputs
from infra.constructs.cloud_functions import RUNTIME_ACCOUNT
from infra.constructs.identities import Identities
from infra.constructs.platform import Artifacts
from infra.constructs.storage import Storage
from infra.entrypoints import FUNCTIONS

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
    # The provider bills every call to the project (user_project_override): that needs
    # serviceusage.services.use, which the viewer role lacks.
    "roles/serviceusage.serviceUsageConsumer",
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
# The accounts the deployer must be able to act as: those functions and jobs run as (each
# function's runtime account, each scheduler job's, the build's and the push subscription's).
ACTS_AS = (
    *RUNTIME_ACCOUNT.values(), "build", "push",
    *(f"sched-{spec.schedule}" for spec in FUNCTIONS if spec.schedule),
)  # fmt: skip


def subjects(env: Environment) -> dict[str, str]:
    """Token subject (after `repo:OWNER/NAME:`) -> the one account key it may impersonate."""
    return {
        "pull_request": "ci-plan",
        f"environment:{env.name}-plan": "ci-plan",
        f"environment:{env.name}": "ci-deploy",
        f"environment:{env.name}-edge": "edge-push",
    }


def ref_condition(ref: str) -> str:
    """CEL for `assertion.ref` matching `github.deploy_ref` (a trailing `*`: any suffix)."""
    if ref.endswith("*"):
        return f'assertion.ref.startsWith("{ref.removesuffix("*")}")'
    return f'assertion.ref == "{ref}"'


def attribute_condition(env: Environment) -> str:
    """The provider's condition: this repository by id, and one of `subjects(env)`."""
    github, repo = env.github, env.github.repository
    environments = ", ".join(
        f'"repo:{repo}:{s}"' for s in subjects(env) if s.startswith("environment:")
    )
    return (
        f'assertion.repository_id == "{github.repository_id}" && '
        f'assertion.repository_owner_id == "{github.owner_id}" && '
        f'(assertion.sub == "repo:{repo}:pull_request" || '
        f"(assertion.sub in [{environments}] && {ref_condition(github.deploy_ref)}))"
    )


class GitHubCi(Construct):
    """Out: `pool`, `provider` (its `.name` is the workflows' workload_identity_provider)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        inputs: Inputs,
        *,
        identities: Identities,
        storage: Storage,
        artifacts: Artifacts,
    ) -> None:
        super().__init__(scope, id_)
        env = inputs.env
        repo = env.github.repository
        keep = TerraformResourceLifecycle(prevent_destroy=True)
        self.pool = IamWorkloadIdentityPool(
            self,
            "pool",
            project=env.project,
            workload_identity_pool_id=f"{env.name_prefix}-github",
            display_name=f"{env.name_prefix} GitHub Actions",
            description=f"GitHub Actions of {repo}",
            depends_on=list(inputs.apis),
            lifecycle=keep,
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
                "attribute.repository_id": "assertion.repository_id",
                "attribute.repository_owner_id": "assertion.repository_owner_id",
                "attribute.ref": "assertion.ref",
            },
            attribute_condition=attribute_condition(env),
            oidc=IamWorkloadIdentityPoolProviderOidc(issuer_uri=GITHUB_ISSUER),
            lifecycle=keep,
        )
        self._bind_subjects(env, inputs.project_number, identities)
        self._grant_roles(env, identities, storage, artifacts)

    def _bind_subjects(self, env: Environment, project_number: str, identities: Identities) -> None:
        """Each subject of `subjects(env)` may impersonate its one account."""
        repo = env.github.repository
        principal = (
            f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
            f"workloadIdentityPools/{env.name_prefix}-github/subject/repo:{repo}:"
        )
        for subject, key in subjects(env).items():
            self._on_account(
                f"wif-{subject.replace(':', '-')}", identities.accounts[key],
                "roles/iam.workloadIdentityUser", f"{principal}{subject}",
                depends_on=[self.provider],
            )  # fmt: skip

    def _grant_roles(
        self, env: Environment, identities: Identities, storage: Storage, artifacts: Artifacts
    ) -> None:
        """What the CI accounts may do: project roles, the state, acting as, the edge image."""
        plan, deploy = identities.accounts["ci-plan"], identities.accounts["ci-deploy"]
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
            self._on_account(
                f"deploy-acts-as-{key}", identities.accounts[key], "roles/iam.serviceAccountUser",
                f"serviceAccount:{deploy.email}",
            )  # fmt: skip
        # The edge image job may push to the edge repository of this project and do nothing
        # else: a compromised build step cannot reach the deployer's roles.
        ArtifactRegistryRepositoryIamMember(
            self,
            "edge-push-writer",
            project=env.project,
            location=env.region,
            repository=artifacts.edge.name,
            role="roles/artifactregistry.writer",
            member=identities.member("edge-push"),
        )

    def _on_account(
        self, id_: str, account: ServiceAccount, role: str, member: str, **more: Any
    ) -> ServiceAccountIamMember:
        """`member` gets `role` on `account`: to impersonate it, or to act as it."""
        return ServiceAccountIamMember(
            self, id_, service_account_id=account.name, role=role, member=member, **more
        )
