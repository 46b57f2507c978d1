"""SQL the BigQuery adapter writes, importable without the BigQuery client: the `_dedup` views
(the infra stack declares the same views `init` creates, from this one definition), the
exact-load INSERT, and EXPORT DATA of a week."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from schemas import ROW_ID, Table

DEDUP_SUFFIX = "_dedup"


def dedup_view_sql(table: Table, ref: str, *, emulator: bool = False) -> str:
    """The `<table>_dedup` view over the table `ref` (`project.dataset.table`): one row per key.

    The key is (partition column, `row_id`). The row id always covers the partition column
    (schemas/ refuses an `identity` that leaves it out), so this is one row per row id, the
    rows DuckDB stores with `row_id` as its primary key. The partition column leads the
    window's PARTITION BY, so a filter on it in a query of the view is pushed below the window
    and prunes partitions: the view answers on a table that requires a partition filter.

    The window names columns only (the key, and the `identity` columns that may differ
    between copies of one key, earliest first), never the whole row: a query of the view
    reads the columns it selects and no others. Rows stored before `row_id` existed (NULL)
    have no key and are each kept as stored; the contract writes none (DuckDB cannot hold one).

    `emulator`: local-bigquery 0.4.0 refuses to create a view over a table with
    require_partition_filter unless the view itself filters on the partition column; BigQuery
    checks the filter where the view is queried. The always-true filter is given to the
    emulator only, so BigQuery keeps refusing unfiltered view queries.
    """
    where = f"WHERE {table.partition} IS NOT NULL " if emulator and table.partition else ""
    select = f"SELECT * FROM `{ref}` AS t {where}"  # noqa: S608 - names from schemas/
    if not table.keyed:
        return select.rstrip()  # no key to keep one row by
    keys = [*([table.partition] if table.partition else []), ROW_ID]
    order = [name for name in table.identity_excludes if name not in keys]
    window = f"PARTITION BY {', '.join(keys)}" + (f" ORDER BY {', '.join(order)}" if order else "")
    return f"{select}QUALIFY {ROW_ID} IS NULL OR ROW_NUMBER() OVER ({window}) = 1"


def insert_new_sql(target: str, stage: str, columns: Sequence[str], partition: str | None) -> str:
    """INSERT into `target` the rows of the staging table `stage` whose row id it lacks.

    BigQuery itself would take `MERGE t USING stage ON t.row_id = s.row_id AND t.day
    BETWEEN lo AND hi WHEN NOT MATCHED THEN INSERT ROW`; the emulator refuses that MERGE
    for lack of a partition filter, so we use this equivalent INSERT, which both accept.
    The batch's partition range (@lo, @hi) bounds the lookup: the table requires a partition
    filter, and BigQuery then bills only those partitions.
    """
    names = ", ".join(f"`{c}`" for c in columns)
    scope = f"t.`{partition}` BETWEEN @lo AND @hi AND " if partition is not None else ""
    return (
        f"INSERT INTO `{target}` ({names}) "  # noqa: S608 - names from schemas/ and BigQuery
        f"SELECT {names} FROM `{stage}` AS s WHERE NOT EXISTS (SELECT 1 FROM "
        f"`{target}` AS t WHERE {scope}t.{ROW_ID} = s.{ROW_ID})"
    )


def export_data_sql(source: str, partition: str, first: date, last: date, uri: str) -> str:
    """EXPORT DATA of the rows of `source` (a view) with `first <= partition <= last` to `uri`,
    as BigQuery's JSON export, gzipped, replacing files of the same names.

    EXPORT DATA takes no parameter in its OPTIONS, so the values are written in as literals:
    the dates are dates, the names come from schemas/, and a URI that could leave its
    quotes is refused (`ValueError`).
    """
    if "'" in uri or "\\" in uri:
        raise ValueError(f"{uri}: not a URI EXPORT DATA can take")
    return (
        f"EXPORT DATA OPTIONS(uri='{uri}', format='JSON', compression='GZIP', "  # noqa: S608
        f"overwrite=true) AS SELECT * FROM `{source}` WHERE {partition} BETWEEN "
        f"DATE '{first.isoformat()}' AND DATE '{last.isoformat()}'"
    )
