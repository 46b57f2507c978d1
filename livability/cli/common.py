"""What every `livability` command shares: its errors, argument types, progress bar and cells."""

from __future__ import annotations

import argparse
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


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def cell(vector: dict[str, Any], column: str, digits: int) -> str:
    value = vector.get(column)
    if value is None:
        return "-"
    if column == "grade" and vector.get("provisional"):
        return f"{value}?"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


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
    return week
