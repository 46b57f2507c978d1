"""The layout rules of the production code (issue 13): no module over 450 lines, no function
over 80 lines outside SQL templates and data tables, and no import cycle between the top-level
packages or between the modules and sub-packages of any package (`livability` holds floors
rather than being one: at the top level its children count in its place).

Runs against: the source files (line counts, `ast`) and grimp's import graph, the graph
`lint-imports` reads (`make lint` checks the floors themselves: pyproject's
`[tool.importlinter]`). Each rule is also run on a small made-up case that breaks it.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import grimp
import pytest

from tests.support.paths import ROOT

PRODUCTION = ("schemas", "livability", "functions", "scoring", "edge", "infra", "tools")
# A package that only holds floors: `livability` holds the core, the domain packages and the
# entry points (pyproject's floors), so at the top level its children stand on their own.
CONTAINERS = frozenset({"livability"})
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
# The only functions allowed past MAX_FUNCTION_LINES: SQL templates and data tables.
LONG_BY_NATURE = frozenset(
    {
        "scoring/sql.py::_weather_ctes",  # the outdoor series' SQL (model 3: per time zone)
        "infra/constructs/access.py::grants",  # IAM as data: one grant per line
    }
)


def production_files() -> list[Path]:
    return sorted(
        path
        for package in PRODUCTION
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def long_modules(files: Iterable[tuple[str, str]], limit: int = MAX_MODULE_LINES) -> list[str]:
    """`name: lines` of each (name, text) longer than `limit` lines."""
    counts = ((name, len(text.splitlines())) for name, text in files)
    return [f"{name}: {lines} lines" for name, lines in counts if lines > limit]


def function_lengths(name: str, text: str) -> Iterator[tuple[str, int]]:
    """(`name::function`, lines from `def` to its last line) of every function, nested too."""
    for node in ast.walk(ast.parse(text, filename=name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            yield f"{name}::{node.name}", node.end_lineno - node.lineno + 1


def long_functions(files: Iterable[tuple[str, str]], limit: int = MAX_FUNCTION_LINES) -> set[str]:
    return {f for name, text in files for f, lines in function_lengths(name, text) if lines > limit}


def sibling_cycles(
    graph: grimp.ImportGraph, roots: Iterable[str], containers: frozenset[str] = CONTAINERS
) -> list[str]:
    """Each cycle among the children of one package, as `package: a -> b -> a`. The top level
    counts as one more package: its children are the roots, a container's children in its
    place."""
    top = [r for r in roots if r not in containers]
    top += [c for r in roots if r in containers & graph.modules for c in graph.find_children(r)]
    parents: dict[str, list[str]] = {"": sorted(top)}
    for module in graph.modules:
        children = sorted(graph.find_children(module))
        if children:
            parents[module] = children
    cycles = []
    for parent, children in sorted(parents.items()):
        edges: dict[str, set[str]] = {child: set() for child in children}
        for importer in graph.modules:
            source = _child_of(parent, importer, containers)
            if source is None:
                continue
            for imported in graph.find_modules_directly_imported_by(importer):
                target = _child_of(parent, imported, containers)
                if target is not None and target != source:
                    edges[source].add(target)
        try:
            graphlib.TopologicalSorter(edges).prepare()
        except graphlib.CycleError as cycle:
            cycles.append(f"{parent or '(top level)'}: {' -> '.join(reversed(cycle.args[1]))}")
    return cycles


def _child_of(parent: str, module: str, containers: frozenset[str]) -> str | None:
    """The child of `parent` (at the top level: the root or the container's child) that is or
    holds `module`, if any."""
    if not parent:
        root, _, rest = module.partition(".")
        if root not in containers:
            return root
        return f"{root}.{rest.split('.')[0]}" if rest else None
    if not module.startswith(parent + "."):
        return None
    return f"{parent}.{module[len(parent) + 1 :].split('.', maxsplit=1)[0]}"


def _sources() -> list[tuple[str, str]]:
    return [(p.relative_to(ROOT).as_posix(), p.read_text()) for p in production_files()]


def test_no_production_module_is_over_450_lines() -> None:
    assert long_modules(_sources()) == []


def test_no_function_is_over_80_lines_but_sql_templates_and_data_tables() -> None:
    assert sorted(long_functions(_sources()) - LONG_BY_NATURE) == []


def test_every_allowed_long_function_exists_and_is_long() -> None:
    assert long_functions(_sources()) >= LONG_BY_NATURE


def test_no_import_cycle_between_packages_or_siblings() -> None:
    graph = grimp.build_graph(*PRODUCTION)
    assert sibling_cycles(graph, PRODUCTION) == []


SHORT_FUNCTION = "def f():\n" + "    x = 1\n" * 79
LONG_FUNCTION = "def f():\n" + "    x = 1\n" * 80
NESTED_LONG = "def outer():\n    def inner():\n" + "        x = 1\n" * 80 + "    return inner\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SHORT_FUNCTION, set()),
        (LONG_FUNCTION, {"m.py::f"}),
        (NESTED_LONG, {"m.py::outer", "m.py::inner"}),
    ],
)
def test_the_function_rule_counts_from_def_to_the_last_line(text: str, expected: set[str]) -> None:
    assert long_functions([("m.py", text)]) == expected


def test_the_module_rule_counts_lines() -> None:
    files = [("short.py", "x = 1\n" * 450), ("long.py", "x = 1\n" * 451)]
    assert long_modules(files) == ["long.py: 451 lines"]


def made_up_graph(imports: Iterable[tuple[str, str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        for module in (importer, imported):
            parts = module.split(".")
            for end in range(1, len(parts) + 1):
                graph.add_module(".".join(parts[:end]))
        graph.add_import(importer=importer, imported=imported)
    return graph


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        # One way: a.x -> a.y -> b; no cycle.
        ([("a.x", "a.y"), ("a.y", "b.z")], []),
        # Siblings importing each other through their modules.
        ([("a.x.one", "a.y"), ("a.y", "a.x.two")], ["a: a.x -> a.y -> a.x"]),
        # Top-level packages importing each other.
        ([("a.x", "b.z"), ("b.z", "a.y")], ["(top level): a -> b -> a"]),
        # A container's children stand on their own at the top level: c.low <- b -> c.high.
        ([("c.high", "b.z"), ("b.z", "c.low")], []),
        # ... but not beside a package that imports them both ways.
        ([("c.high", "b.z"), ("b.z", "c.high")], ["(top level): b -> c.high -> b"]),
    ],
)
def test_the_cycle_rule_finds_siblings_that_import_each_other(
    imports: list[tuple[str, str]], expected: list[str]
) -> None:
    cycles = sibling_cycles(made_up_graph(imports), ("a", "b", "c"), frozenset({"c"}))
    assert [_normalized(c) for c in cycles] == [_normalized(c) for c in expected]


def _normalized(cycle: str) -> tuple[str, frozenset[str]]:
    """A cycle reads the same from any of its members."""
    parent, _, members = cycle.partition(": ")
    return parent, frozenset(members.split(" -> "))
