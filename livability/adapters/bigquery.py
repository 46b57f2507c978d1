"""The BigQuery warehouse (google-cloud-bigquery), for the cloud data plane.

Exactly once as readers see it:
- `insert_rows` (the event processor's streaming path) sends each row's `row_id` as its
  insertId. BigQuery de-duplicates on it for about a minute, best effort, so a redelivery
  much later is stored twice; every read the platform makes goes through the
  `<table>_dedup` views, which keep one row per key.
- `load_rows` (archive loads, score writes) is exact in storage: an NDJSON load job into a
  staging table, then an INSERT of the rows whose id the table does not hold yet. Two loads
  of the same rows *at the same time* could both insert; the callers (one `load-archive`
  or one weekly job at a time) do not do that.

It has the port's optional capability: `export_week` runs EXPORT DATA into a gs:// bucket,
so the weekly archive's files are written by BigQuery itself.

The client, its retries and its errors are `bigquery_client.py`; creating and evolving the
tables is `bigquery_schema.py`; the SQL text is `bigquery_sql.py` and `schemas/views.py`.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
from google.cloud import bigquery

from livability.adapters.bigquery_client import BACKEND_ERRORS, BigQueryConnection
from livability.adapters.bigquery_schema import init_dataset, view_sql
from livability.adapters.bigquery_sql import export_data_sql, insert_new_sql
from livability.ports import (
    InsertResult,
    NotSupportedError,
    ParamValue,
    RowFailure,
    TableChange,
    WarehouseError,
)
from schemas import ROW_ID, Registry, Table
from schemas.arrow import with_utc
from schemas.validation import to_json
from schemas.views import DEDUP_SUFFIX

log = logging.getLogger(__name__)
STAGING_PREFIX = "_staging_"
STAGING_TTL = timedelta(hours=1)  # a staging table a crash leaves behind expires on its own
INSERT_BATCH = 500  # rows per insertAll request, as BigQuery recommends
EXPORT_SCHEME = "gs://"  # where EXPORT DATA can write


def _partition_bounds(spec: Table, values: list[Any]) -> dict[str, ParamValue]:
    """@lo and @hi: the batch's smallest and largest partition value (JSON text), typed."""
    if any(not isinstance(v, str) for v in values):
        raise ValueError(f"{spec.name}: a row without its partition column {spec.partition}")
    if spec.column(str(spec.partition)).type == "DATE":
        days = sorted(date.fromisoformat(v) for v in values)
        return {"lo": days[0], "hi": days[-1]}
    moments = sorted(datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values)
    return {"lo": moments[0], "hi": moments[-1]}


def _plain_field(field_: pa.Field) -> pa.Field:
    type_ = field_.type
    if pa.types.is_struct(type_):
        type_ = pa.struct([_plain_field(child) for child in type_])
    return pa.field(field_.name, type_, nullable=field_.nullable)


def _plain(table: pa.Table) -> pa.Table:
    """`table` without the client's field metadata.

    GEOGRAPHY comes back as WKT strings tagged `ARROW:extension:name: google:sqlType:geography`,
    which polars reads as an extension type it cannot use as text. The contract's Arrow type
    for GEOGRAPHY is a plain string (schemas/arrow.py), as DuckDB returns it.
    """
    schema = pa.schema([_plain_field(f) for f in table.schema])
    return table if schema.equals(table.schema, check_metadata=True) else table.cast(schema)


def _exported_rows(job: bigquery.QueryJob) -> int:
    """The rows an EXPORT DATA job wrote, from its statistics.

    google-cloud-bigquery (3.x) has no accessor for `exportDataStatistics`; the job's API
    resource holds it. Read here, in the one module that knows the client, defensively.
    """
    resource: Mapping[str, Any] = job._properties  # private: see the docstring
    stats = (resource.get("statistics") or {}).get("query") or {}
    return int((stats.get("exportDataStatistics") or {}).get("rowCount") or 0)


class BigQueryWarehouse(BigQueryConnection):
    """Tables of the contract in one BigQuery dataset, addressed as `dataset.table`."""

    dialect = "bigquery"

    def init(self, registry: Registry | None = None) -> list[TableChange]:
        """Create the dataset, each table and its `_dedup` view; apply additive changes."""
        return init_dataset(self, registry or self.registry)

    def _dedup_sql(self, table: Table) -> str:
        return view_sql(self, table)

    # --- writes ---

    def _unique(
        self, table: Table, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> tuple[list[dict[str, Any]], list[str], list[int]]:
        """The first row of each id as JSON, its id, and its index in `rows`."""
        if len(rows) != len(row_ids):
            raise ValueError(f"{len(rows)} rows but {len(row_ids)} row ids")
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        ids: list[str] = []
        positions: list[int] = []
        for index, (rid, row) in enumerate(zip(row_ids, rows, strict=True)):
            if rid in seen:
                continue
            seen.add(rid)
            record = to_json(row)
            if table.keyed:
                record[ROW_ID] = rid
            out.append(record)
            ids.append(rid)
            positions.append(index)
        return out, ids, positions

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> InsertResult:
        """Streaming insert with the row ids as insertIds; per-row refusals come back."""
        spec = self.registry[table]
        records, ids, positions = self._unique(spec, rows, row_ids)
        ref = self.ref(spec.name)
        failed: list[RowFailure] = []
        for start in range(0, len(records), INSERT_BATCH):
            with self.calling(f"inserting into {spec.name}", spec.name):
                errors = self.client.insert_rows_json(
                    ref,
                    records[start : start + INSERT_BATCH],
                    row_ids=ids[start : start + INSERT_BATCH],
                    # Without it, one bad row stops the whole request ("stopped").
                    skip_invalid_rows=True,
                    retry=self.retry,
                    timeout=self.timeout,
                )
            for error in errors:
                reason = "; ".join(
                    f"{e.get('reason') or 'invalid'}: {e.get('message') or '(no message)'}"
                    + (f" ({e['location']})" if e.get("location") else "")
                    for e in error.get("errors", [])
                )
                failed.append(RowFailure(positions[start + int(error["index"])], reason))
        return InsertResult(
            len(records) - len(failed), tuple(sorted(failed, key=lambda f: f.index))
        )

    def load_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> InsertResult:
        """Batch insert, exact in storage: stage the rows, then add only unseen ids."""
        spec = self.registry[table]
        records, _, _ = self._unique(spec, rows, row_ids)
        if not records:
            return InsertResult(0)
        if not spec.keyed:
            raise ValueError(f"{spec.name} has no {ROW_ID} column: load_rows needs one")
        client, target = self.client, self.ref(spec.name)
        with self.calling(f"reading table {spec.name}", spec.name):
            stored = client.get_table(target, retry=self.retry, timeout=self.timeout)
        stage = self.ref(f"{STAGING_PREFIX}{spec.name}_{uuid.uuid4().hex}")
        staging = bigquery.Table(stage, schema=stored.schema)
        staging.expires = datetime.now(UTC) + STAGING_TTL
        with self.calling(f"staging rows for {spec.name}"):
            client.create_table(staging, retry=self.retry, timeout=self.timeout)
        try:
            with self.calling(f"staging rows for {spec.name}"):
                body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                job = client.load_table_from_file(
                    io.BytesIO(body.encode("utf-8")),
                    stage,
                    job_config=bigquery.LoadJobConfig(
                        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                        schema=stored.schema,
                        write_disposition=bigquery.WriteDisposition.WRITE_EMPTY,
                    ),
                    timeout=self.timeout,
                )
                job.result(retry=self.retry, timeout=self.timeout)
            return InsertResult(self._insert_new(spec, stored, stage, records))
        finally:
            try:
                client.delete_table(
                    stage, not_found_ok=True, retry=self.retry, timeout=self.timeout
                )
            except BACKEND_ERRORS as err:
                # Harmless: it expires within STAGING_TTL. Raising here would hide the
                # outcome of the load itself.
                log.warning("staging table not dropped", extra={"table": stage, "error": str(err)})

    def _insert_new(
        self, spec: Table, stored: bigquery.Table, stage: str, records: list[dict[str, Any]]
    ) -> int:
        """INSERT the staged rows whose id the table lacks; returns how many it added."""
        params: dict[str, ParamValue] = {}
        if spec.partition is not None:
            params = _partition_bounds(spec, [r.get(spec.partition) for r in records])
        columns = [f.name for f in stored.schema]
        sql = insert_new_sql(self.ref(spec.name), stage, columns, spec.partition)
        job = self.run_query(sql, params, f"inserting staged rows into {spec.name}", spec.name)
        return int(job.num_dml_affected_rows or 0)

    # --- reads ---

    def query(self, sql: str, params: Mapping[str, ParamValue] | None = None) -> pa.Table:
        job = self.run_query(sql, params, "query")
        with self.calling("query"):
            # The Storage Read API client is not a dependency of the functions; REST pages
            # are enough for a week of aggregates.
            result = job.to_arrow(create_bqstorage_client=False)
        return with_utc(_plain(result))

    # --- the optional capability: files written by BigQuery itself ---

    def exports_to(self, bucket_url: str) -> bool:
        return bucket_url.startswith(EXPORT_SCHEME)

    def export_week(self, table: str, first: date, last: date, uri: str) -> int:
        """EXPORT DATA of the `_dedup` view's rows for `first..last` into Cloud Storage."""
        if not self.exports_to(uri):
            raise NotSupportedError(f"BigQuery EXPORT DATA writes to {EXPORT_SCHEME} only: {uri}")
        spec = self.registry[table]
        if spec.partition is None:
            raise ValueError(f"{spec.name} has no partition column: no week to export")
        sql = export_data_sql(
            self.ref(f"{spec.name}{DEDUP_SUFFIX}"), spec.partition, first, last, uri
        )
        client = self.client
        try:
            job = client.query(
                sql,
                job_config=bigquery.QueryJobConfig(),
                retry=self.retry,
                job_retry=None,
                timeout=self.timeout,
            )
            job.result(retry=self.retry, timeout=self.timeout)
        except BACKEND_ERRORS as err:
            # Not `calling`: a 404 here may be the bucket, not a table to create.
            raise WarehouseError(f"EXPORT DATA of {spec.name} to {uri} failed: {err}") from err
        return _exported_rows(job)
