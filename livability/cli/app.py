"""`livability`: the operator's command line, on the embedded default or on Google Cloud.

Every command is a module of this package with `register(commands)`, which adds its parser
with `set_defaults(run=...)`; `COMMANDS` lists them, in the order `--help` shows them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rich.console import Console

from livability.cli import (
    archive,
    certificate,
    dead_letter,
    demo,
    edge,
    export,
    finops,
    fleet,
    init,
    load_archive,
    report,
    rollup,
    schemas,
    score,
    serve,
    smoke,
    weather,
)
from livability.cli.common import FAILURES, CliError, Parser
from livability.logs import configure_logging
from livability.settings import Settings

COMMANDS = (
    demo,
    load_archive,
    serve,
    archive,
    certificate,
    dead_letter,
    edge,
    export,
    finops,
    fleet,
    init,
    report,
    rollup,
    schemas,
    score,
    smoke,
    weather,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="livability",
        description="Livability Score platform on one machine. Data lives under "
        "$LIVABILITY_HOME (default .livability/): a DuckDB warehouse and a bucket folder.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log INFO as JSON to stderr, and details"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The terminal is for people (issue 16): a command's summary, and log lines only for
    # errors unless -v asks for the JSON details.
    configure_logging(logging.INFO if args.verbose else logging.ERROR, "stderr")
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
