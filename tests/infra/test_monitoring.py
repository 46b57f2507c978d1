"""The stack's eyes, checked on what it synthesizes (dev, prod and the variants of dev).

Every alert policy's filter names a log-based metric the stack declares, or a metric type
Google writes for the monitored resource it names (the list below, from Cloud Monitoring's
metric lists for Cloud Run, Pub/Sub and BigQuery); every resource a filter names exists in the
stack; every notification channel is referenced, by every policy and by the budget.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.monitoring_rules import USER_METRIC, policies
from tests.infra.synth import Synth, synthesize_all

ROOT = Path(__file__).resolve().parents[2]
# Google's metric types the stack reads, with the monitored resource each is written for
# (cloud.google.com/monitoring/api/metrics_gcp: run, pubsub, bigquery).
GOOGLE_METRICS = {
    "run.googleapis.com/request_count": "cloud_run_revision",
    "run.googleapis.com/request_latencies": "cloud_run_revision",
    "pubsub.googleapis.com/subscription/oldest_unacked_message_age": "pubsub_subscription",
    "pubsub.googleapis.com/subscription/num_undelivered_messages": "pubsub_subscription",
    "pubsub.googleapis.com/topic/send_message_operation_count": "pubsub_topic",
    "bigquery.googleapis.com/query/scanned_bytes_billed": "global",
}
# Log-based metrics count entries of the resource the logs come from: the functions' revisions.
LOGGED_RESOURCE = "cloud_run_revision"
VARIANTS = ("dev", "prod", "dev-bqsub")
_METRIC = re.compile(r'metric\.type="([^"]+)"')
_RESOURCE = re.compile(r'resource\.type="([^"]+)"')


def conditions(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key, policy in synth.resources("google_monitoring_alert_policy").items():
        for condition in policy["conditions"]:
            for kind in ("condition_threshold", "condition_absent"):
                if kind in condition:
                    out.append((key, condition[kind]))
    return out


def check_filter(synth: Synth, text: str) -> None:
    """The filter names one metric type and one resource type, and they belong together."""
    declared = {m["name"] for m in synth.resources("google_logging_metric").values()}
    (metric,) = _METRIC.findall(text)
    (resource,) = _RESOURCE.findall(text)
    if metric.startswith(USER_METRIC):
        name = metric.removeprefix(USER_METRIC)
        assert name in declared, f"{text}: log-based metric {name} is not declared ({declared})"
        assert resource == LOGGED_RESOURCE, f"{text}: a log metric of {resource}"
    else:
        assert GOOGLE_METRICS.get(metric) == resource, (
            f"{text}: {metric} is not a Google metric of {resource}"
        )
    for label, kind, attribute in (
        ("subscription_id", "google_pubsub_subscription", "name"),
        ("topic_id", "google_pubsub_topic", "name"),
        ("service_name", "google_cloudfunctions2_function", "name"),
    ):
        names = {r[attribute] for r in synth.resources(kind).values()}
        for named in re.findall(rf'resource\.labels\.{label}="([^"]+)"', text):
            assert named in names, f"{text}: no {kind} named {named} ({names})"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_policy_reads_a_metric_that_exists_for_its_resource(variant: str) -> None:
    synth = synthesize_all()[variant]
    found = conditions(synth)
    assert len(found) == len(policies(synth.env)) >= 10
    for _, condition in found:
        check_filter(synth, condition["filter"])
        if "denominator_filter" in condition:
            check_filter(synth, condition["denominator_filter"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_channel_is_referenced_by_every_policy_and_the_budget(variant: str) -> None:
    synth = synthesize_all()[variant]
    channels = {
        f"${{google_monitoring_notification_channel.{key}.id}}": c["labels"]["email_address"]
        for key, c in synth.resources("google_monitoring_notification_channel").items()
    }
    assert sorted(channels.values()) == sorted(synth.env.alerts.emails)
    for key, policy in synth.resources("google_monitoring_alert_policy").items():
        assert set(policy["notification_channels"]) == set(channels), key
    for budget in synth.resources("google_billing_budget").values():
        rule = budget["all_updates_rule"]
        assert set(rule["monitoring_notification_channels"]) == set(channels)


def test_the_processors_policies_exist_only_where_the_processor_does() -> None:
    titles = {
        name: {p["display_name"].split(": ", 1)[1] for p in s.resources(
            "google_monitoring_alert_policy").values()}
        for name, s in synthesize_all().items()
    }  # fmt: skip
    processor = {
        "Event processor: more than 5 % of requests fail (5xx)",
        "Event processor: p99 latency over 10 s",
        "Dead letters: more than the hourly baseline",
    }
    assert processor <= titles["dev"]
    assert processor <= titles["prod"]
    assert not processor & titles["dev-bqsub"]
    assert len(titles["dev-bqsub"]) == len(titles["dev"]) - len(processor)


@pytest.mark.parametrize(("variant", "dead_letters", "silent"), [("dev", 60, 0), ("prod", 600, 50)])
def test_the_thresholds_follow_the_environment(
    variant: str, dead_letters: int, silent: int
) -> None:
    synth = synthesize_all()[variant]
    prefix = synth.env.name_prefix.replace("-", "_")
    thresholds = {
        _METRIC.findall(c["filter"])[0].removeprefix(USER_METRIC): c.get("threshold_value")
        for _, c in conditions(synth)
    }
    assert thresholds[f"{prefix}_dead_letters"] == dead_letters
    assert thresholds[f"{prefix}_weather_failed_ticks"] == 2
    assert thresholds[f"{prefix}_silent_home_checks"] == 0
    assert thresholds[f"{prefix}_fleet_checks"] is None  # absent for 2 h
    metric = synth.one("google_logging_metric", name=f"{prefix}_silent_home_checks")
    assert metric["filter"].endswith(f"(jsonPayload.silent_homes>{silent})")
    absent = [c for _, c in conditions(synth) if "threshold_value" not in c]
    assert [c["duration"] for c in absent] == ["7200s"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_failed_daily_rollup_or_weekly_job_alerts_at_once(variant: str) -> None:
    """The job-failure alert counts the `job_failed` lines of the three batch jobs: any one
    in 5 minutes fires it."""
    synth = synthesize_all()[variant]
    prefix = synth.env.name_prefix.replace("-", "_")
    failures = [
        c for _, c in conditions(synth)
        if c["filter"].startswith(f'metric.type="{USER_METRIC}{prefix}_job_failures"')
    ]  # fmt: skip
    assert [(c["threshold_value"], c["comparison"]) for c in failures] == [(0, "COMPARISON_GT")]
    assert failures[0]["filter"].endswith(
        'metric.labels.job=one_of("weekly_score", "weekly_archive", "daily_rollup")'
    )
    metric = synth.one("google_logging_metric", name=f"{prefix}_job_failures")
    assert metric["filter"].endswith(' AND jsonPayload.signal="job_failed"')
    assert metric["label_extractors"] == {"job": "EXTRACT(jsonPayload.job)"}


def test_prod_budget_thresholds_notify_the_channels() -> None:
    synth = synthesize_all()["prod"]
    (budget,) = synth.resources("google_billing_budget").values()
    assert [r["threshold_percent"] for r in budget["threshold_rules"]] == [0.5, 0.9, 1.0, 1.2]
    assert len(budget["all_updates_rule"]["monitoring_notification_channels"]) == 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_dashboard_charts_declared_or_google_metrics(variant: str) -> None:
    synth = synthesize_all()[variant]
    (dashboard,) = synth.resources("google_monitoring_dashboard").values()
    tiles = json.loads(dashboard["dashboard_json"])["mosaicLayout"]["tiles"]
    titles = [t["widget"]["title"] for t in tiles]
    for word in ("Ingest rate", "Dead letters", "lag", "Silent", "Function errors", "Cost"):
        assert any(word in title for title in titles), f"no chart of {word}: {titles}"
    for tile in tiles:
        query = tile["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]
        check_filter(synth, query["timeSeriesFilter"]["filter"])


def test_the_runbook_has_a_section_for_every_policy() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^### `([a-z0-9-]+)`", text, flags=re.MULTILINE))
    keys = {p.key for name in VARIANTS for p in policies(synthesize_all()[name].env)}
    lag = {k for k in keys if k.startswith("lag-")}
    assert keys - lag <= sections, f"no runbook section for {sorted(keys - lag - sections)}"
    assert "lag" in sections, "one runbook section `lag` covers the ingest subscriptions"
