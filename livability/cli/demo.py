"""`livability demo`: simulate homes, ingest them through the event processor, score."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import (
    bounded,
    cell,
    fmt,
    parse_date,
    progress_bar,
    safe,
    week_in_contract,
)
from livability.settings import Settings

if TYPE_CHECKING:
    from livability.sim.demo import DemoResult


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="simulate homes, ingest through the event processor, score"
    )
    demo.add_argument(
        "--homes", type=bounded(10_000), default=10, help="homes to simulate (default 10)"
    )
    demo.add_argument(
        "--weeks", type=bounded(52), default=2, help="weeks to simulate (default 2, at most 52)"
    )
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    demo.add_argument(
        "--start", type=parse_date, help="first day (default: the Monday two complete weeks ago)"
    )
    demo.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from livability.sim import demo

    start = week_in_contract(
        args.start or demo.default_start(datetime.now(UTC).date()), args.weeks, "--start"
    )
    # One sentence per line, never wrapped mid-sentence by the console (issue 16).
    err.print(
        f"Simulating {args.homes} homes for {args.weeks} weeks from {start} (seed {args.seed}).",
        soft_wrap=True,
    )
    err.print(safe(f"Warehouse: {settings.warehouse_url}"), soft_wrap=True)
    began = time.perf_counter()
    with progress_bar(err) as progress:
        task = progress.add_task("Pub/Sub → event processor", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = demo.run(
            settings,
            homes=args.homes,
            seed=args.seed,
            start=start,
            weeks=args.weeks,
            on_message=advance,
        )
    out.print(scores_table(result))
    lines: tuple[str, ...] = (
        f"{result.messages} messages ingested, {len(result.weeks)} week(s) scored in "
        f"{time.perf_counter() - began:.1f} s.",
        f"Vectors: {settings.bucket_url}/scores/",
        f"Table: {settings.dataset}.livability_scores in {settings.warehouse_url}",
    )
    if result.fleet is not None:
        lines += (
            f"Fleet at {result.fleet.now:%Y-%m-%d %H:%M} UTC (`livability fleet --at`): "
            f"{result.fleet.summary()}",
        )
    if result.certificates:
        index = result.certificates
        if index.startswith("file://"):  # the embedded bucket: a path to open
            index = url2pathname(urlparse(index).path)
        lines += (f"Certificates of the last week (open in a browser): {index}",)
    for text in lines:
        out.print(safe(text), soft_wrap=True)
    return 0


# The vector columns shown, with their decimals, after home, archetype, site, change, interval.
COLUMNS = (
    ("score", 1),
    ("grade", 0),
    ("cold_hazard", 1),
    ("heat_hazard", 1),
    ("damp_hazard", 1),
    ("comfort", 1),
    ("coverage", 2),
    ("surface_rh_mean", 1),
    ("flags", 0),
)
HEADERS = {
    "cold_hazard": "cold",
    "heat_hazard": "heat",
    "damp_hazard": "damp",
    "surface_rh_mean": "surface %RH",
}


def scores_table(result: DemoResult) -> RichTable:
    """The last simulated week's scores, one row per home, with the change since the week
    before."""
    vectors = {(r["home_id"], r["week_start"]): r for r in result.vectors.to_dicts()}
    last, previous = result.weeks[-1], result.weeks[-2] if len(result.weeks) > 1 else None
    table = RichTable(
        title=f"Livability scores, week of {last} (model {_model_version()})",
        caption="?: provisional (see flags); -: not graded",
    )
    for column in ("home", "archetype", "site", "Δ week", "interval"):
        left = column in ("archetype", "site")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for column, _ in COLUMNS:
        table.add_column(
            HEADERS.get(column, column), justify="left" if column == "flags" else "right"
        )
    for home in result.homes:
        v = vectors.get((home.home_id, last))
        if v is None:
            continue
        before = vectors.get((home.home_id, previous)) if previous else None
        delta = (
            f"{v['score'] - before['score']:+.1f}"
            if before and v["score"] is not None and before["score"] is not None
            else "-"
        )
        table.add_row(
            fmt(home.home_id),
            safe(home.archetype),
            safe(home.site.name),
            safe(delta),
            f"{cell(v, 'score_low', 1)}-{cell(v, 'score_high', 1)}",
            *(cell(v, column, digits) for column, digits in COLUMNS),
        )
    return table


def _model_version() -> str:
    from scoring.model import MODEL_VERSION

    return MODEL_VERSION
