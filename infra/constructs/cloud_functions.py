"""Gen2 Cloud Functions, each from its own bundle stored under its content hash.

Every function: internal ingress only, no unauthenticated invocation (only the invokers
`access.py` names), its own runtime service account, and only its own code and dependency
group (`infra/bundles.py`). The event processor is deployed in ingest mode `function` only,
sized by `infra/sizing.py`; the weekly jobs and the poller run one request at a time.

Callers use `uri(key)`, the Cloud Run service's `run.app` URL: with internal ingress, Pub/Sub
push and Cloud Scheduler count as internal only when they call that URL (the function's
`cloudfunctions.net` URL is treated as external and refused). Every function waits for its
build account's grants (`after`): the first build must not race IAM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cdktn import Annotations, AssetType, ITerraformDependable, TerraformAsset
from cdktn_provider_google.cloudfunctions2_function import (
    Cloudfunctions2Function,
    Cloudfunctions2FunctionBuildConfig,
    Cloudfunctions2FunctionBuildConfigSource,
    Cloudfunctions2FunctionBuildConfigSourceStorageSource,
    Cloudfunctions2FunctionServiceConfig,
)
from cdktn_provider_google.storage_bucket_object import StorageBucketObject
from constructs import Construct

from infra import bundles, sizing
from infra.config import Environment
from infra.constructs import Inputs, labels
from infra.constructs.identities import Identities
from infra.constructs.storage import Storage
from infra.entrypoints import FUNCTIONS, FunctionSpec

# The runtime service account of each function (identities.WORKLOADS).
RUNTIME_ACCOUNT = {
    "event_processor": "ingest",
    "weather": "weather",
    "weekly_score": "scoring",
    "weekly_archive": "archive",
    "fleet_health": "fleet",
    "daily_rollup": "rollup",
}


def deployed(env: Environment) -> list[FunctionSpec]:
    """The functions this environment runs: all but the event processor in mode (b)."""
    return [
        spec
        for spec in FUNCTIONS
        if not (spec.key == "event_processor" and env.ingest_mode == "bigquery_subscription")
    ]


def environment_variables(spec: FunctionSpec, values: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, template in spec.environment:
        value = template.format(**values)
        if value:
            out[name] = value
    return out


def named(env: Environment, spec: FunctionSpec) -> dict[str, Any]:
    """The project and name of a function's resource: the function, its scheduler job."""
    return {"project": env.project, "name": f"{env.name_prefix}-{spec.resource_name}"}


def template_values(env: Environment) -> dict[str, str]:
    """What fills the `{...}` of the function specs' environment (infra/entrypoints.py)."""
    processor = sizing.processor_size(env)
    return {
        "project": env.project,
        "dataset": env.dataset,
        "data_bucket": env.bucket_name("data"),
        "archive_bucket": env.bucket_name("archive"),
        "weather_locations": env.weather_locations,
        # A topic without a schema (ingest mode `function`) takes the reference format, a
        # JSON array of rows: one event-processor run per message, so batch them. With
        # the BigQuery subscription each message is one row of the topic's Avro schema.
        "rows_per_message": "100" if env.ingest_mode == "function" else "",
        "processor_threads": str(processor.concurrency),
    }


class Functions(Construct):
    """Out: `functions` by key, `uri(key)`, `objects` (the stored bundles), `skipped`."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        inputs: Inputs,
        *,
        storage: Storage,
        identities: Identities,
        bundle_dir: Path,
        after: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, id_)
        env = inputs.env
        values = template_values(env)
        processor = sizing.processor_size(env)
        self.functions: dict[str, Cloudfunctions2Function] = {}
        self.objects: dict[str, StorageBucketObject] = {}
        self.bundles: dict[str, bundles.Bundle] = {}
        self.skipped: list[str] = []
        for spec in deployed(env):
            if spec.pending:
                self.skipped.append(spec.key)
                Annotations.of(self).add_warning(
                    f"{spec.title} not deployed: {spec.module} does not exist yet"
                )
                continue
            bundle = bundles.build_cached(spec)
            self.bundles[spec.key] = bundle
            asset = TerraformAsset(
                self,
                f"{spec.resource_name}-bundle",
                path=str(bundle.write(bundle_dir).resolve()),
                type=AssetType.FILE,
                asset_hash=bundle.sha256,
            )
            stored = StorageBucketObject(
                self,
                f"{spec.resource_name}-source",
                bucket=storage.source.name,
                name=bundle.object_name,
                source=asset.path,
                content_type="application/zip",
            )
            self.objects[spec.key] = stored
            sized = spec.key == "event_processor"
            self.functions[spec.key] = Cloudfunctions2Function(
                self,
                spec.resource_name,
                location=env.region,
                description=f"{spec.title} ({spec.module}::{spec.entry})",
                build_config=Cloudfunctions2FunctionBuildConfig(
                    runtime=bundles.RUNTIME,
                    entry_point=spec.entry,
                    service_account=identities.accounts["build"].id,
                    source=Cloudfunctions2FunctionBuildConfigSource(
                        storage_source=Cloudfunctions2FunctionBuildConfigSourceStorageSource(
                            bucket=storage.source.name, object=stored.name
                        )
                    ),
                ),
                service_config=Cloudfunctions2FunctionServiceConfig(
                    available_memory=processor.memory if sized else spec.memory,
                    available_cpu=str(processor.cpu) if sized else None,
                    max_instance_request_concurrency=processor.concurrency if sized else 1,
                    timeout_seconds=spec.timeout_seconds,
                    min_instance_count=0,
                    # A weekly job runs once at a time; the processor scales with traffic.
                    max_instance_count=processor.max_instances if sized else 1,
                    ingress_settings="ALLOW_INTERNAL_ONLY",
                    all_traffic_on_latest_revision=True,
                    service_account_email=identities.email(RUNTIME_ACCOUNT[spec.key]),
                    environment_variables=environment_variables(spec, values),
                ),
                labels=labels(env, spec.resource_name),
                depends_on=[*inputs.apis, *after],
                **named(env, spec),
            )

    def uri(self, key: str) -> str:
        """The function's Cloud Run `run.app` URL: what push, Scheduler and OIDC use."""
        return self.functions[key].service_config.uri
