"""The model's SQL, written once in GoogleSQL, for each warehouse: SQLGlot transpiles it.

DuckDB keeps GEOGRAPHY as WKT text and has no spatial extension here, so three spatial
functions become text functions (`ST_ASTEXT` and `ST_GEOGFROMTEXT` are the identity, `ST_X`
and `ST_Y` read the numbers out of `POINT(lon lat)`); GREATEST and LEAST keep DuckDB's
cheaper form (see `_duckdb_node`). The week's time-zone tables are literal rows that differ
every week: they are put in after transpiling (the same `SELECT ... UNION ALL` text is valid
in both dialects), so the transpiled query itself is cached. On BigQuery, which evaluates a
CTE once per reference, `script` makes the CTEs read along many paths temp tables.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import sqlglot
from sqlglot import exp

from schemas import geo

DIALECTS: Final = ("bigquery", "duckdb")
# Placeholders of the literal tables; `fill` replaces them in the transpiled text.
ZONE_CLASSES: Final = "zone_classes_input"
ZONE_CELLS: Final = "zone_cells_input"


def _is_zero(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_number and float(node.name) == 0


def _positive_part(node: exp.Greatest) -> exp.Expression | None:
    """`GREATEST(0, x)` as `(x + ABS(x)) / 2`: the same number for every finite x (x + x
    and the halving are exact in binary floating point; a negative x gives 0), and NULL for
    a NULL x as on BigQuery. DuckDB's GREATEST costs about five times the arithmetic."""
    arguments = [node.this, *node.expressions]
    if len(arguments) != 2 or not any(_is_zero(a) for a in arguments):
        return None
    (x,) = [a for a in arguments if not _is_zero(a)] or [arguments[1]]
    add = exp.Add(this=exp.Paren(this=x.copy()), expression=exp.Abs(this=x.copy()))
    return exp.Div(this=exp.Paren(this=add), expression=exp.Literal.number(2))


def _duckdb_node(node: exp.Expression) -> exp.Expression:
    """DuckDB keeps GEOGRAPHY as WKT text: the spatial functions become text functions.

    GREATEST and LEAST keep DuckDB's own form. BigQuery's returns NULL when an argument is
    NULL, and SQLGlot guards each call with `CASE WHEN a IS NULL OR b IS NULL THEN NULL`,
    which copies every argument twice and, nested, four and eight times. Every GREATEST
    and LEAST of the model takes non-NULL arguments (readings are filtered to non-NULL
    values, the outdoor inputs are COALESCEd, points are filtered to valid ones), so the
    two forms give the same values.
    """
    if isinstance(node, exp.Greatest):
        positive = _positive_part(node)
        if positive is not None:
            return positive
    if isinstance(node, exp.Greatest | exp.Least):
        node.set("ignore_nulls", True)
        return node
    if not isinstance(node, exp.Anonymous) or not node.expressions:
        return node
    name, arg = str(node.name).upper(), node.expressions[0]
    if name in ("ST_ASTEXT", "ST_GEOGFROMTEXT") and isinstance(arg, exp.Expression):
        return arg
    if name in ("ST_X", "ST_Y"):
        pattern = geo.SQL_LONGITUDE if name == "ST_X" else geo.SQL_LATITUDE
        extracted = exp.RegexpExtract(
            this=arg, expression=exp.Literal.string(pattern), group=exp.Literal.number(1)
        )
        return exp.TryCast(this=extracted, to=exp.DataType.build("DOUBLE"))
    return node


def _for_duckdb(tree: exp.Expr) -> exp.Expr:
    # Twice: the first pass unwraps ST_GEOGFROMTEXT and ST_ASTEXT inside ST_X and ST_Y.
    return tree.transform(_duckdb_node).transform(_duckdb_node)


@cache
def transpile(source: str, dialect: str) -> str:
    """GoogleSQL `source` for `dialect`, not pretty-printed (formatting costs 0.1 s)."""
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL dialect {dialect!r}: the model runs on {DIALECTS}")
    tree = sqlglot.parse_one(source, read="bigquery")
    if dialect == "duckdb":
        tree = _for_duckdb(tree)
    return tree.sql(dialect=dialect)


def _referenced(node: exp.Expr, names: set[str]) -> set[str]:
    return {t.name for t in node.find_all(exp.Table) if not t.db and t.name in names}


@cache
def script(source: str, materialised: tuple[str, ...]) -> str:
    """GoogleSQL `source` (one `WITH ... SELECT`) as a BigQuery script: each CTE named in
    `materialised` becomes a temp table, evaluated once, and every later statement reads it.

    BigQuery evaluates a non-recursive CTE once per reference, and references multiply along
    the chain: a CTE read by two that are each read twice runs four times. Each statement
    holds just the CTEs it reaches, stopping at temp tables; the last returns the rows."""
    tree = sqlglot.parse_one(source, read="bigquery")
    with_ = tree.args["with_"]
    ctes = {cte.alias: cte for cte in with_.expressions}
    missing = set(materialised) - set(ctes)
    if missing:
        raise ValueError(f"no CTE {sorted(missing)} to materialise in the query")
    order = list(ctes)
    done: set[str] = set()

    def reached(node: exp.Expr) -> list[str]:
        """The CTEs `node` needs that are no temp table yet, in their order of definition."""
        seen: set[str] = set()
        todo = _referenced(node, set(ctes) - done)
        while todo:
            name = todo.pop()
            seen.add(name)
            todo |= _referenced(ctes[name].this, set(ctes) - done) - seen
        return [name for name in order if name in seen]

    def with_clause(names: list[str]) -> exp.With | None:
        return exp.With(expressions=[ctes[n].copy() for n in names]) if names else None

    statements = []
    for name in (n for n in order if n in materialised):
        body = ctes[name].this.copy()
        body.set("with_", with_clause(reached(ctes[name].this)))
        create = exp.Create(
            this=exp.to_table(name),
            kind="TABLE",
            expression=body,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
        statements.append(create.sql(dialect="bigquery"))
        done.add(name)
    final = tree.copy()
    final.set("with_", None)
    final.set("with_", with_clause(reached(final)))
    statements.append(final.sql(dialect="bigquery"))
    return ";\n".join(statements)


def fill(sql: str, tables: dict[str, str]) -> str:
    """Put the literal tables in for their placeholders (each must appear exactly once)."""
    for placeholder, literal in tables.items():
        if sql.count(placeholder) != 1:
            raise ValueError(f"placeholder {placeholder} appears {sql.count(placeholder)} times")
        sql = sql.replace(placeholder, f"{literal} AS {placeholder}")
    return sql


def dialect_of(warehouse: object) -> str:
    """Which SQL a warehouse adapter speaks: its `dialect` (the Warehouse port's attribute)."""
    declared = getattr(warehouse, "dialect", None)
    if isinstance(declared, str) and declared in DIALECTS:
        return declared
    raise ValueError(
        f"cannot tell which SQL {type(warehouse).__name__} speaks: give it a `dialect` "
        f"attribute, one of {DIALECTS}"
    )
