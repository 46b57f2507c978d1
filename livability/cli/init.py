"""`livability init`: create the dataset, every table of `schemas/` and the de-duplicated views.

Idempotent on every warehouse: a second run changes nothing, an additive change to
`schemas/` adds the new columns, and a breaking one is refused with a message.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import print_json, safe
from livability.settings import Settings, open_warehouse
from schemas import registry


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "init", help="create the dataset and every table of schemas/ on the configured warehouse"
    )
    parser.add_argument("--json", action="store_true", help="print what changed as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    warehouse = open_warehouse(settings, init=False)
    try:
        changes = warehouse.init(registry())
    finally:
        warehouse.close()
    if args.json:
        print_json(
            out, [{"table": c.name, "action": c.action, "detail": c.detail} for c in changes]
        )
        return 0
    table = RichTable(title=f"Tables of schemas/ in {settings.warehouse_url}")
    for column in ("table", "action", "detail"):
        table.add_column(column)
    for change in changes:
        table.add_row(safe(change.name), safe(change.action), safe(change.detail))
    out.print(table)
    return 0
