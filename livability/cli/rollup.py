"""`livability rollup [--from D --to D] [--json]`: write the daily rollup's days, as the daily
function does (`scoring/daily.py`): by default yesterday (UTC); with `--from`/`--to`,
exactly those days again, e.g.
after a gateway's outbox delivered weeks of late readings (docs/operations.md, "Daily rollup
and late data")."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import Any

from rich.console import Console

from livability.cli.common import CliError, parse_date, print_json, safe
from livability.settings import Settings


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "rollup", help="write the daily rollup's due days, or --from..--to again"
    )
    parser.add_argument(
        "--from", dest="first", type=parse_date, help="first day to write again, YYYY-MM-DD"
    )
    parser.add_argument(
        "--to", dest="last", type=parse_date, help="last day to write again (closed), YYYY-MM-DD"
    )
    parser.add_argument("--json", action="store_true", help="print the days written as JSON")
    parser.set_defaults(run=run)


def spans(days: list[date]) -> str:
    """Days as runs of consecutive dates: `2025-01-01..2025-01-03, 2025-01-05`."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        r[0].isoformat() if len(r) == 1 else f"{r[0].isoformat()}..{r[-1].isoformat()}"
        for r in runs
    )


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from scoring import daily

    today = datetime.now(UTC).date()
    if (args.first is None) != (args.last is None):
        given, missing = ("--from", "--to") if args.last is None else ("--to", "--from")
        value = args.first or args.last
        raise CliError(f"{missing}: missing; give it with {given} {value.isoformat()}")
    span = None if args.first is None else (args.first, args.last)
    if span is not None:
        try:
            daily.requested_days(*span, today)
        except ValueError as error:
            raise CliError(f"--{error}") from None
    warehouse = settings.open_warehouse()
    try:
        done = daily.run(warehouse, today, span)
    finally:
        warehouse.close()
    if args.json:
        print_json(out, done.to_json())
        return 0
    lines = [
        f"Daily rollup written: {len(done.days)} day(s) of sensor_hours",
        f"  days: {spans(done.days)}",
    ]
    for line in lines:
        out.print(safe(line))
    return 0
