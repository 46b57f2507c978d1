"""The ports: what the platform needs from a warehouse, a bucket and a publisher.

Every adapter (`livability/adapters/`) implements one of these; the rest of the code sees
only this module. It imports nothing heavy, so a Cloud Function that uses BigQuery never
loads DuckDB, and `import livability.ports` costs nothing (pyarrow appears in type hints
only).

A guarantee belongs to the interface, not to one backend, and `tests/contract/` proves each
on every adapter:
- `insert_rows` (the streaming path) never stores a row id twice *as readers see it*: an
  exact backend refuses the duplicate, a best-effort one (BigQuery's insertId) may store it,
  and every read the platform makes goes through the de-duplicating views.
- `load_rows` (the batch path: archive loads, score writes) is exact in storage.
- A backend that cannot take or give data raises `WarehouseError` (the event processor then
  answers 500 and Pub/Sub redelivers); a table that does not exist raises
  `MissingTableError`, which says how to create it.

What a backend can do is asked of the port, never read off its class: `dialect` names the
SQL it speaks, and `exports_to` says whether it can write a week of a table into a bucket
itself (`export_week`: BigQuery's EXPORT DATA into gs://). Only `settings` (the factory)
constructs an adapter; no other code checks an adapter's type or reaches into its client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from schemas import Registry

# A query parameter: its BigQuery type follows from its Python type (see `param_type`).
ParamValue = bool | int | float | str | date | datetime | None


class BackendError(RuntimeError):
    """A backend (warehouse, bucket, publisher) failed; the caller may retry later."""


class WarehouseError(BackendError):
    """The warehouse could not take or give data; the caller should retry later."""


class MissingTableError(WarehouseError):
    """A table of the contract does not exist in the warehouse."""

    def __init__(self, table: str, where: str) -> None:
        super().__init__(
            f"table {table} does not exist in {where}: run `livability init` "
            "(or `make deploy` for a cloud environment) to create the tables of schemas/"
        )
        self.table = table


class BreakingChangeError(WarehouseError):
    """The stored table differs from `schemas/` in a way no additive change can fix."""


class BucketError(BackendError):
    """The bucket could not store or return an object."""


class ObjectNotFoundError(BucketError):
    """No object under that key."""


class PublishError(BackendError):
    """Pub/Sub did not accept a message after the retries."""


class InvalidMessageError(PublishError):
    """Pub/Sub refused a message as invalid (INVALID_ARGUMENT): retrying cannot help."""


class NotSupportedError(RuntimeError):
    """An optional capability this backend lacks: the caller should have asked the port
    first (e.g. `Warehouse.exports_to` before `Warehouse.export_week`)."""


@dataclass(frozen=True)
class RowFailure:
    """A row the warehouse refused, by its index in the batch, with the warehouse's reason."""

    index: int
    reason: str


@dataclass(frozen=True)
class InsertResult:
    """What became of a batch: rows new to the table, and rows the warehouse refused.

    The rest (`len(rows) - inserted - len(failed)`) were already stored. A best-effort
    backend counts every accepted row as inserted.
    """

    inserted: int
    failed: tuple[RowFailure, ...] = ()


@dataclass(frozen=True)
class TableChange:
    """What `Warehouse.init` did to one table or view."""

    name: str  # a table, or its `<table>_dedup` view
    action: str  # "created", "columns added" (a table), "replaced" (a view), "unchanged"
    detail: str = ""


class Warehouse(Protocol):
    """Where rows of the contract's tables live. Tables are addressed as `dataset.table`."""

    dataset: str
    # The SQL the warehouse speaks, as SQLGlot names it ("duckdb", "bigquery"): code that
    # writes SQL once (scoring/sql.py) transpiles to it.
    dialect: str

    def init(self, registry: Registry) -> list[TableChange]:
        """Create the dataset, every table of `registry` and its de-duplicated view.

        Idempotent; additive changes (new NULLABLE columns) are applied, anything else
        raises `BreakingChangeError`.
        """
        ...

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, object]], row_ids: Sequence[str]
    ) -> InsertResult:
        """Streaming insert of validated rows, de-duplicated on their row ids."""
        ...

    def load_rows(
        self, table: str, rows: Sequence[Mapping[str, object]], row_ids: Sequence[str]
    ) -> InsertResult:
        """Batch insert, exact in storage: a row whose id is stored already is skipped."""
        ...

    def query(self, sql: str, params: Mapping[str, ParamValue] | None = None) -> pa.Table:
        """Standard SQL with typed `@name` parameters; TIMESTAMP columns come back in UTC."""
        ...

    # An optional capability: a backend without it answers False and raises NotSupportedError.

    def exports_to(self, bucket_url: str) -> bool:
        """Whether `export_week` can write into the bucket at `bucket_url` (gs://..., file://...)."""
        ...

    def export_week(self, table: str, first: date, last: date, uri: str) -> int:
        """Write `table`'s de-duplicated rows with `first <= partition <= last` as BigQuery JSON
        export files (NDJSON, gzip) matching `uri` (`<bucket URL>/<prefix>*.gz`, numbered from
        000000000000), replacing files of those names; returns the rows written.

        `NotSupportedError` where `exports_to(uri)` is False; `ValueError` for a URI the
        backend cannot take; `WarehouseError` when the export fails.
        """
        ...

    def close(self) -> None: ...


class Bucket(Protocol):
    """An object store: put/get/list by key, shaped like Cloud Storage."""

    url: str

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Store `data` under `key` (replacing any object there) and return its URI."""
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; `ObjectNotFoundError` if there is none."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys that start with `prefix`, sorted."""
        ...

    def close(self) -> None:
        """Release the client's connections."""
        ...


# V4 signed URLs are valid for at most 7 days (Cloud Storage's limit).
MAX_SIGNED_URL_LIFETIME = timedelta(days=7)


class SignedBucket(Bucket, Protocol):
    """A bucket that can hand out a time-limited URL to one object (sharing a certificate)."""

    def signed_url(self, key: str, expires: timedelta) -> str:
        """A V4 signed GET URL of the object under `key`, valid for `expires` (more than 0,
        at most `MAX_SIGNED_URL_LIFETIME`); `ObjectNotFoundError` if there is no object,
        `BucketError` when the credentials cannot sign."""
        ...


class Publisher(Protocol):
    """Publishes rows of the contract's ingest tables to Pub/Sub, one row per message."""

    def publish(self, table: str, rows: Sequence[Mapping[str, object]]) -> list[str]:
        """Publish each row as a message with attributes `table_id` and `schema_version`.

        Returns the message ids; raises `InvalidMessageError` on a message Pub/Sub refuses
        and `PublishError` when it stays unavailable through the retries.
        """
        ...

    def close(self) -> None: ...


class RawPublisher(Publisher, Protocol):
    """A publisher that can also send bytes unchecked: the smoke test's poison message."""

    def publish_raw(self, data: bytes, attributes: Mapping[str, str]) -> str:
        """Publish `data` as it is; its message id. `InvalidMessageError` if the topic's
        schema refuses it."""
        ...


_PARAM_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "BOOL"),  # before int: bool is an int
    (int, "INT64"),
    (float, "FLOAT64"),
    (str, "STRING"),
    (datetime, "TIMESTAMP"),  # before date: datetime is a date
    (date, "DATE"),
)


def param_type(name: str, value: ParamValue) -> str:
    """The BigQuery type of a query parameter; refuses what would be ambiguous.

    A naive datetime could mean any time zone, so none crosses the interface.
    """
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise TypeError(f"query parameter @{name}: {value!r} is a naive datetime; pass it in UTC")
    for python_type, bigquery_type in _PARAM_TYPES:
        if isinstance(value, python_type):
            return bigquery_type
    raise TypeError(f"query parameter @{name}: {type(value).__name__} is not a supported type")


_KEY_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f]+$")


def check_key(key: str) -> str:
    """An object key: relative, '/'-separated, no empty, '.' or '..' segments, no controls."""
    parts = key.split("/")
    if "\\" in key or not _KEY_SEGMENT.match(key) or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"object key {key!r} must be a relative path without '.' or '..'")
    return key
