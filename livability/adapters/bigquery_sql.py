"""SQL the BigQuery adapter writes, importable without the BigQuery client: the exact-load
INSERT and EXPORT DATA of a week (the `_dedup` views are the contract's: schemas/views.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from schemas import ROW_ID


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
