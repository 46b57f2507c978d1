"""`livability fleet`: is every home reporting, how well, and how are the batteries.

Per home and sensor: last reading, coverage over the last 24 h and 7 days, battery level and
trend; gateways silent longer than 3 h, sensors below 20 % battery, dead letters by reason
over the period (`livability.fleet.check`). Problems first, at most 10,000 sensor rows.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import CliError, fmt, parse_date, print_json, safe
from livability.fleet.check import FleetError, FleetReport, check
from livability.settings import Settings

_SHOWN = 50  # sensor rows in the table; --json gives them all


def _instant(value: str) -> datetime:
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date-time (YYYY-MM-DDTHH:MM[:SS][+00:00])"
        ) from None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "fleet", help="fleet health: silent gateways, low batteries, coverage, dead letters"
    )
    parser.add_argument(
        "--since",
        type=parse_date,
        help="read readings and dead letters from this day, YYYY-MM-DD (default: 7 days back, "
        "at most 92)",
    )
    parser.add_argument("--at", type=_instant, help="the instant to judge at, UTC (default: now)")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    now = args.at or datetime.now(UTC)
    since = datetime.combine(args.since, time(), UTC) if args.since else None
    warehouse = settings.open_warehouse()
    try:
        report = check(warehouse, now, since)
    except FleetError as error:
        raise CliError(str(error)) from None
    finally:
        warehouse.close()
    if args.json:
        print_json(out, report.to_json())
        return 0
    out.print(table(report))
    if report.dead_letters:
        reasons = ", ".join(f"{n} {reason}" for reason, n in report.dead_letters.items())
        out.print(safe(f"Dead letters by reason: {reasons}"))
    out.print(safe(report.summary()))
    return 0


def table(report: FleetReport) -> RichTable:
    shown = report.rows[:_SHOWN]
    more = report.sensors - len(shown)
    found = RichTable(
        title=f"Fleet at {report.now:%Y-%m-%d %H:%M} UTC, readings since {report.since:%Y-%m-%d}",
        caption=f"{more} more sensor(s): --json lists up to 10,000" if more > 0 else None,
    )
    for column in ("home", "mac", "last reading", "24 h", "7 d", "battery %", "%/day", "state"):
        found.add_column(column, justify="left" if column == "state" else "right")
    for r in shown:
        state = [
            *(["gateway silent"] if r.gateway_silent else []),
            *(["battery low"] if r.battery_low else []),
        ]
        found.add_row(
            fmt(r.home_id),
            f"{r.mac:012X}",
            f"{r.last_reading:%Y-%m-%d %H:%M}",
            f"{r.coverage_24h:.0%}",
            f"{r.coverage_7d:.0%}",
            fmt(r.battery),
            fmt(r.battery_trend),
            safe(", ".join(state) or "ok"),
        )
    return found
