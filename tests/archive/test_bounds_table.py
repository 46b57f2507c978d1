"""The README's table of bounds says what the code does: each row's value is its constant's."""

from __future__ import annotations

import importlib
import inspect
import re

from tests.support.paths import ROOT

_ROW = re.compile(
    r"^\| (?P<entry>[^|]+) \| (?P<bound>[^|]+) \| (?P<value>[^|]+) \| `(?P<name>[\w.]+)` \|$"
)


def _rows() -> list[re.Match[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Bounds", 1)[1].split("\n\n`load-archive PATH`", 1)[0]
    return [m for line in section.splitlines() if (m := _ROW.match(line))]


def _shown(cell: str) -> int:
    """The number a cell states: `1,000` or `200:1` or `1,048,576 bytes (1 MiB)`."""
    first = cell.split(maxsplit=1)[0].split(":", maxsplit=1)[0]
    return int(first.replace(",", ""))


def test_every_bound_in_the_readme_is_the_codes_constant() -> None:
    rows = _rows()
    assert len(rows) == 18, "a row of the README's bounds table is not in the expected form"
    for row in rows:
        module, _, name = row["name"].rpartition(".")
        value = getattr(importlib.import_module(module), name)
        assert _shown(row["value"]) == value, (row["name"], row["value"], value)


def test_the_load_archive_bounds_are_all_in_the_table() -> None:
    from livability.archive import format as archive_format
    from livability.archive import loader, survey

    named = {row["name"] for row in _rows()}
    for module in (archive_format, loader, survey):
        source = inspect.getsource(module)
        for name in re.findall(r"^((?:MAX|BATCH)_\w+) = ", source, re.MULTILINE):
            assert f"{module.__name__}.{name}" in named, f"{module.__name__}.{name}"
