"""`livability`: run the platform on one machine (demo, load-archive, score, serve)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

from livability.logs import configure_logging
from livability.ports import BackendError
from livability.settings import Settings, SettingsError
from schemas import SchemaError

FAILURES = (BackendError, SettingsError, SchemaError, OSError)


def command_modules() -> list[str]:
    """Subcommands that live in modules of their own, `livability/local/commands/*.py`: each
    has `register(commands)`, which adds its parsers with `set_defaults(run=...)`."""
    from livability.local import commands

    return sorted(
        f"{commands.__name__}.{m.name}"
        for m in pkgutil.iter_modules(commands.__path__)
        if not m.name.startswith("_")
    )


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def positive_int(value: str, most: int = 10**9) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= most:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer from 1 to {most:,}")
    return int(value)


def bounded(most: int) -> Callable[[str], int]:
    """`positive_int` with an upper bound: a demo of 10 million homes would not end."""
    return lambda value: positive_int(value, most)


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535)")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="livability",
        description="Livability Score platform on one machine. Data lives under "
        "$LIVABILITY_HOME (default .livability/): a DuckDB warehouse and a bucket folder.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO as JSON to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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

    archive = commands.add_parser(
        "load-archive", help="load BigQuery JSON exports <week>/<table>/*.gz"
    )
    archive.add_argument("path", type=Path, help="archive folder, or one <week start> folder in it")
    archive.add_argument("--json", action="store_true", help="print counts as JSON")

    serve = commands.add_parser("serve", help="serve the event processor on 127.0.0.1")
    serve.add_argument("--port", type=_port, default=8080, help="TCP port (default 8080)")

    demo.set_defaults(run=cmd_demo)
    archive.set_defaults(run=cmd_load_archive)
    serve.set_defaults(run=cmd_serve)
    for name in command_modules():
        importlib.import_module(name).register(commands)
    return parser


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,  # leaves the screen to the result (or the one-line error)
        disable=not console.is_terminal,  # no bar in logs and pipes
    )


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cmd_demo(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from livability.local import demo

    start = _week_in_contract(
        args.start or demo.default_start(datetime.now(UTC).date()), args.weeks, "--start"
    )
    err.print(
        f"Simulating {args.homes} homes for {args.weeks} weeks from {start} (seed {args.seed}) "
        f"into {settings.warehouse_url}"
    )
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
    from livability.local.commands.score import cell

    vectors = {(r["home_id"], r["week_start"]): r for r in result.vectors.to_dicts()}
    last, previous = result.weeks[-1], result.weeks[-2] if len(result.weeks) > 1 else None
    table = RichTable(
        title=f"Livability scores, week of {last} (model {_model_version()})",
        caption="?: provisional (see flags); -: not graded",
    )
    columns = (
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
    headers = {
        "score_low": "low",
        "score_high": "high",
        "cold_hazard": "cold",
        "heat_hazard": "heat",
        "damp_hazard": "damp",
        "temperature_mean": "°C",
        "surface_rh_mean": "surface %RH",
    }
    for column in ("home", "archetype", "site", "Δ week", "interval"):
        left = column in ("archetype", "site")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for column, _ in columns:
        table.add_column(
            headers.get(column, column), justify="left" if column == "flags" else "right"
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
            str(home.home_id),
            home.archetype,
            home.site.name,
            delta,
            f"{cell(v, 'score_low', 1)}-{cell(v, 'score_high', 1)}",
            *(cell(v, column, digits) for column, digits in columns),
        )
    out.print(table)
    out.print(
        f"{result.messages} messages ingested, {len(result.weeks)} week(s) scored in "
        f"{time.perf_counter() - began:.1f} s. Vectors: {settings.bucket_url}/scores/, "
        f"table {settings.dataset}.livability_scores in {settings.warehouse_url}"
    )
    return 0


def _model_version() -> str:
    from scoring.model import MODEL_VERSION

    return MODEL_VERSION


def cmd_load_archive(
    args: argparse.Namespace, settings: Settings, out: Console, err: Console
) -> int:
    from livability import archive
    from livability.settings import open_bucket

    where = archive.locate(str(args.path))
    text, root = where.text, where.root
    bucket = open_bucket(settings, where.url) if where.url is not None else None
    try:
        found = archive.survey_bucket(bucket, where.week) if bucket else archive.survey(root)
    except archive.ArchiveError as error:
        raise CliError(str(error)) from None
    if not found.files and not found.problems:
        raise CliError(f"{text}: no <week start>/<table>/*.gz export files found")
    warehouse = settings.open_warehouse()
    began = time.perf_counter()
    try:
        with progress_bar(err) as progress:
            task = progress.add_task(f"Loading {len(found.files)} file(s)", total=None)
            report = archive.load_archive(
                warehouse, found, root=root, on_rows=lambda n: progress.advance(task, n)
            )
    finally:
        warehouse.close()
        if bucket is not None:
            bucket.close()
    seconds = time.perf_counter() - began
    counts = {
        name: {"loaded": r.loaded, "rejected": r.rejected, "duplicates": r.duplicates}
        for name, r in report.totals.items()
    }
    if args.json:
        problems = [
            {"where": p.where, "reason": p.reason, "damage": p.damage} for p in report.problems
        ]
        out.print_json(json.dumps({"tables": counts, "problems": problems}))
    else:
        table = RichTable(title=f"Loaded {text}")
        for column in ("table", "loaded", "rejected", "duplicates"):
            table.add_column(column, justify="left" if column == "table" else "right")
        for name, c in counts.items():
            table.add_row(name, *(str(c[k]) for k in ("loaded", "rejected", "duplicates")))
        out.print(table)
        rows = sum(sum(c.values()) for c in counts.values())
        out.print(f"{rows} rows in {seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
    for problem in report.problems:
        kind = "damaged" if problem.damage else "skipped"
        print(f"livability: {kind}: {problem}", file=sys.stderr)
    damaged = [p for p in report.problems if p.damage]
    if damaged:
        raise CliError(
            f"{len(damaged)} file(s) or folder(s) of {text} damaged or refused, the rest "
            "loaded; each is a dead letter (livability dead-letter list); fix and rerun, "
            "nothing loads twice"
        )
    return 0


def _week_in_contract(week: date, weeks: int = 1, option: str = "--week") -> date:
    """A start whose `weeks` weeks lie in the contract's plausible range (schemas/tables.toml)."""
    from schemas import registry

    first, last = registry()["livability_scores"].ranges["week_start"]
    day_first, day_last = registry()["sensor_thermo_beacon"].ranges["day"]
    first, last = max(first, day_first), min(last, day_last)
    if week < first or week.toordinal() + 7 * weeks - 1 > last.toordinal():
        raise CliError(
            f"{option} {week.isoformat()}: the {7 * weeks} days from it must lie within "
            f"{first.isoformat()}..{last.isoformat()}, the plausible range in "
            "schemas/tables.toml"
        )
    return week


def cmd_serve(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    import functions_framework
    from functions_framework._http import create_server

    import functions.main

    # Fail now on a bad setting, not on the first push. Closed again: the server's worker
    # process opens its own connection (DuckDB connections do not survive a fork).
    settings.open_warehouse().close()
    configure_logging(logging.INFO, "stdout")  # a server's log is its output, one JSON per line
    app = functions_framework.create_app(
        target="event_processor", source=functions.main.__file__, signature_type="cloudevent"
    )
    err.print(
        f"Event processor listening on http://127.0.0.1:{args.port}/ "
        f"(warehouse {settings.warehouse_url})"
    )
    create_server(app, debug=False).run("127.0.0.1", args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING, "stderr")
    out, err = Console(), Console(stderr=True)
    if not out.is_terminal:  # piped or in CI: wide enough for the score table
        out = Console(width=160)
    try:
        settings = Settings.from_env()
        return int(args.run(args, settings, out, err))
    except (CliError, *FAILURES) as error:
        print(f"livability: error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("livability: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
