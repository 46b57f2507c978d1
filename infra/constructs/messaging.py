"""Pub/Sub: the ingest topics, their Avro schemas from `schemas/`, and the dead-letter topic.

Each ingest table of `schemas/` has one topic (`TOPICS`). The topic schema is the data
plane's generator (`schemas.topic.avro_schema_json`), declared in every mode; it is attached
to the topic only in ingest mode `bigquery_subscription`, where each message is one row in
Avro JSON. In mode `function` the edge publishes the reference format (a JSON array of rows),
which a schema would refuse, and the event processor validates instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktn import ITerraformDependable, TerraformResourceLifecycle
from cdktn_provider_google.pubsub_schema import PubsubSchema
from cdktn_provider_google.pubsub_subscription import (
    PubsubSubscription,
    PubsubSubscriptionExpirationPolicy,
)
from cdktn_provider_google.pubsub_topic import PubsubTopic, PubsubTopicSchemaSettings
from constructs import Construct

from infra.config import Environment
from infra.constructs import labels
from schemas import Registry
from schemas.topic import avro_schema_json

# Topic -> the ingest table its messages are rows of. Devices publish to sensor_data, the
# weather poller to meteo_data (the reference deployment's names).
TOPICS = {"sensor_data": "sensor_thermo_beacon", "meteo_data": "weather_data"}
DEAD_LETTER_TOPIC = "ingest_dead_letter"
RETENTION = "604800s"  # 7 days: what Pub/Sub keeps of an unacknowledged message


class MessagingError(ValueError):
    """The topics and the ingest tables of `schemas/` disagree."""


class Messaging(Construct):
    """Out: `topics` by name, `tables` (topic -> table name), `dead_letter` topic."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        env: Environment,
        registry: Registry,
        apis: Sequence[ITerraformDependable],
    ) -> None:
        super().__init__(scope, id_)
        ingest = {t.name for t in registry.ingest_tables()}
        if set(TOPICS.values()) != ingest:
            raise MessagingError(
                f"topics carry {sorted(TOPICS.values())} but schemas/ marks {sorted(ingest)} "
                "ingest = true: give each ingest table a topic in infra/constructs/messaging.py"
            )
        self.tables = dict(TOPICS)
        self.schemas: dict[str, PubsubSchema] = {}
        self.topics: dict[str, PubsubTopic] = {}
        for topic, table_name in TOPICS.items():
            table = registry[table_name]
            schema = PubsubSchema(
                self,
                f"{topic}-schema",
                project=env.project,
                name=f"{table_name}_v{table.version}",
                type="AVRO",
                definition=avro_schema_json(table),
                depends_on=list(apis),
                # A version bump is a new schema; the topic moves to it before the old
                # one (still attached until then) is deleted.
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            )
            self.schemas[topic] = schema
            self.topics[topic] = PubsubTopic(
                self,
                topic,
                project=env.project,
                name=topic,
                message_retention_duration=RETENTION,
                schema_settings=(
                    PubsubTopicSchemaSettings(schema=schema.id, encoding="JSON")
                    if env.ingest_mode == "bigquery_subscription"
                    else None
                ),
                labels=labels(env, "ingest"),
                depends_on=list(apis),
            )
        self.dead_letter = PubsubTopic(
            self,
            "dead-letter",
            project=env.project,
            name=DEAD_LETTER_TOPIC,
            message_retention_duration=RETENTION,
            labels=labels(env, "ingest"),
            depends_on=list(apis),
        )
        # Pub/Sub drops what reaches a topic without subscriptions: this one holds the
        # undeliverable messages for inspection and replay.
        self.dead_letter_hold = PubsubSubscription(
            self,
            "dead-letter-hold",
            project=env.project,
            name=f"{DEAD_LETTER_TOPIC}_hold",
            topic=self.dead_letter.id,
            message_retention_duration=RETENTION,
            retain_acked_messages=True,
            ack_deadline_seconds=60,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
            labels=labels(env, "ingest"),
        )
