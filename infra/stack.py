"""One stack per environment, composed of the constructs in dependency order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdktn import App, GcsBackend, TerraformOutput, TerraformStack
from cdktn_provider_google.data_google_project import DataGoogleProject
from cdktn_provider_google.provider import GoogleProvider
from constructs import Construct

from infra.config import Environment
from infra.constructs import Inputs
from infra.constructs.access import Access, Grant, stack_grants
from infra.constructs.apis import Apis
from infra.constructs.audit import AuditLogs
from infra.constructs.ci import GitHubCi
from infra.constructs.cloud_functions import Functions
from infra.constructs.identities import Identities
from infra.constructs.ingest import Ingest
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.constructs.platform import Artifacts, Budget, Secrets
from infra.constructs.scheduler import Scheduler
from infra.constructs.storage import Storage
from infra.constructs.warehouse import Warehouse
from schemas import Registry, registry

PROVIDER_VERSION_NOTE = "google provider 8.x, bound by cdktn-provider-google"


class LivabilityStack(TerraformStack):
    """Every resource of one environment; the stack (and its state) is named after it."""

    def __init__(
        self,
        scope: Construct,
        env: Environment,
        *,
        schemas: Registry | None = None,
        bundle_dir: Path,
    ) -> None:
        super().__init__(scope, env.name)
        self.env = env
        contract = schemas or registry()
        self._provider(env)
        project = DataGoogleProject(self, "project", project_id=env.project)
        number = project.number

        apis = Apis(self, "apis", env).enabled
        inputs = Inputs(env=env, project_number=number, registry=contract, apis=apis)
        self.identities = Identities(self, "identities", inputs)
        self.storage = Storage(self, "storage", inputs)
        self.warehouse = Warehouse(self, "warehouse", inputs)
        self.messaging = Messaging(self, "messaging", inputs)
        self.secrets = Secrets(self, "secrets", inputs)
        self.artifacts = Artifacts(self, "artifacts", inputs)
        self.audit = AuditLogs(self, "audit", inputs)
        # The security model; the grants that others wait for come first.
        self.grants = stack_grants(env)

        def access(id_: str, rows: list[Grant], **later: Any) -> Access:
            return Access(
                self, id_, env, rows, project_number=number, identities=self.identities,
                storage=self.storage, warehouse=self.warehouse, messaging=self.messaging,
                secrets=self.secrets, artifacts=self.artifacts, **later,
            )  # fmt: skip

        self.prerequisites = access("prerequisites", [g for g in self.grants if g.before])
        self.functions = Functions(
            self,
            "functions",
            inputs,
            storage=self.storage,
            identities=self.identities,
            bundle_dir=bundle_dir,
            after=[m for _, m in self.prerequisites.waited_by("functions")],
        )
        self.ingest = Ingest(
            self,
            "ingest",
            env=env,
            messaging=self.messaging,
            functions=self.functions,
            identities=self.identities,
            warehouse=self.warehouse,
            table_grants={g.target: m for g, m in self.prerequisites.waited_by("ingest")},
        )
        self.scheduler = Scheduler(self, "scheduler", env, self.functions, self.identities)
        self.access = access(
            "access",
            [g for g in self.grants if not g.before],
            functions=self.functions,
            ingest=self.ingest,
        )
        self.ci = GitHubCi(
            self, "ci", inputs, identities=self.identities, storage=self.storage,
            artifacts=self.artifacts,
        )  # fmt: skip
        self.monitoring = Monitoring(self, "monitoring", inputs)
        self.budget = Budget(self, "budget", inputs, channels=self.monitoring.channels)

        self._outputs(env)

    def _provider(self, env: Environment) -> None:
        # Every call is billed to (and quota-checked on) the project, whatever the
        # credentials: user credentials (a first deploy) have no project of their own, and
        # the billing budget API refuses a call without one.
        GoogleProvider(
            self,
            "google",
            project=env.project,
            region=env.region,
            user_project_override=True,
            billing_project=env.project,
        )
        # One state per environment, in a bucket made once by hand (docs/deploy.md).
        GcsBackend(self, bucket=env.state_bucket, prefix=f"livability/{env.name}")

    def _outputs(self, env: Environment) -> None:
        # What the workflows and docs/deploy.md need after a deploy.
        TerraformOutput(self, "workload_identity_provider", value=self.ci.provider.name)
        TerraformOutput(self, "ci_plan_account", value=self.identities.email("ci-plan"))
        TerraformOutput(self, "ci_deploy_account", value=self.identities.email("ci-deploy"))
        TerraformOutput(self, "edge_push_account", value=self.identities.email("edge-push"))
        TerraformOutput(
            self,
            "edge_image_repository",
            value=f"{env.region}-docker.pkg.dev/{env.project}/{self.artifacts.edge.repository_id}",
        )
        TerraformOutput(
            self,
            "device_accounts",
            value={name: sa.email for name, sa in self.identities.devices.items()},
        )


def build_app(
    environments: list[Environment],
    outdir: Path,
    *,
    schemas: Registry | None = None,
) -> tuple[App, dict[str, LivabilityStack]]:
    """An App with one stack per environment, writing to `outdir` (not synthesized yet)."""
    app = App(outdir=str(outdir))
    bundle_dir = outdir / "bundles"
    stacks = {
        env.name: LivabilityStack(app, env, schemas=schemas, bundle_dir=bundle_dir)
        for env in environments
    }
    return app, stacks
