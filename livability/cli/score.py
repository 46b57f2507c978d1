"""`livability score --week D [--json] [--refresh | --raw]`: score a week in the warehouse and
publish the vectors and the homes' certificates (`certificates/<week>/` in the bucket), as the
weekly job does. From the daily rollup (its missing days written first), `--refresh` writing
the week's days again, or `--raw` from the readings (scoring/job.py)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import cell, parse_date, print_json, week_in_contract
from livability.settings import Settings

# (column, header, digits): what a person reads first, then the physics behind it.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("home_id", "home", 0),
    ("score", "score", 1),
    ("grade", "grade", 0),
    ("score_low", "low", 1),
    ("score_high", "high", 1),
    ("cold_hazard", "cold", 1),
    ("heat_hazard", "heat", 1),
    ("damp_hazard", "damp", 1),
    ("comfort", "comfort", 1),
    ("coverage", "coverage", 2),
    ("temperature_mean", "°C", 1),
    ("humidity_mean", "%RH", 1),
    ("surface_rh_mean", "surface %RH", 1),
    ("flags", "flags", 0),
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "score", help="score the 7 days starting --week in the warehouse, publish the vectors"
    )
    parser.add_argument(
        "--week", type=parse_date, required=True, help="first day of the week, YYYY-MM-DD"
    )
    parser.add_argument("--json", action="store_true", help="print the vectors as a JSON list")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--refresh",
        action="store_true",
        help="write the week's days of the daily rollup again first (after late data)",
    )
    source.add_argument(
        "--raw", action="store_true", help="score from the raw readings, not the daily rollup"
    )
    parser.set_defaults(run=run)


def score_table(vectors: list[dict[str, Any]], title: str) -> RichTable:
    table = RichTable(title=title, caption="?: provisional (see flags); -: not graded")
    for column, header, _ in COLUMNS:
        table.add_column(header, justify="left" if column == "flags" else "right")
    for vector in vectors:
        table.add_row(*(cell(vector, column, digits) for column, _, digits in COLUMNS))
    return table


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from livability.certificate import publish as certificates
    from schemas import registry
    from schemas.validation import to_json, validate_row
    from scoring import job
    from scoring.model import MODEL_VERSION
    from scoring.selects import Source

    week = week_in_contract(args.week)
    warehouse = settings.open_warehouse()
    bucket = settings.open_bucket()
    try:
        source: Source = "raw" if args.raw else "rollup"
        published = job.run(
            warehouse, bucket, week, datetime.now(UTC), source, refresh=args.refresh
        )
        # As the weekly function does.
        index = certificates.publish_week(
            warehouse, bucket, week, published.vectors, ranges=published.ranges
        )
    finally:
        warehouse.close()
        bucket.close()
    vectors = published.vectors.to_dicts()
    if args.json:
        # As published to the bucket and the table: validated, with their row ids.
        scores = registry()["livability_scores"]
        print_json(out, [to_json(validate_row(scores, to_json(v))) for v in vectors])
        return 0
    if not vectors:
        err.print(f"No readings in the 7 days from {week}: nothing to score.")
        return 0
    out.print(score_table(vectors, f"Livability scores, week of {week} (model {MODEL_VERSION})"))
    out.print(f"Published to {published.object_uri}; certificates: {index}")
    return 0
