"""Creating and evolving the contract's tables in BigQuery: `livability init` on a cloud
warehouse.

Each table of `schemas/` is created day-partitioned (a partition filter required), clustered
and described as its schema file says, with its `<table>_dedup` view. On a table that exists,
additive changes (new NULLABLE columns, at any depth) are applied; anything else raises
`BreakingChangeError`. A view is re-created when its query or its table changed, so that its
`*` takes new columns in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery

from livability.adapters.bigquery_client import BigQueryConnection
from livability.ports import BreakingChangeError, TableChange, WarehouseError
from schemas import ROW_ID, TYPE_ALIASES, Field, Registry, Table
from schemas.views import DEDUP_SUFFIX, dedup_view_sql


def _norm_type(type_: str | None) -> str:
    return TYPE_ALIASES.get((type_ or "").upper(), (type_ or "").upper())


def _norm_mode(mode: str | None) -> str:
    return (mode or "NULLABLE").upper()


def evolve(
    expected: Sequence[Field], stored: list[dict[str, Any]], path: str
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The stored schema with `expected`'s new NULLABLE fields appended, at any depth.

    Returns (merged schema, added column paths, breaking differences). BigQuery appends new
    fields and never reorders, so the merged schema keeps the stored order.
    """
    by_name = {f["name"].lower(): f for f in stored}
    wanted = {f.name.lower() for f in expected}
    breaking = [
        f"{path}{f['name']} is stored but no longer in schemas/ (a removed column)"
        for f in stored
        if f["name"].lower() not in wanted
    ]
    merged = [dict(f) for f in stored]
    position = {f["name"].lower(): i for i, f in enumerate(merged)}
    added: list[str] = []
    for field_ in expected:
        column = f"{path}{field_.name}"
        found = by_name.get(field_.name.lower())
        if found is None:
            if field_.required:
                breaking.append(
                    f"{column} is a new REQUIRED column (only NULLABLE ones can be added)"
                )
            else:
                merged.append(field_.bigquery_json())
                added.append(column)
            continue
        stored_type, stored_mode = _norm_type(found.get("type")), _norm_mode(found.get("mode"))
        if stored_type != field_.type or stored_mode != field_.mode:
            breaking.append(
                f"{column} is {stored_type} {stored_mode} in BigQuery but "
                f"{field_.type} {field_.mode} in schemas/"
            )
            continue
        if field_.type == "RECORD":
            inner, inner_added, inner_breaking = evolve(
                field_.fields, list(found.get("fields", [])), f"{column}."
            )
            merged[position[field_.name.lower()]] = {**found, "fields": inner}
            added += inner_added
            breaking += inner_breaking
    return merged, added, breaking


def init_dataset(conn: BigQueryConnection, registry: Registry) -> list[TableChange]:
    """Create the dataset, each table and its `_dedup` view; apply additive changes."""
    with conn.calling(f"creating dataset {conn.dataset}"):
        conn.client.create_dataset(
            bigquery.Dataset(f"{conn.project}.{conn.dataset}"),
            exists_ok=True,
            retry=conn.retry,
            timeout=conn.timeout,
        )
    changes: list[TableChange] = []
    for table in registry:
        change = _init_table(conn, table)
        changes.append(change)
        changes.append(_init_view(conn, table, replace=change.action != "unchanged"))
    return changes


def _init_table(conn: BigQueryConnection, table: Table) -> TableChange:
    client, ref = conn.client, conn.ref(table.name)
    with conn.calling(f"reading table {table.name}"):
        try:
            stored = client.get_table(ref, retry=conn.retry, timeout=conn.timeout)
        except google_exceptions.NotFound:
            stored = None
    if stored is None:
        new = bigquery.Table(
            ref, schema=[bigquery.SchemaField.from_api_repr(f) for f in table.bigquery_json()]
        )
        if table.partition is not None:
            new.time_partitioning = bigquery.TimePartitioning(
                type_=bigquery.TimePartitioningType.DAY, field=table.partition
            )
            new.require_partition_filter = True
        new.clustering_fields = list(table.cluster) or None
        new.description = table.description or None
        with conn.calling(f"creating table {table.name}"):
            client.create_table(new, exists_ok=True, retry=conn.retry, timeout=conn.timeout)
        return TableChange(table.name, "created")
    partition = stored.time_partitioning.field if stored.time_partitioning else None
    if partition != table.partition:
        raise BreakingChangeError(
            f"{table.name} is partitioned on {partition} in {conn.where} but on "
            f"{table.partition} in schemas/: a breaking change needs a new table version"
        )
    merged, added = _additions(conn, table, stored)
    if not added:
        return TableChange(table.name, "unchanged")
    stored.schema = [bigquery.SchemaField.from_api_repr(f) for f in merged]
    with conn.calling(f"adding columns to {table.name}"):
        client.update_table(stored, ["schema"], retry=conn.retry, timeout=conn.timeout)
        after = client.get_table(ref, retry=conn.retry, timeout=conn.timeout)
    _, missing = _additions(conn, table, after)
    if missing:
        raise WarehouseError(
            f"{conn.where} accepted the new columns of {table.name} but did not add "
            f"{', '.join(missing)}"
        )
    return TableChange(table.name, "columns added", ", ".join(added))


def _additions(
    conn: BigQueryConnection, table: Table, stored: bigquery.Table
) -> tuple[list[dict[str, Any]], list[str]]:
    merged, added, breaking = evolve(table.fields, [f.to_api_repr() for f in stored.schema], "")
    if breaking:
        raise BreakingChangeError(
            f"{'; '.join(f'{table.name}.{b}' for b in breaking)} (dataset {conn.dataset} "
            f"in {conn.where}): a breaking change needs a new table version"
        )
    return merged, added


def view_sql(conn: BigQueryConnection, table: Table) -> str:
    """The query of `table`'s `_dedup` view in this dataset (the emulator's variant there)."""
    return dedup_view_sql(table, conn.ref(table.name), emulator=conn.emulator is not None)


def _init_view(conn: BigQueryConnection, table: Table, *, replace: bool) -> TableChange:
    """The `<table>_dedup` view; re-created when its query or its table changed."""
    client, name = conn.client, f"{table.name}{DEDUP_SUFFIX}"
    sql = view_sql(conn, table)
    with conn.calling(f"creating view {name}"):
        try:
            stored = client.get_table(conn.ref(name), retry=conn.retry, timeout=conn.timeout)
        except google_exceptions.NotFound:
            stored = None
        if stored is not None and stored.view_query == sql and not replace:
            return TableChange(name, "unchanged")
        if stored is not None:
            # Re-created, not patched: the view's schema then includes new columns.
            client.delete_table(
                conn.ref(name), not_found_ok=True, retry=conn.retry, timeout=conn.timeout
            )
        view = bigquery.Table(conn.ref(name))
        view.view_query = sql
        view.description = f"{table.name} with one row per {ROW_ID}: what readers query."
        client.create_table(view, retry=conn.retry, timeout=conn.timeout)
    return TableChange(name, "created" if stored is None else "replaced")
