"""The contract's de-duplicated views: `<table>_dedup` over each table, in GoogleSQL.

One definition for the BigQuery adapter's `init` and the infra stack, which declares the same
views; DuckDB needs none of it (its primary key on `row_id` stores each row once). The views
are for analysts and ad-hoc queries: the scoring job reads the tables and de-duplicates on the
columns it needs (scoring/selects.py).
"""

from __future__ import annotations

from schemas import ROW_ID, Table

DEDUP_SUFFIX = "_dedup"


def window_keys(table: Table) -> list[str]:
    """The view window's PARTITION BY: the partition column, the clustering columns, the key.

    A filter on a PARTITION BY column of a window is applied below the window (BigQuery and
    DuckDB push it down), so a query of the view on `day` prunes partitions and one on a
    clustering column (`home_id`) prunes blocks instead of reading every row of the days.
    The clustering columns never split a key: each is a column the row id covers or a copy
    of one (`derived`, filled by the validator in every row it stores)."""
    keys = [*([table.partition] if table.partition else []), *table.cluster, ROW_ID]
    return list(dict.fromkeys(keys))


def dedup_view_sql(table: Table, ref: str, *, emulator: bool = False) -> str:
    """The `<table>_dedup` view over the table `ref` (`project.dataset.table`): one row per key.

    The key is `row_id`; the window partitions by (partition column, clustering columns,
    `row_id`): see `window_keys`. The row id always covers the partition column (schemas/
    refuses an `identity` that leaves it out), so this is one row per row id, the rows DuckDB
    stores with `row_id` as its primary key, and the view answers on a table that requires a
    partition filter.

    The window names columns only (the key, and the `identity` columns that may differ
    between copies of one key, earliest first), never the whole row: a query of the view
    reads the columns it selects and the window's, no others. Rows stored before `row_id`
    existed (NULL) have no key and are each kept as stored; the contract writes none (DuckDB
    cannot hold one).

    `emulator`: local-bigquery 0.4.0 refuses to create a view over a table with
    require_partition_filter unless the view itself filters on the partition column; BigQuery
    checks the filter where the view is queried. The always-true filter is given to the
    emulator only, so BigQuery keeps refusing unfiltered view queries.
    """
    where = f"WHERE {table.partition} IS NOT NULL " if emulator and table.partition else ""
    select = f"SELECT * FROM `{ref}` AS t {where}"  # noqa: S608 - names from schemas/
    if not table.keyed:
        return select.rstrip()  # no key to keep one row by
    keys = window_keys(table)
    order = [name for name in table.identity_excludes if name not in keys]
    window = f"PARTITION BY {', '.join(keys)}" + (f" ORDER BY {', '.join(order)}" if order else "")
    return f"{select}QUALIFY {ROW_ID} IS NULL OR ROW_NUMBER() OVER ({window}) = 1"
