"""`livability dead-letter list|replay`: what was rejected, and loading it once the rule allows.

A replay never changes or removes a dead letter: it appends a replay record saying what
became of it ('loaded', 'duplicate' or 'rejected' with the new reason).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import CliError, parse_date, print_json, safe
from livability.ingest.dead_letters import UnknownDeadLetterError, list_dead_letters, replay
from livability.settings import Settings

_REASON_WIDTH = 60


def register(commands: Any) -> None:
    parser = commands.add_parser("dead-letter", help="list and replay rejected rows and messages")
    sub = parser.add_subparsers(
        dest="dead_letter_command", required=True, parser_class=type(parser)
    )
    listing = sub.add_parser("list", help="original dead letters with their latest replay")
    listing.add_argument(
        "--since", type=parse_date, help="received on or after this day, YYYY-MM-DD (default all)"
    )
    listing.add_argument("--json", action="store_true", help="print them as a JSON list")
    listing.set_defaults(run=run_list)
    again = sub.add_parser(
        "replay", help="re-validate dead letters; load what now passes, exactly once"
    )
    again.add_argument("--all", action="store_true", help="every dead letter not yet loaded")
    again.add_argument("ids", nargs="*", metavar="ID", help="row_id of a dead letter (see list)")
    again.set_defaults(run=run_replay, parser=again)


def run_list(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    warehouse = settings.open_warehouse()
    try:
        letters = list_dead_letters(warehouse, args.since)
    finally:
        warehouse.close()
    if args.json:
        print_json(out, [d.to_json() for d in letters])
        return 0
    if not letters:
        err.print("No dead letters" + (f" since {args.since}." if args.since else "."))
        return 0
    table = RichTable(title=f"Dead letters in {settings.dataset}.dead_letter")
    for column in ("row_id", "day", "received_at", "target_table", "reason", "replay"):
        table.add_column(column, overflow="fold" if column == "row_id" else "ellipsis")
    for d in letters:
        reason = d.reason if len(d.reason) <= _REASON_WIDTH else d.reason[: _REASON_WIDTH - 1] + "…"
        latest = d.latest
        state = f"{latest.outcome} {latest.received_at:%Y-%m-%d %H:%M}" if latest else "-"
        cells = (
            d.row_id,
            d.day.isoformat(),
            f"{d.received_at:%Y-%m-%d %H:%M:%S}",
            d.target_table or "-",
            reason,
            state,
        )
        # Inert text, not markup: reasons quote payloads (escapes, [brackets]).
        table.add_row(*(safe(cell) for cell in cells))
    out.print(table)
    return 0


def run_replay(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    if args.all == bool(args.ids):
        args.parser.error("give either --all or one or more dead-letter IDs")
    warehouse = settings.open_warehouse()
    # A payload over the table's 1 MB was kept whole in the data bucket: read back from there.
    bucket = settings.open_bucket()
    try:
        ids = None if args.all else args.ids
        result = replay(warehouse, ids, datetime.now(UTC), spill=bucket)
    except UnknownDeadLetterError as error:
        raise CliError(str(error)) from None
    finally:
        warehouse.close()
        bucket.close()
    out.print(
        f"{len(result.records)} dead letter(s) replayed: {result.loaded} loaded, "
        f"{result.duplicate} duplicate (already stored), {result.rejected} still rejected",
        markup=False,
    )
    return 0
