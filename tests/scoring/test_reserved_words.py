"""No SQL the platform sends to BigQuery uses a reserved GoogleSQL keyword as a bare identifier.

BigQuery refuses `... AS new` (NEW is reserved); the local stand-in and DuckDB accept it, so
only this check catches it before production. The reserved list is SQLGlot's for BigQuery.
What is checked: the scoring queries as rendered for BigQuery (every variant, with a week's
time-zone tables filled in), the re-score's DELETE and count, the `_dedup` view of every
table, and every SQL text written in the shipped packages (string literals and f-strings,
their placeholders standing in as a plain name), found by walking their source.
"""

from __future__ import annotations

import ast
import re
from datetime import date

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.tokens import TokenType

from schemas import registry
from schemas.views import dedup_view_sql
from scoring import dialects, job, sql, zones
from scoring.model import _tables
from tests.support.paths import ROOT

RESERVED = frozenset(word.upper() for word in BigQuery.Generator.RESERVED_KEYWORDS)
PACKAGES = ("livability", "functions", "scoring", "schemas")
# SQL that never reaches BigQuery: the embedded warehouse's DuckDB and the gateway's SQLite.
NOT_BIGQUERY = ("duckdb_warehouse.py",)
_SQL_START = re.compile(
    r"^\s*(WITH\s+\w+\s+AS\b|SELECT\b[\s\S]*\bFROM\b|INSERT\s+INTO\b|DELETE\s+FROM\b"
    r"|UPDATE\s+\S+\s+SET\b|MERGE\s+\S+|CREATE\s+\w+|EXPORT\s+DATA\s+OPTIONS|DROP\s+\w+)"
)
_STATEMENTS = {"SELECT", "WITH"}  # `... AS SELECT` starts a query, it names nothing
BAD = "DELETE FROM d.t AS old WHERE EXISTS (SELECT 1 FROM d.t AS new WHERE new.x = old.x)"


def _tokens_beside_names(text: str) -> list[str]:
    """Without a parse (an f-string whose placeholders broke it): an alias after AS, or a
    name beside a dot."""
    tokens = BigQuery().tokenize(text)
    found = []
    for i, token in enumerate(tokens):
        if token.token_type in (TokenType.STRING, TokenType.IDENTIFIER):
            continue
        before = tokens[i - 1].token_type if i else None
        after = tokens[i + 1].token_type if i + 1 < len(tokens) else None
        beside = before in (TokenType.ALIAS, TokenType.DOT) or after == TokenType.DOT
        if beside and token.text.upper() in RESERVED and token.text.upper() not in _STATEMENTS:
            found.append(f"{token.text} at {token.line}:{token.col}")
    return found


def bare_reserved(text: str) -> list[str]:
    """Reserved words used as unquoted identifiers (names, aliases) or parameter names."""
    try:
        trees = sqlglot.parse(text, read="bigquery")
    except sqlglot.errors.SqlglotError:
        return _tokens_beside_names(text)
    found = []
    for tree in trees:
        for node in tree.find_all(exp.Identifier, exp.Parameter):
            name = node.name if isinstance(node, exp.Identifier) else node.this.name
            quoted = isinstance(node, exp.Identifier) and node.quoted
            if not quoted and name.upper() in RESERVED:
                found.append(name)
    return found


def _rendered() -> dict[str, str]:
    plan = zones.plan(date(2025, 3, 24), [("POINT(-0.4 51.9)", -0.4, 51.9, [1, 2, 3, 4, 5])])
    out = {"locations": sql.locations_query("sensor_data", "bigquery")}
    for select in ("daily", "hourly"):
        for one_home in (False, True):
            for one_class in (False, True):
                text = sql.render(
                    "bigquery", "sensor_data", select, one_home=one_home, one_class=one_class
                )
                name = f"scoring {select} one_home={one_home} one_class={one_class}"
                out[name] = dialects.fill(text, _tables(plan))
    out["re-score delete"] = job.SUPERSEDED_SQL.format(dataset="sensor_data")
    out["re-score count"] = job.COUNT_SQL.format(dataset="sensor_data")
    for table in registry():
        out[f"view {table.name}"] = dedup_view_sql(table, f"p.sensor_data.{table.name}")
    return out


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) else "x"
            for v in node.values  # type: ignore[misc]
        )
    return None


def _written() -> dict[str, str]:
    """SQL texts in the shipped packages' source (implicitly joined literals included)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name in NOT_BIGQUERY:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = {  # parts of f-strings (read whole) and docstrings (prose)
                id(part)
                for node in ast.walk(tree)
                for part in (
                    node.values
                    if isinstance(node, ast.JoinedStr)
                    else [node.value]
                    if isinstance(node, ast.Expr)
                    else []
                )
            }
            for node in ast.walk(tree):
                if id(node) in skip:
                    continue
                text = _literal(node) if isinstance(node, ast.expr) else None
                if text and _SQL_START.match(text):
                    out[f"{path.relative_to(ROOT)}:{node.lineno}"] = text
    return out


def test_the_checker_finds_new_and_old_as_aliases() -> None:
    assert bare_reserved(BAD) == ["new", "new"]
    assert _tokens_beside_names(BAD) == ["new at 1:61", "new at 1:71"]
    assert bare_reserved("SELECT x FROM t WHERE d < @end") == ["end"]
    assert bare_reserved(BAD.replace("AS new", "AS latest").replace("new.", "latest.")) == []
    assert bare_reserved("SELECT `new`.x FROM t AS `new`") == []


def test_the_project_finds_its_sql() -> None:
    written = _written()
    assert any("SUPERSEDED" not in k and "scoring/job.py" in k for k in written), written.keys()
    assert len(_rendered()) >= 9


@pytest.mark.parametrize(("where", "text"), sorted({**_rendered(), **_written()}.items()))
def test_no_reserved_word_is_a_bare_identifier(where: str, text: str) -> None:
    assert bare_reserved(text) == [], f"{where}: reserved GoogleSQL keyword as an identifier"
