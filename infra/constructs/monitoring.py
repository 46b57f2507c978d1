"""Cloud Monitoring: who is told (email channels from `[alerts]`), the log-based metrics, the
alert policies of `monitoring_rules.py`, and a dashboard of the platform's vital signs.

An environment without `[alerts]` declares the metrics and the dashboard but no channel and
no policy: an alert nobody receives is noise in the console. Every policy notifies every
channel; the budget (platform.py) notifies them too.
"""

from __future__ import annotations

import json
from typing import Any

from cdktn_provider_google.logging_metric import (
    LoggingMetric,
    LoggingMetricBucketOptions,
    LoggingMetricBucketOptionsExplicitBuckets,
    LoggingMetricMetricDescriptor,
    LoggingMetricMetricDescriptorLabels,
)
from cdktn_provider_google.monitoring_alert_policy import (
    MonitoringAlertPolicy,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionAbsent,
    MonitoringAlertPolicyConditionsConditionAbsentAggregations,
    MonitoringAlertPolicyConditionsConditionThreshold,
    MonitoringAlertPolicyConditionsConditionThresholdAggregations,
    MonitoringAlertPolicyConditionsConditionThresholdDenominatorAggregations,
    MonitoringAlertPolicyDocumentation,
)
from cdktn_provider_google.monitoring_dashboard import MonitoringDashboard
from cdktn_provider_google.monitoring_notification_channel import (
    MonitoringNotificationChannel,
)

from infra.constructs import Part
from infra.constructs.messaging import DEAD_LETTER_TOPIC, TOPICS
from infra.constructs.monitoring_rules import (
    USER_METRIC,
    LogMetric,
    Policy,
    log_metrics,
    policies,
    subscription_names,
)

RUNBOOK = "docs/operations.md"
# Silent gateways per check: exact counts up to 10, then coarser up to a million homes.
SILENT_BUCKETS = [0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 10_000, 100_000, 1_000_000]


class Monitoring(Part):
    """Out: `channels` (their ids), `metrics` by key, `policies` by key, `dashboard`."""

    def declare(self) -> None:
        env = self.env
        alerts = env.alerts
        self.channels: list[str] = []
        for i, email in enumerate(alerts.emails if alerts else ()):
            channel = MonitoringNotificationChannel(
                self,
                f"email-{i}",
                type="email",
                display_name=f"{env.name_prefix} alerts: {email}",
                labels={"email_address": email},
                user_labels={"env": env.name, "component": "monitoring"},
                **self.placed(),
            )
            self.channels.append(channel.id)
        self.metrics = {m.key: self._metric(m) for m in log_metrics(env)}
        self.policies: dict[str, MonitoringAlertPolicy] = {}
        if alerts is not None:
            self.policies = {p.key: self._policy(p) for p in policies(env)}
        self.dashboard = MonitoringDashboard(
            self,
            "dashboard",
            dashboard_json=json.dumps(self._dashboard()),
            **self.placed(),
        )

    def _metric(self, metric: LogMetric) -> LoggingMetric:
        env = self.env
        distribution = metric.value_field is not None
        return LoggingMetric(
            self,
            f"metric-{metric.key}",
            name=metric.name(env),
            description=metric.description,
            filter=metric.filter(),
            metric_descriptor=LoggingMetricMetricDescriptor(
                metric_kind="DELTA",
                value_type="DISTRIBUTION" if distribution else "INT64",
                unit="1",
                labels=[
                    LoggingMetricMetricDescriptorLabels(key=label, value_type="STRING")
                    for label in metric.labels
                ],
            ),
            label_extractors={label: f"EXTRACT(jsonPayload.{label})" for label in metric.labels},
            value_extractor=(
                f"EXTRACT(jsonPayload.{metric.value_field})" if distribution else None
            ),
            bucket_options=(
                LoggingMetricBucketOptions(
                    explicit_buckets=LoggingMetricBucketOptionsExplicitBuckets(
                        bounds=SILENT_BUCKETS
                    )
                )
                if distribution
                else None
            ),
            **self.placed(),
        )

    def _condition(self, policy: Policy) -> MonitoringAlertPolicyConditions:
        env = self.env
        period = f"{policy.period}s"
        if policy.absent:
            return MonitoringAlertPolicyConditions(
                display_name=policy.title,
                condition_absent=MonitoringAlertPolicyConditionsConditionAbsent(
                    filter=policy.filter(env),
                    duration=f"{policy.duration}s",
                    aggregations=[
                        MonitoringAlertPolicyConditionsConditionAbsentAggregations(
                            alignment_period=period, per_series_aligner=policy.aligner,
                            cross_series_reducer="REDUCE_SUM",
                        )
                    ],
                ),
            )  # fmt: skip
        ratio: dict[str, Any] = {}
        if policy.ratio_of is not None:
            ratio = {
                "denominator_filter": policy.filter(env, policy.ratio_of),
                "denominator_aggregations": [
                    MonitoringAlertPolicyConditionsConditionThresholdDenominatorAggregations(
                        alignment_period=period, per_series_aligner=policy.aligner,
                        cross_series_reducer="REDUCE_SUM",
                    )
                ],
            }  # fmt: skip
        reducer = "REDUCE_MAX" if policy.aligner.startswith("ALIGN_PERCENTILE") else "REDUCE_SUM"
        return MonitoringAlertPolicyConditions(
            display_name=policy.title,
            condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                filter=policy.filter(env),
                comparison=policy.comparison,
                threshold_value=policy.threshold,
                duration=f"{policy.duration}s",
                aggregations=[
                    MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                        alignment_period=period, per_series_aligner=policy.aligner,
                        cross_series_reducer=reducer,
                    )
                ],
                **ratio,
            ),
        )  # fmt: skip

    def _policy(self, policy: Policy) -> MonitoringAlertPolicy:
        env = self.env
        depends = [m for key, m in self.metrics.items() if policy.metric == f"user:{key}"]
        placed = self.placed()
        placed["depends_on"] = [*placed["depends_on"], *depends]
        return MonitoringAlertPolicy(
            self,
            f"policy-{policy.key}",
            display_name=f"{env.name_prefix}: {policy.title}",
            combiner="OR",
            conditions=[self._condition(policy)],
            notification_channels=self.channels,
            documentation=MonitoringAlertPolicyDocumentation(
                content=f"What it means and the first thing to check: {RUNBOOK}, "
                f"section `{policy.key}`.",
                mime_type="text/markdown",
            ),
            user_labels={"env": env.name, "component": "monitoring"},
            **placed,
        )

    def _dashboard(self) -> dict[str, Any]:
        env = self.env
        user = {m.key: USER_METRIC + m.name(env) for m in log_metrics(env)}
        topics = " OR ".join(f'resource.labels.topic_id="{t}"' for t in TOPICS)
        subs = " OR ".join(
            f'resource.labels.subscription_id="{s}"' for s in subscription_names(env)
        )
        charts = [
            ("Ingest rate (messages/s)", "pubsub.googleapis.com/topic/send_message_operation_count",
             "pubsub_topic", f"({topics})", "ALIGN_RATE"),
            ("Dead letters (rows and messages)", user["dead-letters"], "cloud_run_revision", "",
             "ALIGN_SUM"),
            ("Dead-letter topic (messages)",
             "pubsub.googleapis.com/topic/send_message_operation_count", "pubsub_topic",
             f'resource.labels.topic_id="{DEAD_LETTER_TOPIC}"', "ALIGN_SUM"),
            ("Ingest lag: oldest unacked (s)",
             "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
             "pubsub_subscription", f"({subs})", "ALIGN_MAX"),
            ("Silent gateways per check", user["silent-homes"], "cloud_run_revision", "",
             "ALIGN_PERCENTILE_99"),
            ("Function errors (5xx/s)", "run.googleapis.com/request_count", "cloud_run_revision",
             'metric.labels.response_code_class="5xx"', "ALIGN_RATE"),
            ("Job failures", user["job-failures"], "cloud_run_revision", "", "ALIGN_SUM"),
            ("Cost: BigQuery bytes billed",
             "bigquery.googleapis.com/query/scanned_bytes_billed", "global", "",
             "ALIGN_SUM"),
        ]  # fmt: skip
        tiles = [
            {
                "xPos": (i % 2) * 24, "yPos": (i // 2) * 16, "width": 24, "height": 16,
                "widget": {"title": title, "xyChart": {"dataSets": [{"timeSeriesQuery": {
                    "timeSeriesFilter": {
                        "filter": Policy("", "", metric, resource, where, 0, 0, 0).filter(env),
                        "aggregation": {"alignmentPeriod": "300s", "perSeriesAligner": aligner},
                    }}, "plotType": "LINE"}]}},
            }
            for i, (title, metric, resource, where, aligner) in enumerate(charts)
        ]  # fmt: skip
        return {
            "displayName": f"{env.name_prefix} platform",
            "mosaicLayout": {"columns": 48, "tiles": tiles},
        }
