"""The BigQuery script: the CTEs read along many paths become temp tables, evaluated once.

BigQuery evaluates a non-recursive CTE once per reference, so a CTE that reaches a table along
n reference paths reads it n times. The model's rendered script is checked by counting those
paths per statement (temp tables end a path), and `dialects.script` is run on DuckDB, which
takes the same temp tables, against the one query it came from.
"""

from __future__ import annotations

import itertools

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from schemas import registry
from scoring import dialects, selects, sql

DATASET = "sensor_data"
# One pass for the homes (or the weather points), one for the hours (or the weather hours).
MOST_READS = 2
CHAIN = """
WITH base AS (SELECT x FROM d.t),
twice AS (SELECT a.x FROM base AS a JOIN base AS b ON a.x = b.x),
also AS (SELECT x + 1 AS y FROM base),
unused AS (SELECT 0 AS z)
SELECT t.x, also.y FROM twice AS t JOIN also ON also.y = t.x + 1 ORDER BY t.x
"""


def _scans(tree: exp.Expr, ctes: dict[str, exp.Expr]) -> dict[str, int]:
    """Per dataset table, the scans one evaluation of `tree` makes, through `ctes` too."""
    found: dict[str, int] = {}
    for table in tree.find_all(exp.Table):
        if table.db:
            reached = {f"{table.db}.{table.name}": 1}
        elif table.name in ctes:
            reached = _scans(ctes[table.name], ctes)
        else:  # a temp table: read, not evaluated
            reached = {}
        for name, n in reached.items():
            found[name] = found.get(name, 0) + n
    return found


def table_reads(script: str) -> dict[str, int]:
    """Per dataset table, how many times the statements of `script` evaluate a scan of it."""
    reads: dict[str, int] = {}
    for statement in sqlglot.parse(script, read="bigquery"):
        assert statement is not None
        node = statement.expression if isinstance(statement, exp.Create) else statement
        with_ = node.args.get("with_")
        ctes = {cte.alias: cte.this for cte in (with_.expressions if with_ else [])}
        main = node.copy()
        main.set("with_", None)
        for name, n in _scans(main, ctes).items():
            reads[name] = reads.get(name, 0) + n
    return reads


@pytest.mark.parametrize(
    ("select", "one_class", "source", "one_home"),
    list(itertools.product(("daily", "hourly"), (True, False), selects.SOURCES, (False, True))),
)
def test_the_bigquery_script_from_the_rollup_reads_each_table_at_most_twice(
    select: str, one_class: bool, source: selects.Source, one_home: bool
) -> None:
    script = sql.render(
        "bigquery", DATASET, select, one_class=one_class, source=source, one_home=one_home
    )
    single = sql.hourly_ctes(DATASET, one_class=one_class, source=source, one_home=one_home)
    as_one_query = table_reads(single + sql.daily_select())
    reads = table_reads(script)
    table = f"{DATASET}.{selects.ROLLUP_TABLE if source == 'rollup' else selects.RAW_TABLE}"
    assert as_one_query[table] > 10 * MOST_READS  # what the temp tables save
    if source == "raw":
        # From the raw readings it stays one query: a statement of its own for the homes'
        # locations would bill the week's day, time, home and location again, where a CTE
        # evaluated again is billed once.
        assert "CREATE TEMPORARY TABLE" not in script
        assert reads[table] > 10 * MOST_READS
        return
    assert reads == {table: MOST_READS, f"{DATASET}.weather_data_dedup": MOST_READS}
    # The week's zone tables are put in once each (`dialects.fill`).
    assert script.count(dialects.ZONE_CLASSES) == script.count(dialects.ZONE_CELLS) == 1


def test_a_script_gives_the_rows_of_its_query() -> None:
    script = dialects.script(CHAIN, ("base", "also"))
    statements = script.split(";\n")
    assert [s.split(" AS ")[0] for s in statements[:-1]] == [
        "CREATE TEMPORARY TABLE base",
        "CREATE TEMPORARY TABLE also",
    ]
    assert "unused" not in script  # a statement holds only the CTEs it reaches
    assert table_reads(script) == {"d.t": 1}
    assert table_reads(CHAIN) == {"d.t": 3}
    con = duckdb.connect()
    con.execute("CREATE SCHEMA d; CREATE TABLE d.t AS SELECT * FROM range(5) AS r(x)")
    for statement in statements[:-1]:
        con.execute(sqlglot.transpile(statement, read="bigquery", write="duckdb")[0])
    last = sqlglot.transpile(statements[-1], read="bigquery", write="duckdb")[0]
    one_query = sqlglot.transpile(CHAIN, read="bigquery", write="duckdb")[0]
    assert (
        con.sql(last).fetchall() == con.sql(one_query).fetchall() == [(x, x + 1) for x in range(5)]
    )


def test_a_script_names_a_cte_it_cannot_find() -> None:
    with pytest.raises(ValueError, match=r"no CTE \['gone'\] to materialise"):
        dialects.script(CHAIN, ("base", "gone"))


def test_no_temp_table_takes_the_name_of_a_table_of_the_contract() -> None:
    # The job's default dataset is the contract's: a temp table of the same name would hide
    # one of its tables, or be hidden by it.
    assert set(sql.MATERIALISED).isdisjoint(table.name for table in registry())
