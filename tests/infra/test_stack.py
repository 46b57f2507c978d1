"""The synthesized stacks: every resource that matters, its properties and the counts per type.

Runs against: the real cdktn synth of infra/environments/dev.toml and prod.toml (and two
variants of dev), read back as the Terraform JSON that `terraform plan` would get. Property
checks use cdktn's `Testing.to_have_resource_with_properties` where a resource is found by
its properties, and plain JSON where a reference between resources is checked.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from importlib import import_module
from typing import Any

import pytest
from cdktn import Testing as CdkTesting

from infra.constructs.apis import BUDGET_SERVICE, SERVICES
from infra.constructs.audit import AUDITED
from infra.constructs.ci import ACTS_AS, DEPLOYER_ROLES, PLANNER_ROLES, subjects
from infra.constructs.cloud_functions import deployed
from infra.constructs.identities import WORKLOADS
from infra.constructs.messaging import TOPICS
from infra.constructs.monitoring_rules import log_metrics, policies
from infra.entrypoints import FUNCTIONS
from schemas import registry
from schemas.topic import avro_schema_json
from tests.infra.synth import Synth

IAM_TYPES = {
    "project": "google_project_iam_member",
    "dataset": "google_bigquery_dataset_iam_member",
    "table": "google_bigquery_table_iam_member",
    "topic": "google_pubsub_topic_iam_member",
    "subscription": "google_pubsub_subscription_iam_member",
    "bucket": "google_storage_bucket_iam_member",
    "secret": "google_secret_manager_secret_iam_member",
    "function": "google_cloud_run_v2_service_iam_member",
    "service_account": "google_service_account_iam_member",
    "repository": "google_artifact_registry_repository_iam_member",
}


def has(synth: Synth, type_: str, properties: dict[str, Any]) -> None:
    assert CdkTesting.to_have_resource_with_properties(synth.text, type_, properties), (
        f"{synth.env.name}: expected a {type_} with {properties}"
    )


def expected_counts(synth: Synth) -> Counter[str]:
    env = synth.env
    alerts = env.alerts
    functions = [s for s in deployed(env) if not s.pending]
    processor = any(s.key == "event_processor" for s in functions)
    subscriptions = len(TOPICS) if env.ingest_mode == "bigquery_subscription" or processor else 0
    counts: Counter[str] = Counter(
        {
            "google_project_service": len(SERVICES) + (1 if env.billing_account else 0),
            "google_service_account": len(WORKLOADS) + len(env.device_groups),
            "google_storage_bucket": 3,
            "google_storage_bucket_object": len(functions),
            "google_cloudfunctions2_function": len(functions),
            "google_cloud_scheduler_job": sum(1 for s in functions if s.schedule),
            "google_bigquery_dataset": 1,
            "google_bigquery_table": 2 * len(list(registry())),  # a table and its view
            "google_pubsub_topic": len(TOPICS) + 1,  # + the dead-letter topic
            "google_pubsub_schema": len(TOPICS),
            "google_pubsub_subscription": subscriptions + 1,  # + the dead-letter hold
            "google_secret_manager_secret": 1,
            "google_artifact_registry_repository": 1,
            "google_iam_workload_identity_pool": 1,
            "google_iam_workload_identity_pool_provider": 1,
            "google_billing_budget": 1 if env.billing_account else 0,
            "google_project_iam_audit_config": len(AUDITED),
            # Monitoring: a channel per address, every log metric, the policies of the
            # environment (none without [alerts]), one dashboard.
            "google_monitoring_notification_channel": len(alerts.emails) if alerts else 0,
            "google_logging_metric": len(log_metrics(env)),
            "google_monitoring_alert_policy": len(policies(env)) if alerts else 0,
            "google_monitoring_dashboard": 1,
        }
    )
    # One IAM member per row of the security model, plus the CI accounts' grants.
    for grant in synth.stack.grants:
        counts[IAM_TYPES[grant.kind]] += 1
    counts["google_project_iam_member"] += len(PLANNER_ROLES) + len(DEPLOYER_ROLES)
    # WIF users (one per subject), the deployer acting as the runtime accounts.
    counts["google_service_account_iam_member"] += len(subjects(env)) + len(ACTS_AS)
    counts["google_storage_bucket_iam_member"] += 3  # state x2, bundles for the planner
    counts["google_artifact_registry_repository_iam_member"] += 1  # the edge image pusher
    return +counts  # drop zeros


def test_resource_counts_per_type(synth: Synth) -> None:
    found = Counter({t: len(r) for t, r in synth.json["resource"].items()})
    expected = expected_counts(synth)
    wrong = {
        t: f"expected {expected[t]}, found {found[t]}"
        for t in sorted(set(found) | set(expected))
        if found[t] != expected[t]
    }
    assert not wrong, f"{synth.env.name}: resource counts differ: {wrong}"


def test_remote_state_per_environment(synth: Synth) -> None:
    backend = synth.json["terraform"]["backend"]
    assert backend == {
        "gcs": {"bucket": synth.env.state_bucket, "prefix": f"livability/{synth.env.name}"}
    }
    assert synth.json["provider"]["google"] == [
        {
            "project": synth.env.project,
            "region": synth.env.region,
            "user_project_override": True,
            "billing_project": synth.env.project,
        }
    ]


CONFIG_LABELS = ("google_monitoring_notification_channel",)


def _accepts_labels(type_: str) -> bool:
    module = import_module(f"cdktn_provider_google.{type_.removeprefix('google_')}")
    classes = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if getattr(c, "TF_RESOURCE_TYPE", None) == type_
    ]
    assert classes, f"no cdktn class for {type_}"
    return "labels" in inspect.signature(classes[0].__init__).parameters


def test_labels_on_everything_that_takes_labels(synth: Synth) -> None:
    missing = []
    checked = 0
    for type_, resources in synth.json["resource"].items():
        if not _accepts_labels(type_):
            continue
        for key, resource in resources.items():
            checked += 1
            # A notification channel's `labels` configure it (the email address); its own
            # labels are `user_labels`.
            labels = resource.get("user_labels" if type_ in CONFIG_LABELS else "labels", {})
            if labels.get("env") != synth.env.name or not labels.get("component"):
                missing.append(f"{type_}.{key}: {labels}")
    assert checked > 20, f"only {checked} labelled resources: the check found too little"
    assert not missing, f"expected labels env={synth.env.name} and a component on: {missing}"


def test_apis_enabled_and_left_on_destroy(synth: Synth) -> None:
    services = {r["service"]: r for r in synth.resources("google_project_service").values()}
    expected = set(SERVICES) | ({BUDGET_SERVICE} if synth.env.billing_account else set())
    assert set(services) == expected
    assert all(r["disable_on_destroy"] is False for r in services.values())


# --- warehouse ---


def test_every_table_schema_equals_its_file(synth: Synth) -> None:
    for table in registry():
        resource = synth.one("google_bigquery_table", table_id=table.name)
        file = json.loads((registry().directory / f"{table.name}.json").read_text())
        assert json.loads(resource["schema"]) == file, f"{table.name}: schema differs from file"


def test_tables_partitioned_and_clustered_as_tables_toml_says(synth: Synth) -> None:
    for table in registry():
        # The environment's expiry, or fewer days where the table says so (the rollup: 35).
        days = min(synth.env.partition_expiration_days, table.expire_days or 10**9)
        expected: dict[str, Any] = {
            "table_id": table.name,
            "deletion_protection": synth.env.deletion_protection,
            "labels": {"env": synth.env.name, "component": "warehouse"},
        }
        if table.partition:
            expected["time_partitioning"] = {
                "type": "DAY",
                "field": table.partition,
                "expiration_ms": days * 24 * 3600 * 1000,
            }
            expected["require_partition_filter"] = True
        if table.cluster:
            expected["clustering"] = list(table.cluster)
        has(synth, "google_bigquery_table", expected)
    rollup = synth.one("google_bigquery_table", table_id="sensor_hours")
    assert rollup["time_partitioning"]["expiration_ms"] == 35 * 24 * 3600 * 1000


def test_prod_protects_its_tables_and_dev_does_not(synthesized: dict[str, Synth]) -> None:
    for name, protected in (("prod", True), ("dev", False)):
        tables = [
            t for t in synthesized[name].resources("google_bigquery_table").values()
            if "view" not in t
        ]  # fmt: skip
        assert len(tables) == len(list(registry())), name
        assert {t["deletion_protection"] for t in tables} == {protected}, name
        assert {t["lifecycle"]["prevent_destroy"] for t in tables} == {protected}, name
    dataset = synthesized["prod"].one("google_bigquery_dataset", dataset_id="sensor_data")
    assert dataset["delete_contents_on_destroy"] is False


def test_dedup_views_use_the_adapters_sql(synth: Synth) -> None:
    from livability.adapters.bigquery import BigQueryWarehouse

    # The adapter as `livability init` runs it against BigQuery (no client until first call).
    adapter = BigQueryWarehouse(synth.env.project, synth.env.dataset, registry())
    for table in registry():
        view = synth.one("google_bigquery_table", table_id=f"{table.name}_dedup")
        assert view["view"] == {"query": adapter._dedup_sql(table), "use_legacy_sql": False}
        source = synth.ref("google_bigquery_table", table_id=table.name).removeprefix("${")
        assert view["depends_on"] == [source]
        assert view["lifecycle"] == {"replace_triggered_by": [f"{source}.schema"]}
        assert "WHERE" not in view["view"]["query"], "the emulator-only filter leaked"


# --- messaging and ingest ---


def test_topic_schemas_come_from_the_generator(synth: Synth) -> None:
    for topic, table in TOPICS.items():
        schema = synth.one("google_pubsub_schema", name=f"{table}_v{registry()[table].version}")
        assert schema["type"] == "AVRO"
        assert schema["definition"] == avro_schema_json(registry()[table]), topic
        topic_resource = synth.one("google_pubsub_topic", name=topic)
        # Mode function: the reference format (a JSON array) is published, no schema attached.
        assert "schema_settings" not in topic_resource


def test_push_subscriptions_retry_and_dead_letter(synth: Synth) -> None:
    processor = synth.ref(
        "google_cloudfunctions2_function", name=f"{synth.env.name_prefix}-event-processor"
    )
    uri = processor + ".service_config[0].uri}"
    dead_letter = synth.ref("google_pubsub_topic", name="ingest_dead_letter")
    push = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-push")
    for topic in TOPICS:
        sub = synth.one("google_pubsub_subscription", name=f"{topic}_to_processor")
        assert sub["topic"] == synth.ref("google_pubsub_topic", name=topic) + ".id}"
        assert sub["push_config"] == {
            "push_endpoint": uri,
            "oidc_token": {"service_account_email": push + ".email}", "audience": uri},
        }
        assert sub["retry_policy"] == {"minimum_backoff": "10s", "maximum_backoff": "600s"}
        assert sub["dead_letter_policy"] == {
            "dead_letter_topic": dead_letter + ".id}",
            "max_delivery_attempts": 10,
        }
        assert sub["ack_deadline_seconds"] > 60, "ack deadline must exceed the function timeout"


def test_bigquery_subscription_mode_replaces_the_processor(synthesized: dict[str, Synth]) -> None:
    synth = synthesized["dev-bqsub"]
    names = {f["name"] for f in synth.resources("google_cloudfunctions2_function").values()}
    assert f"{synth.env.name_prefix}-event-processor" not in names
    for topic, table in TOPICS.items():
        schema = synth.ref("google_pubsub_schema", name=f"{table}_v{registry()[table].version}")
        has(
            synth,
            "google_pubsub_topic",
            {"name": topic, "schema_settings": {"schema": schema + ".id}", "encoding": "JSON"}},
        )
        sub = synth.one("google_pubsub_subscription", name=f"{topic}_to_bigquery")
        ref = synth.ref("google_bigquery_table", table_id=table)
        assert sub["bigquery_config"] == {
            "table": f"{ref}.project}}.{ref}.dataset_id}}.{ref}.table_id}}",
            "use_topic_schema": True,
            "write_metadata": False,
            "drop_unknown_fields": False,
        }
        assert "push_config" not in sub
        assert sub["dead_letter_policy"]["max_delivery_attempts"] == 10
    # The Pub/Sub service agent may write those two tables, and no other.
    table_grants = synth.resources("google_bigquery_table_iam_member").values()
    assert {g["role"] for g in table_grants} == {"roles/bigquery.dataEditor"}
    assert len(table_grants) == len(TOPICS)
    assert all("gcp-sa-pubsub" in g["member"] for g in table_grants)


# --- functions ---


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.key)
def test_function_deployed_from_its_bundle(synth: Synth, spec: Any) -> None:
    if spec.pending:
        pytest.skip(f"{spec.module} ({spec.title}) has not landed yet")
    name = f"{synth.env.name_prefix}-{spec.resource_name}"
    function = synth.one("google_cloudfunctions2_function", name=name)
    bundle = synth.stack.functions.bundles[spec.key]
    stored = synth.one(
        "google_storage_bucket_object", name=f"functions/{spec.key}/{bundle.sha256}.zip"
    )
    assert (synth.path / stored["source"]).read_bytes() == bundle.zip_bytes
    build = function["build_config"]
    assert build["runtime"] == "python313"
    assert build["entry_point"] == spec.entry
    object_ref = synth.ref("google_storage_bucket_object", name=stored["name"])
    assert build["source"]["storage_source"]["object"] == object_ref + ".name}"
    service = function["service_config"]
    assert service["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert service["min_instance_count"] == 0
    assert service["timeout_seconds"] == spec.timeout_seconds
    env_names = {n for n, value in spec.environment if value.format(**_values(synth)) != ""}
    assert set(service["environment_variables"]) == env_names
    assert service["environment_variables"]["LIVABILITY_WAREHOUSE"] == (
        f"bigquery://{synth.env.project}/{synth.env.dataset}"
    )


def _values(synth: Synth) -> dict[str, str]:
    from infra.constructs.cloud_functions import template_values

    return template_values(synth.env)


def test_publishers_batch_rows_only_where_no_topic_schema_refuses_arrays(
    synthesized: dict[str, Synth],
) -> None:
    """Mode `function`: the poller sends 100 rows a message (one event-processor run each);
    with the BigQuery subscription each message must be one row of the topic's Avro schema."""
    for name, expected in (("dev", "100"), ("dev-bqsub", None)):
        synth = synthesized[name]
        weather = synth.one(
            "google_cloudfunctions2_function", name=f"{synth.env.name_prefix}-weather"
        )
        variables = weather["service_config"]["environment_variables"]
        assert variables.get("LIVABILITY_ROWS_PER_MESSAGE") == expected, name


def test_each_function_runs_as_its_own_account(synth: Synth) -> None:
    accounts = [
        f["service_config"]["service_account_email"]
        for f in synth.resources("google_cloudfunctions2_function").values()
    ]
    assert len(set(accounts)) == len(accounts), f"functions share an account: {accounts}"


def test_only_named_invokers_and_no_public_invocation(synth: Synth) -> None:
    invokers = synth.resources("google_cloud_run_v2_service_iam_member").values()
    assert {i["role"] for i in invokers} == {"roles/run.invoker"}
    members = sorted(i["member"] for i in invokers)
    assert all("allUsers" not in m and "allAuthenticatedUsers" not in m for m in members)
    assert len(set(members)) == len(members), "each invoker may call exactly one function"


def test_scheduler_jobs_call_with_their_own_account(synth: Synth) -> None:
    jobs = synth.resources("google_cloud_scheduler_job").values()
    senders = [j["http_target"]["oidc_token"]["service_account_email"] for j in jobs]
    assert len(set(senders)) == len(senders)
    for spec in FUNCTIONS:
        if spec.schedule is None or spec.pending:
            continue
        job = synth.one(
            "google_cloud_scheduler_job", name=f"{synth.env.name_prefix}-{spec.resource_name}"
        )
        assert job["schedule"] == getattr(synth.env.schedules, spec.schedule)
        assert job["time_zone"] == synth.env.schedules.time_zone
        assert job["http_target"]["http_method"] == "POST"
        assert job["http_target"]["oidc_token"]["service_account_email"] == (
            synth.ref(
                "google_service_account",
                account_id=f"{synth.env.name_prefix}-sched-{spec.schedule}",
            )
            + ".email}"
        )


# --- storage ---


def test_buckets(synth: Synth) -> None:
    env = synth.env
    has(synth, "google_storage_bucket", {
        "name": env.bucket_name("archive"), "storage_class": "COLDLINE",
        "uniform_bucket_level_access": True, "public_access_prevention": "enforced",
        "location": env.location,
    })  # fmt: skip
    archive = synth.one("google_storage_bucket", name=env.bucket_name("archive"))
    actions = [r["action"]["type"] for r in archive["lifecycle_rule"]]
    assert "SetStorageClass" in actions, actions
    assert "Delete" in actions, actions
    for purpose in ("functions", "data"):
        has(synth, "google_storage_bucket", {
            "name": env.bucket_name(purpose), "storage_class": "STANDARD",
            "uniform_bucket_level_access": True, "public_access_prevention": "enforced",
        })  # fmt: skip


def _public_bindings(synth: Synth) -> list[str]:
    found = []
    for type_, resources in synth.json["resource"].items():
        for key, resource in resources.items():
            text = json.dumps(resource)
            if "allUsers" in text or "allAuthenticatedUsers" in text:
                found.append(f"{type_}.{key}")
    return found


def test_nothing_public_unless_public_archive(synthesized: dict[str, Synth]) -> None:
    for name in ("dev", "prod", "dev-bqsub"):
        assert _public_bindings(synthesized[name]) == [], name
    public = synthesized["dev-public"]
    bindings = _public_bindings(public)
    assert len(bindings) == 1, bindings
    binding = public.one("google_storage_bucket_iam_member", member="allUsers")
    assert binding["role"] == "roles/storage.objectViewer"
    assert (
        binding["bucket"]
        == public.ref("google_storage_bucket", name=public.env.bucket_name("archive")) + ".name}"
    )
    archive = public.one("google_storage_bucket", name=public.env.bucket_name("archive"))
    assert archive["public_access_prevention"] == "inherited"


def test_archive_readers_get_object_viewer_on_the_archive_only(synth: Synth) -> None:
    for member in synth.env.archive_readers:
        grants = [
            g
            for g in synth.resources("google_storage_bucket_iam_member").values()
            if g["member"] == member
        ]
        archive = (
            synth.ref("google_storage_bucket", name=synth.env.bucket_name("archive")) + ".name}"
        )
        assert [(g["bucket"], g["role"]) for g in grants] == [
            (archive, "roles/storage.objectViewer")
        ]
        assert all(
            member not in json.dumps(r)
            for t, rs in synth.json["resource"].items()
            if t != "google_storage_bucket_iam_member"
            for r in rs.values()
        )


def test_prefix_conditions_narrow_the_data_bucket(synth: Synth) -> None:
    data = synth.env.bucket_name("data")
    for account, prefixes in (
        ("weather", ["state/weather/"]),
        ("scoring", ["scores/", "certificates/"]),
    ):
        sa = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-{account}")
        grants = [
            g
            for g in synth.resources("google_storage_bucket_iam_member").values()
            if g["member"] == f"serviceAccount:{sa}.email}}"
        ]
        assert [g["role"] for g in grants] == ["roles/storage.objectUser"] * len(prefixes)
        found = sorted(
            prefix
            for prefix in prefixes
            for g in grants
            if f'"projects/_/buckets/{data}/objects/{prefix}"' in g["condition"]["expression"]
        )
        assert found == sorted(prefixes), [g["condition"] for g in grants]


def test_certificate_readers_see_the_certificates_only(synth: Synth) -> None:
    data = synth.ref("google_storage_bucket", name=synth.env.bucket_name("data")) + ".name}"
    assert synth.env.certificate_readers, "the environments name their certificate readers"
    for member in synth.env.certificate_readers:
        grants = [
            g
            for g in synth.resources("google_storage_bucket_iam_member").values()
            if g["member"] == member
        ]
        assert [(g["bucket"], g["role"]) for g in grants] == [(data, "roles/storage.objectViewer")]
        expression = grants[0]["condition"]["expression"]
        name = synth.env.bucket_name("data")
        assert f'resource.name.startsWith("projects/_/buckets/{name}/objects/certificates/")' in (
            expression
        )
        assert "scores/" not in expression


# --- identities and IAM ---


def test_no_project_wide_editor_and_exact_project_roles(synth: Synth) -> None:
    roles = Counter(
        (g["role"], g["member"]) for g in synth.resources("google_project_iam_member").values()
    )
    by_role = Counter(role for role, _ in roles)
    assert not {"roles/editor", "roles/owner", "roles/viewer"} & set(by_role)
    prefix = synth.env.name_prefix
    workloads = {
        (role, member)
        for role, member in roles
        if "ci-plan" not in member and "ci-deploy" not in member
    }
    expected = {
        ("roles/bigquery.jobUser", "weather"),
        ("roles/bigquery.jobUser", "scoring"),
        ("roles/bigquery.jobUser", "archive"),
        ("roles/bigquery.jobUser", "fleet"),
        ("roles/bigquery.jobUser", "rollup"),
        ("roles/logging.logWriter", "build"),
        ("roles/artifactregistry.writer", "build"),
        ("roles/storage.objectAdmin", "build"),  # on Cloud Functions' source bucket only
    }

    def member(key: str) -> str:
        sa = synth.ref("google_service_account", account_id=f"{prefix}-{key}")
        return f"serviceAccount:{sa}.email}}"

    resolved = {(role, member(key)) for role, key in expected}
    message = f"workload project-level roles: expected {sorted(expected)}, found {workloads}"
    assert workloads == resolved, message


def test_the_daily_rollup_runs_daily_as_its_own_account_with_only_its_two_grants(
    synth: Synth,
) -> None:
    """The function, its Scheduler job (OIDC to the run.app URL, before Monday's scoring),
    and its account's grants: dataEditor on the dataset, jobUser on the project, no more."""
    prefix = synth.env.name_prefix

    def member(key: str) -> str:
        sa = synth.ref("google_service_account", account_id=f"{prefix}-{key}")
        return f"serviceAccount:{sa}.email}}"

    function = synth.one("google_cloudfunctions2_function", name=f"{prefix}-daily-rollup")
    assert function["build_config"]["entry_point"] == "daily_rollup"
    service = function["service_config"]
    assert service["service_account_email"] == member("rollup").removeprefix("serviceAccount:")
    assert service["environment_variables"] == {
        "LIVABILITY_WAREHOUSE": f"bigquery://{synth.env.project}/{synth.env.dataset}"
    }
    assert (service["timeout_seconds"], service["ingress_settings"]) == (
        1800,
        "ALLOW_INTERNAL_ONLY",
    )
    uri = synth.ref("google_cloudfunctions2_function", name=f"{prefix}-daily-rollup")
    uri += ".service_config[0].uri}"
    job = synth.one("google_cloud_scheduler_job", name=f"{prefix}-daily-rollup")
    assert (job["schedule"], job["time_zone"]) == ("30 2 * * *", "Etc/UTC")
    assert job["attempt_deadline"] == "1800s"
    assert job["http_target"]["uri"] == uri
    assert job["http_target"]["oidc_token"] == {
        "service_account_email": member("sched-rollup").removeprefix("serviceAccount:"),
        "audience": uri,
    }
    granted: dict[str, list[tuple[str, str]]] = {"rollup": [], "sched-rollup": []}
    for type_, resources in synth.json["resource"].items():
        if type_.endswith("_iam_member"):
            for grant in resources.values():
                for key, found in granted.items():
                    if grant["member"] == member(key):
                        found.append((type_, grant["role"]))
    assert sorted(granted["rollup"]) == [
        ("google_bigquery_dataset_iam_member", "roles/bigquery.dataEditor"),
        ("google_project_iam_member", "roles/bigquery.jobUser"),
    ]
    assert granted["sched-rollup"] == [
        ("google_cloud_run_v2_service_iam_member", "roles/run.invoker")
    ]
    invoker = synth.one("google_cloud_run_v2_service_iam_member", member=member("sched-rollup"))
    assert invoker["name"] == (
        synth.ref("google_cloudfunctions2_function", name=f"{prefix}-daily-rollup")
        + ".service_config[0].service}"
    )


def test_the_deployer_acts_as_every_account_a_function_or_job_runs_as() -> None:
    from infra.constructs.cloud_functions import RUNTIME_ACCOUNT

    needed = {RUNTIME_ACCOUNT[spec.key] for spec in FUNCTIONS}
    needed |= {f"sched-{spec.schedule}" for spec in FUNCTIONS if spec.schedule}
    assert needed <= set(ACTS_AS), f"missing: {sorted(needed - set(ACTS_AS))}"
    assert {"fleet", "sched-fleet", "rollup", "sched-rollup"} <= set(ACTS_AS)


def test_weather_account_grants(synth: Synth) -> None:
    sa = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-weather")
    member = f"serviceAccount:{sa}.email}}"
    has(
        synth,
        "google_pubsub_topic_iam_member",
        {"member": member, "role": "roles/pubsub.publisher"},
    )
    topic_grants = [
        g
        for g in synth.resources("google_pubsub_topic_iam_member").values()
        if g["member"] == member
    ]
    assert [g["topic"] for g in topic_grants] == [
        synth.ref("google_pubsub_topic", name="meteo_data") + ".name}"
    ]
    has(
        synth,
        "google_secret_manager_secret_iam_member",
        {"member": member, "role": "roles/secretmanager.secretAccessor"},
    )
    has(
        synth,
        "google_bigquery_dataset_iam_member",
        {"member": member, "role": "roles/bigquery.dataViewer"},
    )


def test_device_groups_publish_to_sensor_data_only(synth: Synth) -> None:
    assert synth.env.device_groups, "each environment declares device groups"
    for group in synth.env.device_groups:
        sa = synth.ref("google_service_account", account_id=synth.env.device_account_id(group))
        member = f"serviceAccount:{sa}.email}}"
        topics = [
            g
            for g in synth.resources("google_pubsub_topic_iam_member").values()
            if g["member"] == member
        ]
        assert [(g["topic"], g["role"]) for g in topics] == [
            (
                synth.ref("google_pubsub_topic", name="sensor_data") + ".name}",
                "roles/pubsub.publisher",
            )
        ]


def test_ingest_account_writes_the_dataset(synth: Synth) -> None:
    sa = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-ingest")
    has(synth, "google_bigquery_dataset_iam_member", {
        "member": f"serviceAccount:{sa}.email}}", "role": "roles/bigquery.dataEditor",
    })  # fmt: skip


def test_secret_declared_without_a_value(synth: Synth) -> None:
    has(
        synth,
        "google_secret_manager_secret",
        {"secret_id": "OPENWEATHER_API_KEY", "replication": {"auto": {}}},
    )
    assert "google_secret_manager_secret_version" not in synth.json["resource"]
    assert "secret_data" not in synth.text


def test_github_workload_identity(synth: Synth) -> None:
    repo = synth.env.github.repository
    provider = synth.one(
        "google_iam_workload_identity_pool_provider", workload_identity_pool_provider_id="github"
    )
    assert provider["oidc"] == {"issuer_uri": "https://token.actions.githubusercontent.com"}
    assert (
        f'assertion.repository_id == "{synth.env.github.repository_id}"'
        in (provider["attribute_condition"])
    )
    users = [
        g
        for g in synth.resources("google_service_account_iam_member").values()
        if g["role"] == "roles/iam.workloadIdentityUser"
    ]
    bound = {
        g["member"].rsplit("/subject/", 1)[1]: g["service_account_id"].split(".")[1] for g in users
    }
    expected = {
        f"repo:{repo}:{subject}": synth.ref(
            "google_service_account", account_id=f"{synth.env.name_prefix}-{key}"
        ).split(".")[1]
        for subject, key in subjects(synth.env).items()
    }
    assert bound == expected


def test_budget_only_with_a_billing_account(synthesized: dict[str, Synth]) -> None:
    prod = synthesized["prod"]
    assert prod.env.billing_account is not None
    assert synthesized["dev"].env.billing_account is None
    assert "google_billing_budget" not in synthesized["dev"].json["resource"]
    budget = prod.one("google_billing_budget", billing_account=prod.env.billing_account)
    assert budget["amount"]["specified_amount"] == {
        "currency_code": "EUR",
        "units": str(prod.env.budget.amount),
    }  # type: ignore[union-attr]
    assert [r["threshold_percent"] for r in budget["threshold_rules"]] == list(
        prod.env.budget.thresholds
    )  # type: ignore[union-attr]


def test_edge_image_repository(synth: Synth) -> None:
    has(synth, "google_artifact_registry_repository", {
        "repository_id": "edge", "format": "DOCKER", "location": synth.env.region,
    })  # fmt: skip
