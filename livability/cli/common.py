"""What every `livability` command shares: its errors, argument types, progress bar and cells."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
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
from rich.text import Text

from livability.ports import BackendError
from livability.settings import SettingsError
from schemas import SchemaError

FAILURES = (BackendError, SettingsError, SchemaError, OSError)


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


class Parser(argparse.ArgumentParser):
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


def port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (1-65535)")
    return int(value)


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


# --- Printing stored text (issue 16 #8) -------------------------------------------------------
# Whatever the CLI prints from stored data (a dead letter's table_id or reason, a file's
# problem, a location's name, a warehouse row) may hold escape sequences that would drive the
# operator's terminal: every path shows it through `inert` (text), `safe` (a table cell or a
# line for rich, with no markup) or `print_json`. tests/cli/test_inert_output.py checks the
# modules that read stored data use them.


def inert(value: object) -> str:
    """`value` as text that cannot act on a terminal: every control or format character (C0,
    DEL, C1 such as CSI 0x9b, bidi overrides, zero-width marks, line separators, lone
    surrogates) is shown as its escape (`\\x1b`, `\\u202e`); printable text is unchanged."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(value: object) -> Text:
    """`inert(value)` for rich: a Text, so `[brackets]` in it are shown, never markup."""
    return Text(inert(value))


def print_json(console: Console, data: Any) -> None:
    """`data` as highlighted JSON; every non-ASCII character escaped, so nothing acts."""
    console.print_json(json.dumps(data, default=str), ensure_ascii=True)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return inert(value)


def cell(vector: dict[str, Any], column: str, digits: int) -> str:
    value = vector.get(column)
    if value is None:
        return "-"
    if column == "grade" and vector.get("provisional"):
        return f"{inert(value)}?"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return inert(value)


def week_in_contract(week: date, weeks: int = 1, option: str = "--week") -> date:
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
    return monday_only(week, option)


def monday_only(week: date, option: str = "--week") -> date:
    """`week` if it is a Monday: a week is one thing everywhere (livability/weeks.py), so a
    start on another day is refused rather than read as another seven days."""
    from livability.weeks import monday

    if week.weekday():
        raise CliError(
            f"{option} {week.isoformat()}: a {week:%A}; a week starts on a Monday (the week "
            f"holding that day starts {monday(week).isoformat()})"
        )
    return week
