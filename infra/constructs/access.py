"""Who may do what: every IAM grant of the workloads, each on the one resource it needs.

`grants()` is the security model as data (docs/deploy.md shows it as a table); the
construct declares one IAM member resource per row. No workload gets a project-wide
editor role; the only project-level grants are BigQuery's `jobUser` (queries and load jobs
are billed to the project, so BigQuery checks it there) and the build account's log writer,
image writer (the image repository is created by Cloud Functions, not by this stack) and
object admin limited by a condition to the bucket Cloud Functions copies sources into.

Some grants must exist before the resource that uses them is created (`Grant.before`): the
build account's, before any function builds; the Pub/Sub service agent's on a table, before
a BigQuery subscription to it. The stack declares those in a first `Access` that the
functions and subscriptions depend on, the rest after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cdktn_provider_google.artifact_registry_repository_iam_member import (
    ArtifactRegistryRepositoryIamMember,
)
from cdktn_provider_google.bigquery_dataset_iam_member import BigqueryDatasetIamMember
from cdktn_provider_google.bigquery_table_iam_member import BigqueryTableIamMember
from cdktn_provider_google.cloud_run_v2_service_iam_member import CloudRunV2ServiceIamMember
from cdktn_provider_google.project_iam_member import (
    ProjectIamMember,
    ProjectIamMemberCondition,
)
from cdktn_provider_google.pubsub_subscription_iam_member import PubsubSubscriptionIamMember
from cdktn_provider_google.pubsub_topic_iam_member import PubsubTopicIamMember
from cdktn_provider_google.secret_manager_secret_iam_member import (
    SecretManagerSecretIamMember,
)
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from cdktn_provider_google.storage_bucket_iam_member import (
    StorageBucketIamMember,
    StorageBucketIamMemberCondition,
)
from constructs import Construct

from infra.config import Environment
from infra.constructs.cloud_functions import Functions, deployed
from infra.constructs.identities import Identities
from infra.constructs.ingest import Ingest
from infra.constructs.messaging import TOPICS, Messaging
from infra.constructs.platform import Artifacts, Secrets
from infra.constructs.storage import Storage
from infra.constructs.warehouse import Warehouse
from infra.entrypoints import FUNCTIONS

Kind = Literal[
    "project", "dataset", "table", "topic", "subscription", "bucket", "secret", "function",
    "service_account", "repository",
]  # fmt: skip


DEAD_LETTER = "dead_letter"  # the target naming the dead-letter topic
# The bucket Cloud Functions (2nd gen) copies a function's source into, which its build reads
# and writes: created by Cloud Functions on the first deploy, so granted by condition.
GCF_SOURCES = "gcf-v2-sources-{number}-{region}"
Phase = Literal["functions", "ingest"]


@dataclass(frozen=True)
class Grant:
    """`member` gets `role` on the resource `kind`/`target` (a key into the construct)."""

    who: str  # a workload key, `device:<group>`, or a literal member
    role: str
    kind: Kind
    target: str
    why: str
    prefix: str | None = None  # bucket grants: only objects under this prefix
    bucket: str | None = None  # project grants of a storage role: only this bucket (template)

    @property
    def before(self) -> Phase | None:
        """What must wait for this grant: the functions' builds, or the subscriptions."""
        if self.who == "build":
            return "functions"
        if self.who == "pubsub-agent" and self.kind == "table":
            return "ingest"
        return None


def _query_job(
    who: str,
    dataset_role: str,
    bucket: str,
    *,
    prefix: str | None = None,
    why: tuple[str, str, str],
) -> list[Grant]:
    """The three grants of a job that queries the dataset and writes objects to one bucket:
    `dataset_role` on the dataset, BigQuery's jobUser on the project (queries are billed
    there), objectUser on `bucket` (under `prefix`, if given); `why`: each one's reason."""
    reads, queries, writes = why
    return [
        Grant(who, dataset_role, "dataset", "dataset", reads),
        Grant(who, "roles/bigquery.jobUser", "project", "project", queries),
        Grant(who, "roles/storage.objectUser", "bucket", bucket, writes, prefix=prefix),
    ]  # fmt: skip


def grants(env: Environment, *, processor: bool, subscriptions: tuple[str, ...]) -> list[Grant]:
    """The grants of `env`; `processor`: the event processor is deployed (mode `function`)."""
    out: list[Grant] = []
    if processor:
        out += [
            Grant("ingest", "roles/bigquery.dataEditor", "dataset", "dataset",
                  "stream rows and dead letters into the tables"),
            Grant("ingest", "roles/storage.objectUser", "bucket", "data",
                  "keep a dead letter's whole payload over 1 MB", prefix="dead-letters/"),
            Grant("push", "roles/run.invoker", "function", "event_processor",
                  "deliver Pub/Sub messages to the event processor"),
            Grant("pubsub-agent", "roles/iam.serviceAccountTokenCreator", "service_account",
                  "push", "sign the push OIDC token as the push account"),
        ]  # fmt: skip
    out += [
        Grant("weather", "roles/pubsub.publisher", "topic", "meteo_data",
              "publish weather rows"),
        Grant("weather", "roles/secretmanager.secretAccessor", "secret", "openweather",
              "read the OpenWeather API key"),
        *_query_job("weather", "roles/bigquery.dataViewer", "data", prefix="state/weather/",
                    why=("read the homes' locations", "run its location query",
                         "keep the poller's state")),
        *_query_job("scoring", "roles/bigquery.dataEditor", "data", prefix="scores/",
                    why=("read readings, write livability_scores through a staging table",
                         "run the scoring queries and load jobs", "write the score vectors")),
        Grant("scoring", "roles/storage.objectUser", "bucket", "data",
              "write the homes' certificates", prefix="certificates/"),
        *_query_job("archive", "roles/bigquery.dataViewer", "archive",
                    why=("read last week's rows", "run the export queries",
                         "write (and rewrite on a re-run) the weekly export")),
        Grant("fleet", "roles/bigquery.dataViewer", "dataset", "dataset",
              "read the readings and dead letters of the fleet check"),
        Grant("fleet", "roles/bigquery.jobUser", "project", "project",
              "run the fleet query"),
        # No bucket: the rollup reads and writes tables only.
        Grant("rollup", "roles/bigquery.dataEditor", "dataset", "dataset",
              "read the readings, replace a day's rows of sensor_hours"),
        Grant("rollup", "roles/bigquery.jobUser", "project", "project",
              "run the rollup's DELETE and INSERT queries"),
        # Each scheduler job's account may call its one function (scheduler.py).
        *(Grant(f"sched-{spec.schedule}", "roles/run.invoker", "function", spec.key,
                f"call the {spec.title}") for spec in FUNCTIONS if spec.schedule),
        Grant("build", "roles/logging.logWriter", "project", "project",
              "write the build logs"),
        Grant("build", "roles/artifactregistry.writer", "project", "project",
              "push the built function images (Cloud Functions creates that repository)"),
        Grant("build", "roles/storage.objectViewer", "bucket", "functions",
              "read the function bundles"),
        Grant("build", "roles/storage.objectAdmin", "project", "project",
              "read and write the sources Cloud Functions copies for the build",
              bucket=GCF_SOURCES),
        Grant("pubsub-agent", "roles/pubsub.publisher", "topic", DEAD_LETTER,
              "forward undeliverable messages"),
    ]  # fmt: skip
    for topic in subscriptions:
        out.append(
            Grant("pubsub-agent", "roles/pubsub.subscriber", "subscription", topic,
                  "acknowledge what it forwarded to the dead-letter topic")
        )  # fmt: skip
        if env.ingest_mode == "bigquery_subscription":
            out.append(
                Grant("pubsub-agent", "roles/bigquery.dataEditor", "table", topic,
                      "write the subscription's rows to the table")
            )  # fmt: skip
    for group in env.device_groups:
        out += [
            Grant(f"device:{group.name}", "roles/pubsub.publisher", "topic", "sensor_data",
                  "publish its gateways' readings"),
            Grant(f"device:{group.name}", "roles/artifactregistry.reader", "repository", "edge",
                  "pull the gateway image"),
        ]  # fmt: skip
    for member in env.archive_readers:
        out.append(
            Grant(member, "roles/storage.objectViewer", "bucket", "archive",
                  "read the archive (data scientists)")
        )  # fmt: skip
    for member in env.certificate_readers:
        out.append(
            Grant(member, "roles/storage.objectViewer", "bucket", "data",
                  "read the homes' certificates (operators)", prefix="certificates/")
        )  # fmt: skip
    if env.public_archive:
        out.append(
            Grant("allUsers", "roles/storage.objectViewer", "bucket", "archive",
                  "public_archive = true: anyone may read the archive")
        )  # fmt: skip
    return out


def markdown_rows(rows: list[Grant]) -> list[str]:
    """The grants as rows of the security table in docs/deploy.md (a test keeps it in sync)."""
    out = []
    for g in rows:
        on = f"{g.kind} `{g.target}`" + (f" (objects under `{g.prefix}`)" if g.prefix else "")
        if g.bucket:
            on += f" (bucket `{g.bucket.format(number='NUMBER', region='REGION')}` only)"
        out.append(f"| {g.who} | `{g.role}` | {on} | {g.why} |")
    return out


def stack_grants(env: Environment) -> list[Grant]:
    """`grants()` for what `env` deploys: the event processor in ingest mode `function`, a
    subscription per topic where something receives it."""
    functions = {s.key for s in deployed(env) if not s.pending}
    processor = "event_processor" in functions
    subscribed = processor or env.ingest_mode == "bigquery_subscription"
    return [
        g
        for g in grants(env, processor=processor, subscriptions=tuple(TOPICS if subscribed else ()))
        # A grant on a function that is not deployed (yet) has nothing to be on.
        if g.kind != "function" or g.target in functions
    ]


class Access(Construct):
    """Out: `members`, the IAM member resources of `rows` in order; `waited_by(phase)`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        env: Environment,
        rows: list[Grant],
        *,
        project_number: str,
        identities: Identities,
        storage: Storage,
        warehouse: Warehouse,
        messaging: Messaging,
        secrets: Secrets,
        artifacts: Artifacts,
        functions: Functions | None = None,
        ingest: Ingest | None = None,
    ) -> None:
        """`functions` and `ingest`: needed only by rows on a function or a subscription."""
        super().__init__(scope, id_)
        self.env = env
        self.identities = identities
        self.project_number = project_number
        self.pubsub_agent = (
            f"serviceAccount:service-{project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
        )
        self.storage, self.warehouse, self.messaging = storage, warehouse, messaging
        self.secrets, self.artifacts = secrets, artifacts
        self.functions, self.ingest = functions, ingest
        self.rows = rows
        self.members: list[Any] = []
        keys: set[str] = set()
        for grant in self.rows:
            # Stable ids (no position): adding a grant leaves the others' state untouched.
            who = grant.who.split(":")[-1].replace("@", "-at-")
            short = grant.role.removeprefix("roles/")
            key = f"{grant.kind}-{grant.target}-{who}-{short}".replace(".", "-")
            if key in keys and grant.prefix:  # the same role again, on another prefix
                key += "-" + grant.prefix.strip("/").replace("/", "-")
            keys.add(key)
            member = self._member(grant.who)
            if grant.kind in ("project", "dataset", "table", "bucket", "secret"):
                resource = self._on_data(grant, key, member)
            else:
                resource = self._on_service(grant, key, member)
            self.members.append(resource)

    def waited_by(self, phase: Phase) -> list[tuple[Grant, Any]]:
        """(grant, IAM member resource) of each grant `phase` must wait for."""
        return [(g, m) for g, m in zip(self.rows, self.members, strict=True) if g.before == phase]

    def _on_data(self, grant: Grant, key: str, member: str) -> Any:
        """A grant on the project, the dataset, a table, a bucket or the secret."""
        project, role, dataset = self.env.project, grant.role, self.warehouse.dataset.dataset_id
        if grant.kind == "project":
            condition = None
            if grant.bucket:
                bucket = grant.bucket.format(number=self.project_number, region=self.env.region)
                condition = _bucket_condition(bucket, grant.bucket)
            return ProjectIamMember(
                self, key, project=project, role=role, member=member, condition=condition
            )
        if grant.kind == "dataset":
            return BigqueryDatasetIamMember(
                self, key, project=project, dataset_id=dataset, role=role, member=member
            )
        if grant.kind == "table":
            table = self.warehouse.tables[self.messaging.tables[grant.target]]
            return BigqueryTableIamMember(
                self, key, project=project, dataset_id=dataset, table_id=table.table_id,
                role=role, member=member,
            )  # fmt: skip
        if grant.kind == "bucket":
            storage = self.storage
            target = {"archive": storage.archive, "data": storage.data,
                      "functions": storage.source}[grant.target]  # fmt: skip
            return StorageBucketIamMember(
                self, key, bucket=target.name, role=role, member=member,
                condition=_prefix_condition(self.env.bucket_name(grant.target), grant.prefix),
            )  # fmt: skip
        return SecretManagerSecretIamMember(
            self, key, project=project, secret_id=self.secrets.openweather.secret_id,
            role=role, member=member,
        )  # fmt: skip

    def _on_service(self, grant: Grant, key: str, member: str) -> Any:
        """A grant on a topic, a subscription, a function, an account or the repository."""
        project, role, region = self.env.project, grant.role, self.env.region
        if grant.kind == "topic":
            messaging = self.messaging
            topic = (
                messaging.dead_letter
                if grant.target == DEAD_LETTER
                else messaging.topics[grant.target]
            )
            return PubsubTopicIamMember(
                self, key, project=project, topic=topic.name, role=role, member=member
            )
        if grant.kind == "subscription":
            assert self.ingest is not None, "subscription grants need the subscriptions"
            return PubsubSubscriptionIamMember(
                self, key, project=project,
                subscription=self.ingest.subscriptions[grant.target].name,
                role=role, member=member,
            )  # fmt: skip
        if grant.kind == "function":
            assert self.functions is not None, "function grants need the functions"
            function = self.functions.functions[grant.target]
            return CloudRunV2ServiceIamMember(
                self, key, project=project, location=region,
                name=function.service_config.service, role=role, member=member,
            )  # fmt: skip
        if grant.kind == "service_account":
            return ServiceAccountIamMember(
                self, key, service_account_id=self.identities.accounts[grant.target].name,
                role=role, member=member,
            )  # fmt: skip
        return ArtifactRegistryRepositoryIamMember(  # repository
            self, key, project=project, location=region,
            repository=self.artifacts.edge.name, role=role, member=member,
        )  # fmt: skip

    def _member(self, who: str) -> str:
        if who == "pubsub-agent":
            return self.pubsub_agent
        if who.startswith("device:"):
            return f"serviceAccount:{self.identities.devices[who.removeprefix('device:')].email}"
        if who in self.identities.accounts:
            return self.identities.member(who)
        return who  # a literal member: group:..., user:..., allUsers


def _bucket_condition(bucket: str, template: str) -> ProjectIamMemberCondition:
    """One bucket and its objects only, for a storage role granted on the project."""
    return ProjectIamMemberCondition(
        title=f"only {template.format(number='n', region='r')}"[:100],
        description=f"Objects of gs://{bucket} and the bucket itself.",
        expression=(
            f'resource.name.startsWith("projects/_/buckets/{bucket}/") '
            f'|| resource.name == "projects/_/buckets/{bucket}"'
        ),
    )


def _prefix_condition(bucket: str, prefix: str | None) -> StorageBucketIamMemberCondition | None:
    """Objects under `prefix` only; listing is checked on the bucket, so it stays allowed."""
    if prefix is None:
        return None
    return StorageBucketIamMemberCondition(
        title=f"only {prefix}",
        description=f"Objects under gs://{bucket}/{prefix}, and listing the bucket.",
        expression=(
            'resource.type == "storage.googleapis.com/Bucket" || '
            f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}")'
        ),
    )
