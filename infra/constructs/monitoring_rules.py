"""What the stack watches, as data: the log-based metrics and the alert policies.

The metrics count lines the code writes with a `signal` field (`livability/signals.py`, the
log-field contract; tests/core/test_signals.py proves each field is written). The policies
read those metrics or Google's own metric types of the resources the stack declares (Cloud
Run revisions of the functions, Pub/Sub subscriptions and topics). `docs/operations.md`
gives each policy's threshold, why that number, and the first thing to check; a test keeps
it in step with `policies()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from infra.config import Environment
from infra.constructs.messaging import DEAD_LETTER_TOPIC, TOPICS
from livability import signals

LOGGED = 'resource.type="cloud_run_revision"'  # where gen2 functions' logs come from
USER_METRIC = "logging.googleapis.com/user/"
Comparison = Literal["COMPARISON_GT", "COMPARISON_LT"]


@dataclass(frozen=True)
class LogMetric:
    """A log-based counter (or, with `value_field`, a distribution of that field)."""

    key: str  # the metric's name after the environment's prefix
    description: str
    signal: str
    where: str = ""  # a further clause on the signal's fields
    labels: tuple[str, ...] = ()  # jsonPayload fields kept as metric labels
    value_field: str | None = None
    # Other (signal, clause) pairs the metric also counts, ORed with the first.
    alternatives: tuple[tuple[str, str], ...] = ()

    def name(self, env: Environment) -> str:
        return f"{env.name_prefix}-{self.key}".replace("-", "_")

    def filter(self) -> str:
        terms = [
            f'jsonPayload.{signals.SIGNAL}="{signal}"' + (f" AND ({where})" if where else "")
            for signal, where in ((self.signal, self.where), *self.alternatives)
        ]
        if len(terms) == 1:
            return f"{LOGGED} AND {terms[0]}"
        return f"{LOGGED} AND (" + " OR ".join(f"({t})" for t in terms) + ")"


def silent_threshold(env: Environment) -> int:
    return env.alerts.silent_homes if env.alerts else 0


def log_metrics(env: Environment) -> tuple[LogMetric, ...]:
    s = signals
    return (
        LogMetric("dead-letters", "Rows and messages stored in dead_letter, by reason class.",
                  s.DEAD_LETTER, labels=(s.REASON_CLASS, s.TARGET_TABLE)),
        LogMetric("job-failures", "Scheduled jobs that ended without doing their work.",
                  s.JOB_FAILED, labels=(s.JOB,)),
        LogMetric("archive-expiry", "Weeks whose partitions expire before a verified archive.",
                  s.ARCHIVE_EXPIRY, where=f"jsonPayload.{s.ALERT}=true AND severity=ERROR"),
        LogMetric("weather-failed-ticks", "Weather poller runs in which a location failed, or "
                  "which failed as a whole.", s.WEATHER_TICK, where=f"jsonPayload.{s.FAILED}>0",
                  alternatives=((s.JOB_FAILED, f'jsonPayload.{s.JOB}="weather"'),)),
        LogMetric("weather-key-rejected", "Weather poller runs refused with 401 (bad key).",
                  s.WEATHER_TICK, where=f"jsonPayload.{s.KEY_REJECTED}=true"),
        LogMetric("fleet-checks", "Runs of the hourly fleet check.", s.FLEET_CHECK),
        LogMetric("silent-homes", "Silent gateways (> 3 h) found by each fleet check.",
                  s.FLEET_CHECK, value_field=s.SILENT_HOMES),
        LogMetric("silent-home-checks", "Fleet checks that found more silent gateways than "
                  "the environment's threshold.", s.FLEET_CHECK,
                  where=f"jsonPayload.{s.SILENT_HOMES}>{silent_threshold(env)}"),
    )  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """One alert policy with one condition on one metric (`absent`: no point for `duration`)."""

    key: str
    title: str
    metric: str  # a metric type, or `user:<LogMetric.key>`
    resource: str  # the monitored resource type the metric is written for
    where: str  # further filter clauses (resource and metric labels)
    threshold: float
    period: int  # seconds each point sums or aligns over
    duration: int  # seconds the condition must hold
    aligner: str = "ALIGN_SUM"
    comparison: Comparison = "COMPARISON_GT"
    absent: bool = False
    ratio_of: str | None = None  # the denominator's further clauses: a ratio condition

    def metric_type(self, env: Environment) -> str:
        if self.metric.startswith("user:"):
            found = next(m for m in log_metrics(env) if m.key == self.metric.removeprefix("user:"))
            return USER_METRIC + found.name(env)
        return self.metric

    def filter(self, env: Environment, where: str | None = None) -> str:
        base = f'metric.type="{self.metric_type(env)}" AND resource.type="{self.resource}"'
        extra = self.where if where is None else where
        return f"{base} AND {extra}" if extra else base


def subscription_names(env: Environment) -> list[str]:
    """The ingest subscriptions `ingest.py` declares, by name."""
    suffix = "to_bigquery" if env.ingest_mode == "bigquery_subscription" else "to_processor"
    return [f"{topic}_{suffix}" for topic in TOPICS]


def _processor(env: Environment) -> list[Policy]:
    service = f'resource.labels.service_name="{env.name_prefix}-event-processor"'
    requests = "run.googleapis.com/request_count"
    return [
        Policy("processor-5xx", "Event processor: more than 5 % of requests fail (5xx)",
               requests, "cloud_run_revision",
               f'{service} AND metric.labels.response_code_class="5xx"', 0.05, 60, 300,
               aligner="ALIGN_RATE", ratio_of=service),
        Policy("processor-latency", "Event processor: p99 latency over 10 s",
               "run.googleapis.com/request_latencies", "cloud_run_revision", service,
               10_000, 60, 600, aligner="ALIGN_PERCENTILE_99"),
        Policy("dead-letters", "Dead letters: more than the hourly baseline",
               "user:dead-letters", "cloud_run_revision", "",
               env.alerts.dead_letters_per_hour if env.alerts else 60, 3600, 0),
    ]  # fmt: skip


def policies(env: Environment) -> list[Policy]:
    """Every alert policy of `env`; the event processor's only where it is deployed."""
    out = _processor(env) if env.ingest_mode == "function" else []
    for name in subscription_names(env):
        out.append(
            Policy(f"lag-{name}".replace("_", "-"), f"Ingest lag: oldest unacked on {name} "
                   "over 15 min", "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
                   "pubsub_subscription", f'resource.labels.subscription_id="{name}"', 900,
                   60, 300, aligner="ALIGN_MAX")
        )  # fmt: skip
    silent = silent_threshold(env)
    out += [
        Policy("dead-letter-topic", "Pub/Sub dead-letter topic: a message arrived",
               "pubsub.googleapis.com/topic/send_message_operation_count", "pubsub_topic",
               f'resource.labels.topic_id="{DEAD_LETTER_TOPIC}"', 0, 300, 0),
        Policy("dead-letter-hold", "Pub/Sub dead-letter hold subscription: messages waiting",
               "pubsub.googleapis.com/subscription/num_undelivered_messages",
               "pubsub_subscription", f'resource.labels.subscription_id="{DEAD_LETTER_TOPIC}_hold"',
               0, 300, 0, aligner="ALIGN_MAX"),
        Policy("archive-expiry", "Archive: a week nears partition expiry unarchived",
               "user:archive-expiry", "cloud_run_revision", "", 0, 300, 0),
        Policy("weekly-job-failed", "Scheduled job failed (weekly scoring, archive; daily "
               "rollup)", "user:job-failures", "cloud_run_revision",
               'metric.labels.job=one_of("weekly_score", "weekly_archive", "daily_rollup")',
               0, 300, 0),
        Policy("weather-ticks", "Weather poller: more than 2 failed ticks in 30 min",
               "user:weather-failed-ticks", "cloud_run_revision", "", 2, 1800, 0),
        Policy("weather-key", "Weather poller: OpenWeatherMap refused the key (401)",
               "user:weather-key-rejected", "cloud_run_revision", "", 0, 300, 0),
        Policy("silent-homes", f"Fleet: more than {silent} silent gateway(s) in a check",
               "user:silent-home-checks", "cloud_run_revision", "", 0, 3600, 0),
        Policy("fleet-check-missing", "Fleet check: none for 2 h", "user:fleet-checks",
               "cloud_run_revision", "", 0, 3600, 7200, absent=True),
    ]  # fmt: skip
    return out
