"""`livability smoke`: prove a deployed environment (or the local stack) end to end.

    livability smoke --scheduler projects/P/locations/R/jobs/PREFIX    # a deployed project
    livability smoke --score-url URL --archive-url URL                 # functions over HTTP
    livability smoke --cleanup RUN_ID --day YYYY-MM-DD                 # finish a cleanup later

The topic, warehouse and archive come from the settings (LIVABILITY_TOPIC, _WAREHOUSE,
_ARCHIVE, _ROWS_PER_MESSAGE; `make smoke ENV=...` sets them from the environment file). Each
step is printed as it ends, with its latency; exit status 1 if any failed
(livability/smoke/run.py says what each step proves).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from livability.cli.common import CliError, parse_date, safe
from livability.settings import Settings, open_publisher
from livability.smoke import run as smoke
from livability.smoke.jobs import HttpJobs, Jobs, SchedulerJobs


def _seconds(most: float) -> Any:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not 0 < number <= most:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds in (0, {most}]")
        return number

    return parse


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "smoke", help="publish, ingest, dead-letter, weekly jobs, archive: prove a deployment"
    )
    parser.add_argument("--scheduler", metavar="projects/P/locations/R/jobs/PREFIX",
                        help="run the weekly jobs through their Cloud Scheduler jobs")  # fmt: skip
    parser.add_argument("--score-url", help="the weekly scoring function's URL")
    parser.add_argument("--archive-url", help="the weekly archive function's URL")
    parser.add_argument("--timeout", type=_seconds(3600), default=300.0,
                        help="seconds to wait for each stored row (default 300)")  # fmt: skip
    parser.add_argument("--cleanup-wait", type=_seconds(7200), default=120.0,
                        help="seconds to retry deleting streamed rows (default 120)")  # fmt: skip
    parser.add_argument("--cleanup", metavar="RUN_ID", help="only delete what run RUN_ID stored")
    parser.add_argument("--day", type=parse_date, help="the day of run RUN_ID (with --cleanup)")
    parser.set_defaults(run=run)


def _jobs(args: argparse.Namespace) -> Jobs:
    if args.scheduler:
        if args.score_url or args.archive_url:
            raise CliError("--scheduler and --score-url/--archive-url exclude each other")
        if not args.scheduler.startswith("projects/") or "/jobs/" not in args.scheduler:
            raise CliError(
                f"--scheduler: {args.scheduler!r} is not projects/P/locations/R/jobs/PREFIX"
            )
        return SchedulerJobs.from_adc(args.scheduler)
    if not (args.score_url and args.archive_url):
        raise CliError("name the weekly jobs: --scheduler, or --score-url and --archive-url")
    return HttpJobs(args.score_url, args.archive_url)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    options = smoke.Options(timeout=args.timeout, cleanup_wait=args.cleanup_wait)
    if args.cleanup:
        if args.day is None:
            raise CliError("--cleanup needs --day (the day the run printed)")
        warehouse = settings.open_warehouse()
        try:
            out.print(smoke.cleanup(warehouse, args.cleanup, args.day, options))
        except smoke.SmokeError as error:
            raise CliError(str(error)) from None
        finally:
            warehouse.close()
        return 0
    jobs = _jobs(args)
    publisher = open_publisher(settings)
    warehouse = settings.open_warehouse()
    archive = settings.open_archive()
    target = smoke.Target(publisher, warehouse, archive, jobs)
    err.print(
        f"Smoke test: topic {settings.topic}, warehouse {settings.warehouse_url}, "
        f"archive {archive.url}"
    )

    def show(step: smoke.Step) -> None:
        mark = Text("ok", "green") if step.ok else Text("FAILED", "red")
        err.print(mark + safe(f" {step.name} ({step.seconds:.2f} s): {step.detail}"))

    try:
        report = smoke.run(target, options, on_step=show)
    finally:
        publisher.close()
        warehouse.close()
        archive.close()
    table = RichTable(title=f"Smoke run {report.run_id} ({report.day}, week {report.week})")
    for column in ("step", "result", "seconds", "detail"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for step in report.steps:
        cells = (step.name, "ok" if step.ok else "FAILED", f"{step.seconds:.2f}", step.detail)
        table.add_row(*(safe(c) for c in cells))
    out.print(table)
    if not report.ok:
        failed = [s.name for s in report.steps if not s.ok]
        raise CliError(f"smoke run {report.run_id} failed: {', '.join(failed)}")
    return 0
