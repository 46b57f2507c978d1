"""Property suites of `load-archive` (issue 16: "a property-based suite per entry point"):
generated archive trees and generated manifests, each loaded by the real CLI into a fresh
DuckDB warehouse.

Asserted for every example: the exit is 0 or 1 and never a traceback; nothing outside the
named root is read (a canary file outside, reached by links, never shows in any table); every
valid row of an intact file is stored once (and a second load adds none); a manifest that
does not match its files is an error that names the file while the readable rows still load.
Examples are few (the machine has 2 cores); the families are in the strategies.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from livability.archive import format as archive_format
from livability.cli.app import main
from livability.settings import Settings, shared_warehouse
from schemas import registry
from schemas.validation import RowError, validate_row
from tests.archive.test_load_archive import line

WEEK = "2024-12-01"
CANARY = "SECRET_TOKEN=canary-0451"
FEW = settings(max_examples=10)


@dataclass
class Run:
    status: int
    out: Any
    err: str
    tables: dict[str, int] = field(default_factory=dict)
    payloads: list[str] = field(default_factory=list)


@contextmanager
def fresh_home() -> Iterator[Path]:
    """A new LIVABILITY_HOME per example (hypothesis runs many in one test)."""
    before = os.environ.get("LIVABILITY_HOME")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["LIVABILITY_HOME"] = str(Path(folder) / "state")
        try:
            yield Path(folder)
        finally:
            shared_warehouse.cache_clear()
            if before is None:
                os.environ.pop("LIVABILITY_HOME", None)
            else:
                os.environ["LIVABILITY_HOME"] = before


def load(root: Path) -> Run:
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["load-archive", str(root), "--json"])
    assert status in (0, 1), err.getvalue()
    assert "Traceback" not in err.getvalue()
    run = Run(status, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue())
    warehouse = Settings.from_env().open_warehouse()
    try:
        for table in ("sensor_thermo_beacon", "weather_data", "dead_letter"):
            query = f"SELECT count(*) AS n FROM sensor_data.{table}"
            run.tables[table] = warehouse.query(query).column("n")[0].as_py()
        payloads = warehouse.query("SELECT payload, reason FROM sensor_data.dead_letter")
        run.payloads = [f"{p} {r}" for p, r in zip(*payloads.to_pydict().values(), strict=True)]
    finally:
        warehouse.close()
    return run


# --- archive trees --------------------------------------------------------------------------

# What one entry of a table folder may be: a family of the probe each.
KINDS = (
    "rows",  # an intact export of valid rows
    "junk",  # an intact export of lines that are no rows
    "long",  # an intact export with a line over the line cap
    "truncated",  # valid rows, the gzip cut short
    "empty",  # 0 bytes
    "link_out",  # a symbolic link to the canary, outside the root
    "fifo",
    "not_gz",
)


@dataclass
class Tree:
    valid_rows: int = 0  # rows of intact files, each unique
    readable: int = 0  # valid rows of truncated files: those before the damage load
    counter: int = 0


def _export(lines: list[bytes]) -> bytes:
    return gzip.compress(b"".join(text + b"\n" for text in lines), mtime=0)


def _entry(folder: Path, name: str, kind: str, size: int, tree: Tree, outside: Path) -> None:
    """One file of `kind`; `tree.valid_rows` counts the rows the contract takes (schemas/)."""
    path = folder / f"{name}.gz"
    rows = []
    for _ in range(size):
        tree.counter += 1
        rows.append(line(tree.counter).encode())
    counted = sum(_valid(folder.name, text) for text in rows)
    if kind == "rows":
        path.write_bytes(_export(rows))
        tree.valid_rows += counted
    elif kind == "junk":
        path.write_bytes(_export([b"{}", b"[1]", b'{"a": 1, "a": 2}', b"\xff\xfe", b"NaN"]))
    elif kind == "long":
        path.write_bytes(_export([*rows, b"[" * (archive_format.MAX_LINE_BYTES + 1)]))
        tree.valid_rows += counted
    elif kind == "truncated":
        path.write_bytes(_export(rows)[:-9])
        tree.readable += counted
    elif kind == "empty":
        path.touch()
    elif kind == "link_out":
        path.symlink_to(outside / "canary.gz")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        (folder / f"{name}.txt").write_text(CANARY)


def _valid(table: str, text: bytes) -> bool:
    tables = registry()
    if table not in tables or not tables[table].ingest:
        return False
    try:
        validate_row(tables[table], json.loads(text))
    except RowError:
        return False
    return True


entries = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(min_value=0, max_value=3)),
    min_size=1,
    max_size=5,
)
tables = st.dictionaries(
    st.sampled_from(["sensor_thermo_beacon", "weather_data", "dead_letter", "nope"]),
    entries,
    min_size=1,
    max_size=3,
)
extras = st.sets(st.sampled_from(["link_week", "link_table", "stray_file", "bad_week", "fifo"]))


def _build(base: Path, layout: dict[str, list[tuple[str, int]]], more: set[str]) -> Tree:
    outside, root = base / "outside", base / "archive"
    (outside / WEEK / "sensor_thermo_beacon").mkdir(parents=True)
    (outside / "canary.gz").write_bytes(_export([CANARY.encode(), line(10**6).encode()]))
    (outside / WEEK / "sensor_thermo_beacon" / "000000000000.gz").write_bytes(
        _export([CANARY.encode()])
    )
    week = root / WEEK
    week.mkdir(parents=True)
    tree = Tree()
    for table, files in layout.items():
        folder = week / table
        folder.mkdir()
        for index, (kind, size) in enumerate(files):
            _entry(folder, f"{index:012d}", kind, size, tree, outside)
    if "link_week" in more:
        (root / "2024-12-08").symlink_to(outside / WEEK)
    if "link_table" in more and not (week / "weather_data").exists():
        (week / "weather_data").symlink_to(outside / WEEK / "sensor_thermo_beacon")
    if "stray_file" in more:
        (root / "notes.txt").write_text(CANARY)
    if "bad_week" in more:
        (root / "2024-13-45").mkdir()
    if "fifo" in more:
        os.mkfifo(root / "2024-12-15")
    return tree


@FEW
@given(layout=tables, more=extras)
def test_any_archive_tree_loads_its_valid_rows_once_and_nothing_from_outside(
    layout: dict[str, list[tuple[str, int]]], more: set[str]
) -> None:
    with fresh_home() as base:
        tree = _build(base, layout, more)
        first = load(base / "archive")
        loaded = first.tables["sensor_thermo_beacon"] + first.tables["weather_data"]
        assert tree.valid_rows <= loaded <= tree.valid_rows + tree.readable, first.err
        assert not any(CANARY in text for text in first.payloads)
        assert CANARY not in first.err
        if first.out is not None:
            assert CANARY not in json.dumps(first.out)
        again = load(base / "archive")
        assert again.tables == first.tables  # nothing twice, no new dead letter
        kinds = {kind for files in layout.values() for kind, _ in files}
        if kinds & {"truncated", "empty", "long"} or layout.keys() & {"dead_letter", "nope"}:
            assert first.status == 1  # a bound, damage or a refused folder: never exit 0


# --- manifests ------------------------------------------------------------------------------

ROWS = 3


def _true_manifest(data: bytes) -> dict[str, Any]:
    entry = {"name": "000000000000.gz", "bytes": len(data), "rows": ROWS}
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    table = {"schema_version": 1, "columns": [], "rows": ROWS, "source_rows": ROWS}
    return {
        "format": "livability-archive/1",
        "week_start": WEEK,
        "last_day": "2024-12-07",
        "created_at": "2024-12-08T00:00:00Z",
        "writer": "query-upload",
        "source": "duckdb:///w",
        "tables": {"sensor_thermo_beacon": {**table, "files": [entry]}},
    }


lies = st.sampled_from(
    [
        ("true", None),
        ("tables", {}),
        ("rows", 4),
        ("rows", 0),
        ("bytes", 1),
        ("sha256", "0" * 64),
        ("total", 99),
        ("name", "000000000001.gz"),
        ("table", "weather_data"),
        ("format", "other/1"),
        ("junk", b"{not json"),
        ("huge", b" " * ((16 << 20) + 1)),
        ("deep", b"[" * 100_000),
    ]
)


def _lie(manifest: dict[str, Any], lie: tuple[str, Any]) -> bytes:
    what, value = lie
    table = manifest["tables"]["sensor_thermo_beacon"]
    if what in ("junk", "huge", "deep"):
        return bytes(value)
    if what == "tables":
        manifest["tables"] = value
    elif what == "total":
        table["rows"] = value
    elif what == "table":
        manifest["tables"] = {value: table}
    elif what == "format":
        manifest["format"] = value
    elif what != "true":
        table["files"][0][what] = value
    return json.dumps(manifest).encode()


@FEW
@given(lie=lies, extra_rows=st.integers(min_value=0, max_value=2))
def test_a_manifest_is_checked_not_trusted(lie: tuple[str, Any], extra_rows: int) -> None:
    with fresh_home() as base:
        root = base / "archive"
        folder = root / WEEK / "sensor_thermo_beacon"
        folder.mkdir(parents=True)
        rows = [line(n).encode() for n in range(ROWS)]
        data = _export(rows)
        listed = _true_manifest(data)
        # The file on disk may hold more rows than the manifest says it does.
        data = _export(rows + [line(100 + n).encode() for n in range(extra_rows)])
        (folder / "000000000000.gz").write_bytes(data)
        (root / WEEK / "manifest.json").write_bytes(_lie(listed, lie))
        run = load(root)
        honest = lie[0] == "true" and extra_rows == 0
        assert run.status == (0 if honest else 1), run.err
        damaged = [p for p in run.out["problems"] if p["damage"]]
        assert bool(damaged) != honest
        if lie[0] == "name":  # the file on disk is not the one listed: skipped, the listed missing
            assert run.tables["sensor_thermo_beacon"] == 0
            assert any("listed in the week's manifest but missing" in p["reason"] for p in damaged)
        else:  # the readable rows load whatever the manifest claims
            assert run.tables["sensor_thermo_beacon"] == ROWS + extra_rows
        if lie[0] in ("rows", "bytes", "sha256") or (lie[0] == "true" and extra_rows):
            assert f"{WEEK}/sensor_thermo_beacon/000000000000.gz" in [p["where"] for p in damaged]
