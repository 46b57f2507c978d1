"""SQL the BigQuery adapter creates, importable without the BigQuery client: the infra stack
declares the same views the adapter's `init` creates, from this one definition."""

from __future__ import annotations

from schemas import ROW_ID, Table

DEDUP_SUFFIX = "_dedup"


def dedup_view_sql(table: Table, ref: str, *, emulator: bool = False) -> str:
    """The `<table>_dedup` view over the table `ref` (`project.dataset.table`): one row per key;
    rows stored before `row_id` existed are keyed by their content.

    The partition column leads the window's PARTITION BY, so a filter on it in a query of the
    view is pushed below the window and still prunes partitions. Not where the key leaves the
    partition column out (`identity` in tables.toml: a dead letter redelivered on another day
    is the same dead letter): there one row per key, as DuckDB stores it.

    `emulator`: local-bigquery 0.4.0 refuses to create a view over a table with
    require_partition_filter unless the view itself filters on the partition column; BigQuery
    checks the filter where the view is queried. The always-true filter is given to the
    emulator only, so BigQuery keeps refusing unfiltered view queries.
    """
    keys = (
        [table.partition]
        if table.partition and table.partition not in table.identity_excludes
        else []
    )
    keys.append(f"COALESCE({ROW_ID}, TO_JSON_STRING(t))" if table.keyed else "TO_JSON_STRING(t)")
    where = f"WHERE {table.partition} IS NOT NULL " if emulator and table.partition else ""
    return (
        f"SELECT * FROM `{ref}` AS t {where}"  # noqa: S608 - names from schemas/
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY {', '.join(keys)} "
        "ORDER BY TO_JSON_STRING(t)) = 1"
    )
