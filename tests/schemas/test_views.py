"""The `_dedup` views prune: named columns in their window, never the whole row; `day` and the
clustering columns in every window, so a filter on them is applied below the window.

The SQL is the contract's (schemas/views.py), as the BigQuery adapter and the infra stack
create it. Where the filter lands is read from DuckDB's plan of the same view (transpiled by
SQLGlot, as the scoring SQL is) over a real DuckDB table of the contract's DDL: BigQuery's
optimizer pushes a filter on a window's PARTITION BY column below the window in the same way,
and it is the only local planner there is (the BigQuery stand-in shows no plan).
"""

from __future__ import annotations

import json
import re
from typing import Any

import duckdb
import pytest
import sqlglot

from livability.adapters.duckdb_schema import duckdb_ddl
from schemas import ROW_ID, registry
from schemas.views import dedup_view_sql, window_keys

SENSOR = "sensor_thermo_beacon"
ONE_HOME = (
    "SELECT data.temperature FROM d.v "
    "WHERE day BETWEEN DATE '2025-01-06' AND DATE '2025-01-07' AND home_id = 7"
)
# Three days of 20 homes; home 7's rows are 1/20 of them.
ROWS = """
INSERT INTO d.sensor_thermo_beacon
SELECT DATE '2025-01-05' + CAST(i % 3 AS INT), TIMESTAMP '2025-01-05' + to_minutes(i),
  {'mac': i % 20, 'home_id': i % 20 + 1, 'temperature': 20.0, 'humidity': 50.0,
   'location': NULL}, i % 20 + 1, NULL, NULL, CAST(i AS VARCHAR)
FROM range(3000) AS r(i)
"""


def _keyed() -> list[Any]:
    return [t for t in registry() if t.keyed]


@pytest.mark.parametrize("table", _keyed(), ids=lambda t: t.name)
def test_a_view_window_names_columns_never_the_whole_row(table: Any) -> None:
    view = dedup_view_sql(table, f"p.d.{table.name}")
    window = view.split("OVER (", 1)[1].rstrip(") =1")
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", window)
    columns = {f.name for f in table.fields}
    assert set(names) - {"PARTITION", "BY", "ORDER"} <= columns, window
    for whole_row in ("TO_JSON_STRING", "(t)", " t)"):
        assert whole_row not in view
    assert table.partition in window_keys(table), "every window partitions by the day column"
    assert window_keys(table) == [table.partition, *table.cluster, ROW_ID]
    assert window.startswith(f"PARTITION BY {', '.join(window_keys(table))}")


def test_the_dead_letter_view_windows_by_day() -> None:
    view = dedup_view_sql(registry()["dead_letter"], "p.d.dead_letter")
    assert "PARTITION BY day, target_table, row_id ORDER BY received_at, message_id" in view


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("children", []) for n in _nodes(child))]


def _below_window(view_sql: str) -> list[str]:
    """The filters DuckDB applies below the view's window, planning one home's query."""
    table = registry()[SENSOR]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA d")
    con.execute(duckdb_ddl(table, "d"))
    con.execute(ROWS)
    con.execute(
        f"CREATE VIEW d.v AS {sqlglot.transpile(view_sql, read='bigquery', write='duckdb')[0]}"
    )
    assert con.execute(f"SELECT count(*) FROM ({ONE_HOME})").fetchall() == [(100,)]
    [plan] = json.loads(con.sql(f"EXPLAIN (FORMAT JSON) {ONE_HOME}").fetchall()[0][1])
    [window] = [n for n in _nodes(plan) if n["name"] == "WINDOW"]
    found = []
    for node in _nodes(window)[1:]:
        filters = node.get("extra_info", {}).get("Filters", [])
        found += [filters] if isinstance(filters, str) else filters
    return found


def test_one_homes_query_of_the_view_is_filtered_below_the_window() -> None:
    view = dedup_view_sql(registry()[SENSOR], "d.sensor_thermo_beacon")
    below = " ".join(_below_window(view))
    assert "home_id=7" in below.replace(" ", ""), below
    assert "day" in below, below


def test_a_window_without_the_clustering_column_would_filter_the_home_above_it() -> None:
    """The control: the former view (PARTITION BY day, row_id) reads every home's rows of
    the days and filters the home after the window."""
    view = dedup_view_sql(registry()[SENSOR], "d.sensor_thermo_beacon")
    former = view.replace("PARTITION BY day, home_id, row_id", "PARTITION BY day, row_id")
    assert former != view
    below = " ".join(_below_window(former))
    assert "home_id" not in below, below
