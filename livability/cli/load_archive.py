"""`livability load-archive PATH [--json]`: load BigQuery JSON exports through validation."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack, closing
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import CliError, fmt, inert, print_json, progress_bar, safe
from livability.settings import Settings

if TYPE_CHECKING:
    from livability.archive.survey import Location, Problem, Survey


def register(commands: Any) -> None:
    archive = commands.add_parser(
        "load-archive", help="load BigQuery JSON exports <week>/<table>/*.gz"
    )
    archive.add_argument("path", help="archive folder, or one <week start> folder in it")
    archive.add_argument("--json", action="store_true", help="print counts as JSON")
    archive.set_defaults(run=run)


def _survey(settings: Settings, path: str, stack: ExitStack) -> tuple[Location, Survey]:
    """What PATH holds; a bucket it opens is closed when `stack` is."""
    from livability.archive import ArchiveError, survey
    from livability.settings import open_bucket

    try:
        where = survey.locate(path)
    except ArchiveError as error:
        raise CliError(str(error)) from None
    bucket = None
    if where.url is not None:
        bucket = stack.enter_context(closing(open_bucket(settings, where.url)))
    try:
        found = survey.survey_bucket(bucket, where.week) if bucket else survey.survey(where.root)
    except ArchiveError as error:
        raise CliError(str(error)) from None
    if not found.files and not found.problems:
        raise CliError(f"{where.text}: no <week start>/<table>/*.gz export files found")
    return where, found


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from livability.archive import loader

    with ExitStack() as stack:
        where, found = _survey(settings, str(args.path), stack)
        text, root = where.text, where.root
        warehouse = stack.enter_context(closing(settings.open_warehouse()))
        began = time.perf_counter()
        with progress_bar(err) as progress:
            task = progress.add_task(f"Loading {len(found.files)} file(s)", total=None)
            report = loader.load_archive(
                warehouse, found, root=root, on_rows=lambda n: progress.advance(task, n)
            )
    seconds = time.perf_counter() - began
    counts = {
        name: {"loaded": r.loaded, "rejected": r.rejected, "duplicates": r.duplicates}
        for name, r in report.totals.items()
    }
    if args.json:
        problems = [
            {"where": p.where, "reason": p.reason, "damage": p.damage} for p in report.problems
        ]
        print_json(out, {"tables": counts, "problems": problems})
    else:
        table = RichTable(title=f"Loaded {text}")
        for column in ("table", "loaded", "rejected", "duplicates"):
            table.add_column(column, justify="left" if column == "table" else "right")
        for name, c in counts.items():
            table.add_row(safe(name), *(fmt(c[k]) for k in ("loaded", "rejected", "duplicates")))
        out.print(table)
        rows = sum(sum(c.values()) for c in counts.values())
        out.print(f"{rows} rows in {seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
    _print_problems(report.problems, verbose=bool(getattr(args, "verbose", False)))
    damaged = [p for p in report.problems if p.damage]
    if damaged:
        raise CliError(
            f"{len(damaged)} file(s) or folder(s) of {text} damaged or refused, the rest "
            "loaded; each is a dead letter (livability dead-letter list); fix and rerun, "
            "nothing loads twice"
        )
    return 0


SHOWN = 5  # problems of each kind printed without -v


def _print_problems(problems: list[Problem], *, verbose: bool) -> None:
    """Each problem with -v; else the first few of each kind and how many more (--json has
    them all), so a folder of 10,000 stray entries is not 10,000 lines."""
    for damage, kind in ((True, "damaged"), (False, "skipped")):
        chosen = [p for p in problems if p.damage is damage]
        for problem in chosen if verbose else chosen[:SHOWN]:
            print(f"livability: {kind}: {inert(problem)}", file=sys.stderr)
        if not verbose and len(chosen) > SHOWN:
            more = len(chosen) - SHOWN
            print(f"livability: {kind}: {more} more (see -v or --json)", file=sys.stderr)
