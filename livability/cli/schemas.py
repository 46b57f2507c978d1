"""`livability schemas topic-schema TABLE`: print the Pub/Sub topic schema made from `schemas/`.

The infra stack creates the topic schema of each ingest table from this output, so the
BigQuery subscription of ingest mode (b) and the contract cannot drift apart.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from livability.cli.common import CliError
from livability.settings import Settings
from schemas import UnknownTableError, registry
from schemas.topic import TopicSchemaError, avro_schema_json


def register(commands: Any) -> None:
    parser = commands.add_parser("schemas", help="what the contract in schemas/ generates")
    sub = parser.add_subparsers(dest="schemas_command", required=True, parser_class=type(parser))
    topic = sub.add_parser(
        "topic-schema", help="print the Pub/Sub topic schema (JSON encoding) of an ingest table"
    )
    topic.add_argument("table", help="an ingest table of schemas/, e.g. sensor_thermo_beacon")
    topic.add_argument(
        "--format", choices=("avro",), default="avro", help="schema type (default avro)"
    )
    topic.set_defaults(run=run_topic_schema)


def run_topic_schema(
    args: argparse.Namespace, settings: Settings, out: Console, err: Console
) -> int:
    try:
        text = avro_schema_json(registry()[args.table])
    except (UnknownTableError, TopicSchemaError) as error:
        raise CliError(str(error)) from None
    # Plain output, no markup or wrapping: the infra stack reads it as JSON.
    out.out(text, end="", highlight=False)
    return 0
