"""`livability serve [--port P]`: the event processor under functions-framework on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from rich.console import Console

from livability.cli.common import port
from livability.logs import configure_logging
from livability.settings import Settings


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve the event processor on 127.0.0.1")
    serve.add_argument("--port", type=port, default=8080, help="TCP port (default 8080)")
    serve.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    import importlib.util

    import functions_framework
    from functions_framework._http import create_server

    # Found, not imported: functions-framework loads the file by path, as the runtime does,
    # and one entry point never imports another.
    spec = importlib.util.find_spec("functions.main")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("functions/main.py, the event processor, is not installed")
    # Fail now on a bad setting, not on the first push. Closed again: the server's worker
    # process opens its own connection (DuckDB connections do not survive a fork).
    settings.open_warehouse().close()
    configure_logging(logging.INFO, "stdout")  # a server's log is its output, one JSON per line
    app = functions_framework.create_app(
        target="event_processor", source=spec.origin, signature_type="cloudevent"
    )
    err.print(
        f"Event processor listening on http://127.0.0.1:{args.port}/ "
        f"(warehouse {settings.warehouse_url})"
    )
    create_server(app, debug=False).run("127.0.0.1", args.port)
    return 0
