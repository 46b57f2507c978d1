"""Pub/Sub: the ingest topics, their Avro schemas from `schemas/`, and the dead-letter topic.

Each ingest table of `schemas/` has one topic (`TOPICS`). The topic schema is the data
plane's generator (`schemas.topic.avro_schema_json`), declared in every mode; it is attached
to the topic only in ingest mode `bigquery_subscription`, where each message is one row in
Avro JSON. In mode `function` the edge publishes the reference format (a JSON array of rows),
which a schema would refuse, and the event processor validates instead.
"""

from __future__ import annotations

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.pubsub_schema import PubsubSchema
from cdktn_provider_google.pubsub_subscription import (
    PubsubSubscription,
    PubsubSubscriptionExpirationPolicy,
)
from cdktn_provider_google.pubsub_topic import PubsubTopic, PubsubTopicSchemaSettings

from infra.constructs import Part
from schemas.topic import avro_schema_json

# Topic -> the ingest table its messages are rows of. Devices publish to sensor_data, the
# weather poller to meteo_data (the reference deployment's names).
TOPICS = {"sensor_data": "sensor_thermo_beacon", "meteo_data": "weather_data"}
DEAD_LETTER_TOPIC = "ingest_dead_letter"
RETENTION = "604800s"  # 7 days: what Pub/Sub keeps of an unacknowledged message


class MessagingError(ValueError):
    """The topics and the ingest tables of `schemas/` disagree."""


class Messaging(Part):
    """Out: `topics` by name, `tables` (topic -> table name), `dead_letter` topic."""

    def declare(self) -> None:
        env, registry = self.env, self.inputs.registry
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
                name=f"{table_name}_v{table.version}",
                type="AVRO",
                definition=avro_schema_json(table),
                # A version bump is a new schema; the topic moves to it before the old
                # one (still attached until then) is deleted.
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
                **self.placed(),
            )
            self.schemas[topic] = schema
            attached = env.ingest_mode == "bigquery_subscription"
            self.topics[topic] = self._topic(
                topic,
                topic,
                PubsubTopicSchemaSettings(schema=schema.id, encoding="JSON") if attached else None,
            )
        self.dead_letter = self._topic("dead-letter", DEAD_LETTER_TOPIC)
        # Pub/Sub drops what reaches a topic without subscriptions: this one holds the
        # undeliverable messages for inspection and replay.
        self.dead_letter_hold = PubsubSubscription(
            self,
            "dead-letter-hold",
            name=f"{DEAD_LETTER_TOPIC}_hold",
            topic=self.dead_letter.id,
            message_retention_duration=RETENTION,
            retain_acked_messages=True,
            ack_deadline_seconds=60,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
            **self.placed("ingest", after_apis=False),
        )

    def _topic(
        self, id_: str, name: str, schema: PubsubTopicSchemaSettings | None = None
    ) -> PubsubTopic:
        """A topic that keeps an unacknowledged message for RETENTION."""
        return PubsubTopic(
            self,
            id_,
            name=name,
            message_retention_duration=RETENTION,
            schema_settings=schema,
            **self.placed("ingest"),
        )
