"""Nothing printed from stored data acts on the operator's terminal (issue 16 #8).

Escape sequences put into a dead letter's table_id, reason and payload, or into an archive's
folder names, come out of `dead-letter list` (table and `--json`) and `load-archive` shown
escaped. The CLI modules are read as code too: every table cell and every JSON output goes
through `livability.cli.common` (`safe`, `inert`, `print_json`), so a new printing path that
forgets it fails here. Real warehouse (DuckDB), real CLI entry point.
"""

from __future__ import annotations

import ast
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from livability.cli.app import main
from livability.cli.common import inert
from livability.ingest.messages import PubSubMessage, process_message
from livability.settings import Settings, open_warehouse
from tests.support.paths import ROOT

# OSC (set the window title), a bell, clear screen, C1 CSI, a bidi override, a line separator.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u2028[red]x[/]"
HOSTILE_SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eevil\\u2028[red]x[/]"
ACTIVE = ("\x1b", "\x07", "\x9b", "\u202e", "\u2028")
CLI = ROOT / "livability" / "cli"
# Functions whose result may go into a table cell: they make text inert, or format numbers.
CELL_HELPERS = {"safe", "inert", "cell", "fmt", "money", "quantity"}


def test_inert_shows_every_control_and_format_character_escaped() -> None:
    assert inert(HOSTILE) == HOSTILE_SHOWN
    assert inert("Zürich 21.5 °C, [ok] \\x1b") == "Zürich 21.5 °C, [ok] \\x1b"
    assert inert("\ud800\t\n\x7f\U000e0001") == "\\ud800\\x09\\x0a\\x7f\\U000e0001"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(list(args))
    captured = capsys.readouterr()
    return captured.out + captured.err


def assert_inert(text: str) -> None:
    found = [c for c in ACTIVE if c in text]
    assert not found, f"{found} reached the terminal in {text!r}"


def test_dead_letter_list_shows_hostile_text_escaped(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = open_warehouse(settings)
    try:
        message = PubSubMessage(HOSTILE.encode(), {"table_id": HOSTILE}, "m-1")
        process_message(message, warehouse, received_at=datetime(2024, 11, 29, tzinfo=UTC))
        rows = [{"day": "2024-11-29", "data": {HOSTILE: 1}}]
        process_message(
            PubSubMessage(
                json.dumps(rows, ensure_ascii=False).encode(), {"table_id": "weather_data"}
            ),
            warehouse,
            received_at=datetime(2024, 11, 29, tzinfo=UTC),
        )
    finally:
        warehouse.close()
    table = run(capsys, "dead-letter", "list")
    assert_inert(table)
    assert "\\x1b]0;pwned" in table
    listed = run(capsys, "dead-letter", "list", "--json")
    assert_inert(listed)
    assert {d["target_table"] for d in json.loads(listed)} == {HOSTILE, "weather_data"}


def test_load_archive_problems_are_shown_escaped(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "archive"
    (root / f"2024-12-01{HOSTILE}").mkdir(parents=True)
    export = root / "2024-12-01" / "weather_data" / "000000000000.gz"
    export.parent.mkdir(parents=True)
    export.write_bytes(gzip.compress(HOSTILE.encode() + b"\n"))
    assert_inert(run(capsys, "load-archive", str(root)))
    assert_inert(run(capsys, "load-archive", str(root), "--json"))


def cli_modules() -> list[Path]:
    return sorted(p for p in CLI.glob("*.py") if p.name not in ("__init__.py", "common.py"))


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == name)
            or (isinstance(node.func, ast.Name) and node.func.id == name)
        )
    ]


def inert_cell(node: ast.expr) -> bool:
    """Whether a table cell expression can only be inert text."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Starred):
        return inert_cell(node.value)
    if isinstance(node, ast.GeneratorExp):
        return inert_cell(node.elt)
    if isinstance(node, ast.IfExp):
        return inert_cell(node.body) and inert_cell(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in CELL_HELPERS
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant)
            or (isinstance(v, ast.FormattedValue) and (v.format_spec or inert_cell(v.value)))
            for v in node.values
        )
    return False


@pytest.mark.parametrize("module", cli_modules(), ids=lambda p: p.name)
def test_every_table_cell_and_json_output_goes_through_the_inert_helpers(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    raw_json = [
        node.lineno for node in calls(tree, "print_json") if isinstance(node.func, ast.Attribute)
    ]
    assert not raw_json, f"{module.name}:{raw_json}: use common.print_json(console, data)"
    loose = [
        f"{module.name}:{node.lineno}: {ast.unparse(arg)}"
        for node in calls(tree, "add_row")
        for arg in node.args
        if not inert_cell(arg)
    ]
    assert not loose, f"table cells not made inert (wrap them in common.safe): {loose}"
