"""`livability archive`: the weekly archive of the raw tables, and its verification.

    livability archive --week 2024-12-02            archive the 7 days from that date
    livability archive --all-complete-weeks         every complete Monday week with rows
    livability archive --verify --week 2024-12-02   check a week's files against its manifest
    livability archive --verify --all-complete-weeks   check every week of the archive

Writes to LIVABILITY_ARCHIVE (default $LIVABILITY_HOME/archive): a folder, or gs://.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability import weeks as platform_weeks
from livability.archive import ArchiveError, schedule, verify, writer
from livability.archive.format import archived_tables, archived_weeks
from livability.cli.common import (
    CliError,
    inert,
    monday_only,
    parse_date,
    print_json,
    progress_bar,
    safe,
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "archive",
        help="archive raw tables by week to LIVABILITY_ARCHIVE (<week>/<table>/*.gz + manifest)",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--week", type=parse_date, help="first day of the week (the 7 days from it), YYYY-MM-DD"
    )
    which.add_argument(
        "--all-complete-weeks",
        action="store_true",
        help="every Monday week that has ended and holds rows (with --verify: every archived week)",
    )
    parser.add_argument(
        "--verify", action="store_true", help="only check the files against the manifest"
    )
    parser.add_argument(
        "--force", action="store_true", help="rewrite a week even if the warehouse is unchanged"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(run=run)


def _check_week(week: date) -> date:
    low, high = archived_tables()[0].ranges["day"]
    if not low <= week <= high:
        raise CliError(
            f"--week {week.isoformat()}: must lie within {low.isoformat()}..{high.isoformat()}, "
            "the plausible range in schemas/tables.toml"
        )
    return monday_only(week)


def run(args: argparse.Namespace, settings: Any, out: Console, err: Console) -> int:
    if args.verify and args.force:
        raise CliError("--force rewrites and --verify only reads: give one of them")
    bucket = settings.open_archive()
    try:
        if args.verify:
            return _verify(args, bucket, out)
        return _archive(args, settings, bucket, out, err)
    except (ArchiveError, ValueError) as error:
        raise CliError(str(error)) from None
    finally:
        bucket.close()


def _verify(args: argparse.Namespace, bucket: Any, out: Console) -> int:
    weeks = [_check_week(args.week)] if args.week else archived_weeks(bucket)
    if not weeks:
        raise CliError(f"{bucket.url}: no archived weeks to verify")
    results = [verify.verify_week(bucket, week) for week in weeks]
    if args.json:
        print_json(
            out,
            [
                {
                    "week": r.week.isoformat(),
                    "verified": r.ok,
                    "tables": r.tables,
                    "problems": r.problems,
                    "notes": r.notes,
                }
                for r in results
            ],
        )
    else:
        table = RichTable(title=f"Verification of {bucket.url}")
        for column in ("week", "verified", "rows", "problems"):
            table.add_column(column, justify="right" if column == "rows" else "left")
        for r in results:
            rows = ", ".join(f"{t} {n}" for t, n in r.tables.items())
            problems = "; ".join(r.problems)
            table.add_row(safe(r.week), "yes" if r.ok else "NO", safe(rows), safe(problems))
        out.print(table)
    for r in results:
        for note in r.notes:
            print(f"livability: note: {inert(note)}", file=sys.stderr)
    failed = [r for r in results if not r.ok]
    if failed:
        raise CliError(
            f"{len(failed)} week(s) do not match their manifest: "
            + ", ".join(r.week.isoformat() for r in failed)
            + "; archive them again (livability archive --week D --force)"
        )
    return 0


def _archive(
    args: argparse.Namespace, settings: Any, bucket: Any, out: Console, err: Console
) -> int:
    warehouse = settings.open_warehouse()
    try:
        if args.week:
            chosen = [_check_week(args.week)]
        else:
            today = datetime.now(UTC).date()
            chosen = schedule.weeks_with_rows(
                warehouse, platform_weeks.last_day(platform_weeks.last_complete_week(today))
            )
        outcomes = []
        with progress_bar(err) as progress:
            task = progress.add_task(f"Archiving {len(chosen)} week(s)", total=None)
            for week in chosen:
                progress.update(task, description=f"Archiving {week.isoformat()}")
                outcomes.append(
                    writer.archive_week(
                        warehouse,
                        bucket,
                        week,
                        source=str(settings.warehouse_url),
                        force=args.force,
                        on_rows=lambda n: progress.advance(task, n),
                    )
                )
    finally:
        warehouse.close()
    if args.json:
        print_json(
            out,
            {
                "archive": bucket.url,
                "weeks": [
                    {**asdict(o), "week": o.week.isoformat(), "seconds": round(o.seconds, 3)}
                    for o in outcomes
                ],
            },
        )
    else:
        table = RichTable(title=f"Archive {bucket.url}")
        for column in ("week", "action", "rows", "verified", "rows/s"):
            table.add_column(column, justify="left" if column in ("week", "action") else "right")
        for o in outcomes:
            rows = ", ".join(f"{t} {n}" for t, n in o.tables.items()) or "-"
            rate = f"{o.rows / o.seconds:,.0f}" if o.action == "archived" and o.seconds else "-"
            verified = "-" if o.action == "empty" else ("yes" if o.verified else "NO")
            table.add_row(*(safe(c) for c in (o.week, o.action, rows, verified, rate)))
        out.print(table)
        if not outcomes:
            out.print("No complete week holds rows: nothing to archive.")
    for o in outcomes:
        for note in o.notes:
            print(f"livability: note: {o.week.isoformat()}: {note}", file=sys.stderr)
    failed = [o for o in outcomes if o.action != "empty" and not o.verified]
    if failed:
        problems = "; ".join(p for o in failed for p in o.problems[:3])
        raise CliError(f"{len(failed)} week(s) archived but not verified ({problems}); run again")
    return 0
