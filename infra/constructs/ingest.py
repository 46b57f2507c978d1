"""Subscriptions that move messages from the ingest topics to the warehouse.

Mode `function`: a push subscription per topic to the event processor, authenticated with
an OIDC token of the push service account, retried with exponential backoff, and sent to
the dead-letter topic after `MAX_DELIVERIES` failed attempts. (The processor itself
acknowledges poison messages after dead-lettering them in the warehouse; only a backend
failure is retried.)

Mode `bigquery_subscription`: a BigQuery subscription per topic writing each message to its
table through the topic schema, with the same dead-letter policy. The subscription names its
table through the table resource and waits for the Pub/Sub service agent's grant on it:
Pub/Sub checks both when the subscription is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdktn import ITerraformDependable
from cdktn_provider_google.pubsub_subscription import (
    PubsubSubscription,
    PubsubSubscriptionBigqueryConfig,
    PubsubSubscriptionDeadLetterPolicy,
    PubsubSubscriptionExpirationPolicy,
    PubsubSubscriptionPushConfig,
    PubsubSubscriptionPushConfigOidcToken,
    PubsubSubscriptionRetryPolicy,
)
from constructs import Construct

from infra.config import Environment
from infra.constructs import labels
from infra.constructs.cloud_functions import Functions
from infra.constructs.identities import Identities
from infra.constructs.messaging import RETENTION, Messaging
from infra.constructs.warehouse import Warehouse

MAX_DELIVERIES = 10
ACK_DEADLINE = 120  # seconds: above the event processor's 60 s timeout


class Ingest(Construct):
    """Out: `subscriptions` by topic name."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env: Environment,
        messaging: Messaging,
        functions: Functions,
        identities: Identities,
        warehouse: Warehouse,
        table_grants: Mapping[str, ITerraformDependable],
    ) -> None:
        """`table_grants`: by topic, the service agent's grant on the topic's table."""
        super().__init__(scope, id_)
        self.subscriptions: dict[str, PubsubSubscription] = {}
        has_processor = "event_processor" in functions.functions
        for topic_name, topic in messaging.topics.items():
            common: dict[str, Any] = {
                "project": env.project,
                "topic": topic.id,
                "ack_deadline_seconds": ACK_DEADLINE,
                "message_retention_duration": RETENTION,
                "retry_policy": PubsubSubscriptionRetryPolicy(
                    minimum_backoff="10s", maximum_backoff="600s"
                ),
                "dead_letter_policy": PubsubSubscriptionDeadLetterPolicy(
                    dead_letter_topic=messaging.dead_letter.id,
                    max_delivery_attempts=MAX_DELIVERIES,
                ),
                "expiration_policy": PubsubSubscriptionExpirationPolicy(ttl=""),
                "labels": labels(env, "ingest"),
            }
            if env.ingest_mode == "bigquery_subscription":
                name = messaging.tables[topic_name]
                table = warehouse.tables[name]
                self.subscriptions[topic_name] = PubsubSubscription(
                    self,
                    f"{topic_name}-to-bigquery",
                    name=f"{topic_name}_to_bigquery",
                    bigquery_config=PubsubSubscriptionBigqueryConfig(
                        table=f"{table.project}.{table.dataset_id}.{table.table_id}",
                        use_topic_schema=True,
                        write_metadata=False,
                        drop_unknown_fields=False,
                    ),
                    depends_on=[table_grants[topic_name]],
                    **common,
                )
            elif has_processor:
                uri = functions.uri("event_processor")
                self.subscriptions[topic_name] = PubsubSubscription(
                    self,
                    f"{topic_name}-to-processor",
                    name=f"{topic_name}_to_processor",
                    push_config=PubsubSubscriptionPushConfig(
                        push_endpoint=uri,
                        oidc_token=PubsubSubscriptionPushConfigOidcToken(
                            service_account_email=identities.email("push"), audience=uri
                        ),
                    ),
                    **common,
                )
