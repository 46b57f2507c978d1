"""`livability edge run|status|decode|import-properties`: the edge gateway from the CLI.

The same commands as `python -m edge` in the edge image (`edge/cli.py`); here they take
LIVABILITY_TOPIC and the emulator variables from the CLI's settings like every command.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from edge.cli import EdgeError, add_commands
from livability.cli.common import CliError
from livability.settings import Settings
from livability.sim.radio import configured_radio


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "edge", help="the ThermoBeacon gateway: run it, see its state, decode an advertisement"
    )
    add_commands(parser.add_subparsers(dest="edge_command", required=True), configured_radio)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    try:
        code, text = args.edge(args)
    except EdgeError as error:
        raise CliError(str(error)) from None
    if text:
        print(text)  # plain: TOML and JSON must not pass through rich's markup
    return int(code)
