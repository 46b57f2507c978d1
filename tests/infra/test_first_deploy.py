"""Issue 15: each defect a review of the synthesized stacks found, as a check on the JSON.

Runs against: the real cdktn synth of dev and prod (and dev-bqsub, ingest mode
bigquery_subscription), read back as the Terraform JSON `terraform plan` would get. Each test
names the defect it keeps fixed; what only a real deploy can prove is in docs/deploy.md.
"""

from __future__ import annotations

import json
import re
from typing import Any

from infra import sizing
from infra.constructs.access import GCF_SOURCES
from infra.constructs.audit import AUDITED
from infra.constructs.ci import PLANNER_ROLES, subjects
from infra.constructs.messaging import TOPICS
from infra.constructs.platform import DELETE_AFTER, KEEP_IMAGES, RELEASE_TAG_PREFIX
from infra.constructs.storage import COLDLINE_MIN_DAYS, NONCURRENT_DAYS
from infra.entrypoints import FUNCTIONS
from schemas import registry
from schemas.views import window_keys
from tests.infra.synth import Synth

BUILD_ROLES = {
    ("project", "roles/logging.logWriter"),
    ("project", "roles/artifactregistry.writer"),
    ("project", "roles/storage.objectAdmin"),
    ("bucket", "roles/storage.objectViewer"),
}


def _views(synth: Synth) -> list[dict[str, Any]]:
    return [t for t in synth.resources("google_bigquery_table").values() if "view" in t]


def _address(synth: Synth, type_: str, **match: Any) -> str:
    return synth.ref(type_, **match).removeprefix("${")


# --- would fail at apply ---


def test_1_views_are_replaced_with_their_tables_schema_and_never_protected(
    synthesized: dict[str, Synth],
) -> None:
    """Prod views were protected and replaced on any change of their table: every schema
    change would fail. Now a view is re-created on a schema change only, unprotected; the
    tables keep protection (and prevent_destroy) where the environment asks for it."""
    for name in ("dev", "prod"):
        synth = synthesized[name]
        views = _views(synth)
        assert len(views) == len(list(registry()))
        for view in views:
            table = view["table_id"].removesuffix("_dedup")
            source = _address(synth, "google_bigquery_table", table_id=table)
            assert view["deletion_protection"] is False, view["table_id"]
            assert view["lifecycle"] == {"replace_triggered_by": [f"{source}.schema"]}
        for table in registry():
            stored = synth.one("google_bigquery_table", table_id=table.name)
            assert stored["deletion_protection"] is synth.env.deletion_protection
    assert synthesized["prod"].env.deletion_protection is True


def test_2_every_call_bills_the_project_and_the_planner_may_use_it(synth: Synth) -> None:
    """The budget API refuses user credentials without a quota project, and the CI accounts
    need a role on the billing account (docs/deploy.md grants it by hand)."""
    assert synth.json["provider"]["google"][0] == {
        "project": synth.env.project,
        "region": synth.env.region,
        "user_project_override": True,
        "billing_project": synth.env.project,
    }
    assert "roles/serviceusage.serviceUsageConsumer" in PLANNER_ROLES
    plan = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-ci-plan")
    roles = {
        g["role"]
        for g in synth.resources("google_project_iam_member").values()
        if g["member"] == f"serviceAccount:{plan}.email}}"
    }
    assert roles == set(PLANNER_ROLES)


def test_3_functions_wait_for_every_grant_of_their_build_account(synth: Synth) -> None:
    account = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-build")
    build = f"serviceAccount:{account}.email}}"
    grants: dict[str, tuple[str, str]] = {}
    for kind, type_ in (
        ("project", "google_project_iam_member"),
        ("bucket", "google_storage_bucket_iam_member"),
    ):
        for key, grant in synth.resources(type_).items():
            if grant["member"] == build:
                grants[f"{type_}.{key}"] = (kind, grant["role"])
    assert set(grants.values()) == BUILD_ROLES
    admin = next(
        g
        for g in synth.resources("google_project_iam_member").values()
        if g["member"] == build and g["role"] == "roles/storage.objectAdmin"
    )
    bucket = GCF_SOURCES.format(number="${data.google_project.project.number}", region="")
    assert bucket.removesuffix("-") in admin["condition"]["expression"]
    assert synth.env.region in admin["condition"]["expression"]
    functions = synth.resources("google_cloudfunctions2_function")
    assert functions
    for function in functions.values():
        assert function["build_config"]["service_account"].startswith("${google_service_account")
        assert set(grants) <= set(function["depends_on"]), function["name"]


def test_4_a_bigquery_subscription_references_its_table_and_waits_for_the_grant(
    synthesized: dict[str, Synth],
) -> None:
    synth = synthesized["dev-bqsub"]
    agent = re.compile(
        r"^serviceAccount:service-\$\{data\.google_project\.project\.number\}@gcp-sa-pubsub"
    )
    for topic, table in TOPICS.items():
        sub = synth.one("google_pubsub_subscription", name=f"{topic}_to_bigquery")
        ref = synth.ref("google_bigquery_table", table_id=table)
        assert sub["bigquery_config"]["table"] == (
            f"{ref}.project}}.{ref}.dataset_id}}.{ref}.table_id}}"
        )
        grants = [
            key
            for key, g in synth.resources("google_bigquery_table_iam_member").items()
            if g["table_id"] == f"{ref}.table_id}}" and agent.match(g["member"])
        ]
        assert len(grants) == 1, topic
        assert sub["depends_on"] == [f"google_bigquery_table_iam_member.{grants[0]}"]


# --- would break at run time ---


def test_5_push_and_scheduler_call_the_run_app_uri(synth: Synth) -> None:
    """With internal ingress, Pub/Sub and Scheduler are internal only on the run.app URL."""
    uris = {
        f"{synth.ref('google_cloudfunctions2_function', name=f['name'])}.service_config[0].uri}}"
        for f in synth.resources("google_cloudfunctions2_function").values()
    }
    targets = []
    for sub in synth.resources("google_pubsub_subscription").values():
        if "push_config" in sub:
            push = sub["push_config"]
            targets += [push["push_endpoint"], push["oidc_token"]["audience"]]
    for job in synth.resources("google_cloud_scheduler_job").values():
        targets += [job["http_target"]["uri"], job["http_target"]["oidc_token"]["audience"]]
    scheduled = sum(1 for s in FUNCTIONS if s.schedule)  # weather, weekly x2, fleet, rollup
    assert len(targets) == 2 * (len(TOPICS) + scheduled)
    assert set(targets) <= uris, set(targets) - uris
    assert ".url}" not in synth.text, "something still calls a cloudfunctions.net URL"


def test_6_the_edge_image_has_a_pusher_per_project_that_writes_only_its_repository(
    synth: Synth,
) -> None:
    pusher = synth.ref("google_service_account", account_id=f"{synth.env.name_prefix}-edge-push")
    member = f"serviceAccount:{pusher}.email}}"
    holders = [
        (type_, r["role"])
        for type_, resources in synth.json["resource"].items()
        for r in resources.values()
        if r.get("member") == member
    ]
    assert holders == [
        ("google_artifact_registry_repository_iam_member", "roles/artifactregistry.writer")
    ]
    grant = synth.one("google_artifact_registry_repository_iam_member", member=member)
    assert (
        grant["repository"]
        == synth.ref("google_artifact_registry_repository", repository_id="edge") + ".name}"
    )
    assert synth.json["output"]["edge_push_account"]["value"] == f"{pusher}.email}}"


def test_7_the_dead_letter_view_keeps_one_row_per_day_and_key(synth: Synth) -> None:
    for table in registry():
        view = synth.one("google_bigquery_table", table_id=f"{table.name}_dedup")
        query = view["view"]["query"]
        assert "TO_JSON_STRING" not in query, table.name
        if table.keyed:  # day, the clustering columns, the key (schemas/views.py)
            keys = ", ".join(window_keys(table))
            assert f"PARTITION BY {keys}" in query, table.name
            assert keys.startswith(f"{table.partition}, "), table.name


def test_8_the_event_processor_is_sized_from_the_load_model(synth: Synth) -> None:
    size = sizing.processor_size(synth.env)
    processor = synth.one(
        "google_cloudfunctions2_function", name=f"{synth.env.name_prefix}-event-processor"
    )
    service = processor["service_config"]
    assert {
        k: service[k]
        for k in ("available_cpu", "available_memory", "max_instance_request_concurrency")
    } == {
        "available_cpu": "1",
        "available_memory": f"{size.memory_mib}Mi",
        "max_instance_request_concurrency": size.concurrency,
    }
    assert service["max_instance_count"] == size.max_instances
    assert service["environment_variables"]["THREADS"] == str(size.concurrency)
    assert size.concurrency > 1, "one request at a time throttles every burst"
    # The sized instances hold a burst's requests in flight with headroom.
    assert size.max_instances * size.concurrency >= size.in_flight * sizing.HEADROOM


# --- security ---


def test_9_tokens_of_this_repository_by_id_from_the_environments_ref_only(synth: Synth) -> None:
    github = synth.env.github
    provider = synth.one(
        "google_iam_workload_identity_pool_provider", workload_identity_pool_provider_id="github"
    )
    condition = provider["attribute_condition"]
    assert f'assertion.repository_id == "{github.repository_id}"' in condition
    assert f'assertion.repository_owner_id == "{github.owner_id}"' in condition
    ref = {
        "dev": 'assertion.ref == "refs/heads/main"',
        "prod": 'assertion.ref.startsWith("refs/tags/v")',
    }[synth.env.name]
    environments = condition.split("assertion.sub in [", 1)[1].split("]", 1)[0]
    assert condition.endswith(f"{ref}))"), condition
    assert sorted(re.findall(r'"repo:[^"]+"', environments)) == sorted(
        f'"repo:{github.repository}:{s}"' for s in subjects(synth.env) if s != "pull_request"
    )
    assert provider["lifecycle"] == {"prevent_destroy": True}
    pool = synth.one("google_iam_workload_identity_pool")
    assert pool["lifecycle"] == {"prevent_destroy": True}


def test_11_the_checkov_skip_reasons_hold(synth: Synth) -> None:
    """CKV_GCP_62 says Data Access logs for Cloud Storage are on; they must be."""
    configs = synth.resources("google_project_iam_audit_config")
    assert {c["service"]: {x["log_type"] for x in c["audit_log_config"]}
            for c in configs.values()} == {s: set(t) for s, t in AUDITED.items()}  # fmt: skip
    assert {"DATA_READ", "DATA_WRITE"} <= set(AUDITED["storage.googleapis.com"])


# --- hygiene ---


def test_the_edge_registry_deletes_old_images_but_keeps_recent_and_releases(
    synth: Synth,
) -> None:
    repository = synth.one("google_artifact_registry_repository", repository_id="edge")
    assert repository["cleanup_policy_dry_run"] is False
    policies = {p["id"]: p for p in repository["cleanup_policies"]}
    assert policies == {
        "keep-recent": {
            "id": "keep-recent", "action": "KEEP",
            "most_recent_versions": {"keep_count": KEEP_IMAGES},
        },
        "keep-releases": {
            "id": "keep-releases", "action": "KEEP",
            "condition": {"tag_state": "TAGGED", "tag_prefixes": [RELEASE_TAG_PREFIX]},
        },
        "delete-old": {
            "id": "delete-old", "action": "DELETE",
            "condition": {"tag_state": "ANY", "older_than": DELETE_AFTER},
        },
    }  # fmt: skip


def test_coldline_versions_are_deleted_only_past_the_minimum_storage_duration(
    synth: Synth,
) -> None:
    archive = synth.one("google_storage_bucket", name=synth.env.bucket_name("archive"))
    assert archive["storage_class"] == "COLDLINE"
    deletes = [r["condition"] for r in archive["lifecycle_rule"] if r["action"]["type"] == "Delete"]
    assert deletes == [
        {
            "age": COLDLINE_MIN_DAYS,
            "days_since_noncurrent_time": NONCURRENT_DAYS,
            "with_state": "ARCHIVED",
        }
    ]
    for purpose in ("functions", "data"):
        bucket = synth.one("google_storage_bucket", name=synth.env.bucket_name(purpose))
        rules = bucket["lifecycle_rule"]
        rules = [r["condition"] for r in rules if r["action"]["type"] == "Delete"]
        assert rules == [{"days_since_noncurrent_time": NONCURRENT_DAYS}], purpose


def test_data_survives_a_destroy_only_where_protected(synthesized: dict[str, Synth]) -> None:
    """prod: dataset, tables and buckets refuse a destroy at plan time (nothing half way);
    dev: a destroy empties and removes them."""
    for name, protected in (("prod", True), ("dev", False)):
        synth = synthesized[name]
        data = [
            *synth.resources("google_storage_bucket").values(),
            *synth.resources("google_bigquery_dataset").values(),
            *(t for t in synth.resources("google_bigquery_table").values() if "view" not in t),
        ]
        assert {json.dumps(r["lifecycle"]) for r in data} == {
            json.dumps({"prevent_destroy": protected})
        }, name
        buckets = synth.resources("google_storage_bucket").values()
        assert {b["force_destroy"] for b in buckets} == {not protected}, name
