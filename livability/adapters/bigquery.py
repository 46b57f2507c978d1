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

No environment is read here: the project, dataset and emulator come from `settings.py`. The
client is created on first use, so importing or constructing this costs no network call.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import google.auth.exceptions
import pyarrow as pa
from google.api_core import exceptions as google_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

from livability.adapters.bigquery_sql import DEDUP_SUFFIX, dedup_view_sql
from livability.ports import (
    BreakingChangeError,
    InsertResult,
    MissingTableError,
    ParamValue,
    RowFailure,
    TableChange,
    WarehouseError,
    param_type,
)
from schemas import ROW_ID, TYPE_ALIASES, Field, Registry, Table
from schemas.arrow import with_utc
from schemas.validation import to_json

log = logging.getLogger(__name__)
STAGING_PREFIX = "_staging_"
STAGING_TTL = timedelta(hours=1)  # a staging table a crash leaves behind expires on its own
INSERT_BATCH = 500  # rows per insertAll request, as BigQuery recommends
DEFAULT_DEADLINE = 60.0  # seconds of retries per call: inside a function's time limit
# "Not found: Table proj:dataset.table ..." / "Not found: Dataset proj:dataset ..."
_NOT_FOUND = re.compile(r"Not found: (Table|Dataset) [^:\s]+:([\w.]+)")
# What leaves the client when BigQuery cannot be reached or answers with an error: the API
# errors (incl. RetryError once the deadline passes), credentials, and sockets (requests'
# errors and TimeoutError are OSErrors).
_BACKEND_ERRORS = (
    google_exceptions.GoogleAPIError,
    google.auth.exceptions.GoogleAuthError,
    OSError,
)


def _endpoint(host: str) -> str:
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def _norm_type(type_: str | None) -> str:
    return TYPE_ALIASES.get((type_ or "").upper(), (type_ or "").upper())


def _norm_mode(mode: str | None) -> str:
    return (mode or "NULLABLE").upper()


def _evolve(
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
            inner, inner_added, inner_breaking = _evolve(
                field_.fields, list(found.get("fields", [])), f"{column}."
            )
            merged[position[field_.name.lower()]] = {**found, "fields": inner}
            added += inner_added
            breaking += inner_breaking
    return merged, added, breaking


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


class BigQueryWarehouse:
    """Tables of the contract in one BigQuery dataset, addressed as `dataset.table`."""

    dialect = "bigquery"

    def __init__(
        self,
        project: str,
        dataset: str,
        registry: Registry,
        *,
        emulator: str | None = None,
        client: bigquery.Client | None = None,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.registry = registry
        self.emulator = _endpoint(emulator) if emulator else None
        # Every API call and job retries transient errors (5xx, resets) up to `deadline`
        # seconds; the library's own default is 10 minutes.
        self.retry = bigquery.DEFAULT_RETRY.with_deadline(deadline)
        self.job_retry = DEFAULT_JOB_RETRY.with_deadline(deadline)
        self.timeout = deadline
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._where = f"BigQuery project {project}"

    # --- client and errors ---

    @property
    def client(self) -> bigquery.Client:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> bigquery.Client:
        try:
            if self.emulator is not None:
                return bigquery.Client(
                    project=self.project,
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options=ClientOptions(api_endpoint=self.emulator),
                )
            return bigquery.Client(project=self.project)  # Application Default Credentials
        except _BACKEND_ERRORS as err:
            raise WarehouseError(
                f"cannot create a BigQuery client for {self.project}: {err}"
            ) from err

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    @contextmanager
    def _calling(self, what: str, table: str | None = None) -> Iterator[None]:
        """Turn the client's exceptions into the port's: no google exception escapes."""
        try:
            yield
        except google_exceptions.NotFound as err:
            raise MissingTableError(self._missing(err, table), self._where) from err
        except _BACKEND_ERRORS as err:
            raise WarehouseError(f"{what} in {self._where} failed: {err}") from err

    def _missing(self, err: google_exceptions.NotFound, table: str | None) -> str:
        if table is not None:
            return f"{self.dataset}.{table}"
        match = _NOT_FOUND.search(str(err))
        return match[2] if match else f"{self.dataset} (BigQuery: {err.message})"

    def _ref(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"

    # --- schema ---

    def init(self, registry: Registry | None = None) -> list[TableChange]:
        """Create the dataset, each table and its `_dedup` view; apply additive changes."""
        registry = registry or self.registry
        client = self.client
        with self._calling(f"creating dataset {self.dataset}"):
            client.create_dataset(
                bigquery.Dataset(f"{self.project}.{self.dataset}"),
                exists_ok=True,
                retry=self.retry,
                timeout=self.timeout,
            )
        changes: list[TableChange] = []
        for table in registry:
            change = self._init_table(table)
            changes.append(change)
            changes.append(self._init_view(table, replace=change.action != "unchanged"))
        return changes

    def _init_table(self, table: Table) -> TableChange:
        client, ref = self.client, self._ref(table.name)
        with self._calling(f"reading table {table.name}"):
            try:
                stored = client.get_table(ref, retry=self.retry, timeout=self.timeout)
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
            with self._calling(f"creating table {table.name}"):
                client.create_table(new, exists_ok=True, retry=self.retry, timeout=self.timeout)
            return TableChange(table.name, "created")
        partition = stored.time_partitioning.field if stored.time_partitioning else None
        if partition != table.partition:
            raise BreakingChangeError(
                f"{table.name} is partitioned on {partition} in {self._where} but on "
                f"{table.partition} in schemas/: a breaking change needs a new table version"
            )
        merged, added = self._additions(table, stored)
        if not added:
            return TableChange(table.name, "unchanged")
        stored.schema = [bigquery.SchemaField.from_api_repr(f) for f in merged]
        with self._calling(f"adding columns to {table.name}"):
            client.update_table(stored, ["schema"], retry=self.retry, timeout=self.timeout)
            after = client.get_table(ref, retry=self.retry, timeout=self.timeout)
        _, missing = self._additions(table, after)
        if missing:
            raise WarehouseError(
                f"{self._where} accepted the new columns of {table.name} but did not add "
                f"{', '.join(missing)}"
            )
        return TableChange(table.name, "columns added", ", ".join(added))

    def _additions(
        self, table: Table, stored: bigquery.Table
    ) -> tuple[list[dict[str, Any]], list[str]]:
        merged, added, breaking = _evolve(
            table.fields, [f.to_api_repr() for f in stored.schema], ""
        )
        if breaking:
            raise BreakingChangeError(
                f"{'; '.join(f'{table.name}.{b}' for b in breaking)} (dataset {self.dataset} "
                f"in {self._where}): a breaking change needs a new table version"
            )
        return merged, added

    def _dedup_sql(self, table: Table) -> str:
        return dedup_view_sql(table, self._ref(table.name), emulator=self.emulator is not None)

    def _init_view(self, table: Table, *, replace: bool) -> TableChange:
        """The `<table>_dedup` view; re-created when its query or its table changed."""
        client, name = self.client, f"{table.name}{DEDUP_SUFFIX}"
        sql = self._dedup_sql(table)
        with self._calling(f"creating view {name}"):
            try:
                stored = client.get_table(self._ref(name), retry=self.retry, timeout=self.timeout)
            except google_exceptions.NotFound:
                stored = None
            if stored is not None and stored.view_query == sql and not replace:
                return TableChange(name, "unchanged")
            if stored is not None:
                # Re-created, not patched: the view's schema then includes new columns.
                client.delete_table(
                    self._ref(name), not_found_ok=True, retry=self.retry, timeout=self.timeout
                )
            view = bigquery.Table(self._ref(name))
            view.view_query = sql
            view.description = f"{table.name} with one row per {ROW_ID}: what readers query."
            client.create_table(view, retry=self.retry, timeout=self.timeout)
        return TableChange(name, "created" if stored is None else "replaced")

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
        ref = self._ref(spec.name)
        failed: list[RowFailure] = []
        for start in range(0, len(records), INSERT_BATCH):
            with self._calling(f"inserting into {spec.name}", spec.name):
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
        client, target = self.client, self._ref(spec.name)
        with self._calling(f"reading table {spec.name}", spec.name):
            stored = client.get_table(target, retry=self.retry, timeout=self.timeout)
        stage = self._ref(f"{STAGING_PREFIX}{spec.name}_{uuid.uuid4().hex}")
        staging = bigquery.Table(stage, schema=stored.schema)
        staging.expires = datetime.now(UTC) + STAGING_TTL
        with self._calling(f"staging rows for {spec.name}"):
            client.create_table(staging, retry=self.retry, timeout=self.timeout)
        try:
            with self._calling(f"staging rows for {spec.name}"):
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
            except _BACKEND_ERRORS as err:
                # Harmless: it expires within STAGING_TTL. Raising here would hide the
                # outcome of the load itself.
                log.warning("staging table not dropped", extra={"table": stage, "error": str(err)})

    def _insert_new(
        self, spec: Table, stored: bigquery.Table, stage: str, records: list[dict[str, Any]]
    ) -> int:
        """INSERT the staged rows whose id the table lacks; returns how many it added.

        BigQuery itself would take `MERGE t USING stage ON t.row_id = s.row_id AND t.day
        BETWEEN lo AND hi WHEN NOT MATCHED THEN INSERT ROW`; the emulator refuses that MERGE
        for lack of a partition filter, so we use this equivalent INSERT, which both accept.
        The batch's partition range bounds the lookup: the table requires a partition
        filter, and BigQuery then bills only those partitions.
        """
        columns = ", ".join(f"`{f.name}`" for f in stored.schema)
        params: dict[str, ParamValue] = {}
        scope = ""
        if spec.partition is not None:
            params = _partition_bounds(spec, [r.get(spec.partition) for r in records])
            scope = f"t.`{spec.partition}` BETWEEN @lo AND @hi AND "
        sql = (
            f"INSERT INTO `{stored.project}.{stored.dataset_id}.{stored.table_id}` ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM `{stage}` AS s WHERE NOT EXISTS (SELECT 1 FROM "
            f"`{self._ref(spec.name)}` AS t WHERE {scope}t.{ROW_ID} = s.{ROW_ID})"
        )
        job = self._run_query(sql, params, f"inserting staged rows into {spec.name}", spec.name)
        return int(job.num_dml_affected_rows or 0)

    # --- reads ---

    def _job_config(self, params: Mapping[str, ParamValue] | None) -> bigquery.QueryJobConfig:
        parameters = [
            bigquery.ScalarQueryParameter(name, param_type(name, value), value)
            for name, value in (params or {}).items()
        ]
        return bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}", query_parameters=parameters
        )

    def _run_query(
        self,
        sql: str,
        params: Mapping[str, ParamValue] | None,
        what: str,
        table: str | None = None,
    ) -> bigquery.QueryJob:
        config = self._job_config(params)  # a TypeError on a naive datetime, before any call
        with self._calling(what, table):
            job = self.client.query(
                sql,
                job_config=config,
                retry=self.retry,
                job_retry=None,  # else jobs.insert retries for 10 min; result() re-runs
                timeout=self.timeout,
            )
            job.result(retry=self.retry, job_retry=self.job_retry, timeout=self.timeout)
        return job

    def query(self, sql: str, params: Mapping[str, ParamValue] | None = None) -> pa.Table:
        job = self._run_query(sql, params, "query")
        with self._calling("query"):
            # The Storage Read API client is not a dependency of the functions; REST pages
            # are enough for a week of aggregates.
            result = job.to_arrow(create_bqstorage_client=False)
        return with_utc(_plain(result))
