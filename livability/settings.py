"""Settings: URLs in, adapters out. Built once at each entry point and passed down.

LIVABILITY_WAREHOUSE  duckdb:///ABSOLUTE/PATH, duckdb://RELATIVE/PATH or
                      bigquery://PROJECT/DATASET (default: duckdb under LIVABILITY_HOME)
LIVABILITY_BUCKET     file:///ABSOLUTE/PATH, file://RELATIVE/PATH or gs://BUCKET[/PREFIX]
                      (default: a folder under LIVABILITY_HOME)
LIVABILITY_ARCHIVE    the weekly archive of the raw tables, same forms as LIVABILITY_BUCKET
                      (default: LIVABILITY_HOME/archive; gs://<archive bucket> in the cloud)
LIVABILITY_TOPIC      projects/PROJECT/topics/TOPIC, for publishers
LIVABILITY_ROWS_PER_MESSAGE
                      rows a publisher puts in one message: 1 (default) for a topic with the
                      generated schema (BigQuery subscription), up to 1000 in ingest mode
                      `function`, where each message is one event-processor run
LIVABILITY_HOME       local state folder (default .livability/)
LIVABILITY_DATASET    the dataset of a DuckDB warehouse (default sensor_data); a BigQuery
                      URL names its own
LIVABILITY_DUCKDB_MEMORY_MB
                      DuckDB's memory limit, MB (default 768; 256 to 1048576)
BIGQUERY_EMULATOR_HOST, STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST
                      the clients' standard variables: a local stand-in, reached with
                      anonymous credentials; otherwise Application Default Credentials

Only `Settings.from_env` reads the environment; no module reads it behind its caller. It reads
them with the platform's one settings mechanism (`livability.config`): each field names its
variable and parser, and a bad value is a `SettingsError` of one line naming the variable and
the value.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

from livability import config
from livability.config import env, group
from livability.gcp import BUCKET_NAME, DATASET_ID, PROJECT_ID
from livability.messages import MAX_ROWS_PER_MESSAGE
from schemas import Registry, registry

if TYPE_CHECKING:
    from livability.ports import Bucket, RawPublisher, SignedBucket, Warehouse

DEFAULT_HOME = Path(".livability")
# DuckDB's limit bounds its own buffers, not the Arrow results and polars' frames beside it:
# 768 MB keeps a 100k-home week's scoring under 2 GB in all (`make bench`, benchmarks/scoring.py).
DUCKDB_MEMORY_MB = 768
DEFAULT_DATASET = "sensor_data"
# cloud.google.com/resource-manager/docs/creating-managing-projects: 6-30 characters.
_TOPIC = re.compile(
    r"^projects/([a-z][-a-z0-9]{4,28}[a-z0-9])/topics/([A-Za-z][-A-Za-z0-9._~+%]{2,254})$"
)
_HOST = re.compile(r"^(https?://)?[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?/?$")


class SettingsError(config.ConfigError):
    """A setting has a value the platform cannot use; the message names the variable."""


@dataclass(frozen=True)
class WarehouseURL:
    kind: Literal["duckdb", "bigquery"]
    dataset: str
    path: Path | None = None  # duckdb
    project: str | None = None  # bigquery

    def __str__(self) -> str:
        if self.kind == "duckdb":
            return f"duckdb://{self.path}"
        return f"bigquery://{self.project}/{self.dataset}"

    @classmethod
    def parse(
        cls, text: str, *, dataset: str, variable: str = "LIVABILITY_WAREHOUSE"
    ) -> WarehouseURL:
        return config.parsed(
            variable, text, partial(_warehouse_url, dataset=dataset), SettingsError
        )


def _warehouse_url(text: str, dataset: str) -> WarehouseURL:
    if text.startswith("duckdb://"):
        path = _local_path(text, text.removeprefix("duckdb://"), "duckdb:///PATH")
        # DuckDB reads these names as no file at all: rows written there vanish with the
        # process (`:memory:`), or go to a remote service (`md:`, MotherDuck).
        if path.parts and path.parts[0].lower().startswith((":memory:", "md:", "motherduck:")):
            raise ValueError(
                f"{text!r} is not a file: DuckDB keeps it in memory or remotely, and every row "
                "stored there would be lost (duckdb:///PATH)"
            )
        if text.endswith("/") or path.is_dir():
            raise ValueError(f"{text!r} names a folder, not a DuckDB file (duckdb:///PATH)")
        return WarehouseURL("duckdb", _dataset(dataset), path=path)
    if text.startswith("bigquery://"):
        parts = text.removeprefix("bigquery://").split("/")
        if len(parts) != 2 or not PROJECT_ID.match(parts[0]):
            raise ValueError(f"{text!r} is not bigquery://PROJECT/DATASET with a valid project id")
        if not DATASET_ID.match(parts[1]):
            raise ValueError(
                f"{text!r} names dataset {parts[1]!r}, which is not valid "
                "(letters, digits and underscores)"
            )
        return WarehouseURL("bigquery", parts[1], project=parts[0])
    raise ValueError(f"{text!r} is not duckdb:///PATH or bigquery://PROJECT/DATASET")


def _local_path(text: str, rest: str, form: str) -> Path:
    """The path of a `duckdb://` or `file://` URL: what follows the scheme, %-escapes decoded
    (as `Path.as_uri()` writes them) and a leading `~` or `~user` expanded. A query string or
    fragment, a control character or surrounding space is refused: each would otherwise
    become part of a file name."""
    if text != text.strip() or rest != rest.strip():
        raise ValueError(f"{text!r} has white space around it or its path")
    if "?" in rest or "#" in rest:
        raise ValueError(
            f"{text!r} has a query string or fragment; {form} takes a path only "
            "(write a '?' or '#' in a file name as %3F or %23)"
        )
    try:
        decoded = unquote(rest, errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"{text!r} has a %-escape that is not UTF-8") from None
    if not decoded.strip("/") or any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        raise ValueError(f"{text!r} names no path, or a path with a control character ({form})")
    if len(decoded) > _MAX_PATH:
        raise ValueError(
            f"{text[:40]!r}... is a path of {len(decoded)} characters (at most {_MAX_PATH})"
        )
    try:
        return Path(decoded).expanduser()
    except RuntimeError:  # `~nobody`, or `~` without HOME
        user = decoded.split("/", 1)[0]
        raise ValueError(f"{text!r} starts with {user!r}, which names no home folder") from None


_MAX_PATH = 4096  # PATH_MAX on Linux


@dataclass(frozen=True)
class BucketURL:
    kind: Literal["file", "gs"]
    path: Path | None = None  # file
    bucket: str | None = None  # gs
    prefix: str = ""  # gs

    def __str__(self) -> str:
        if self.kind == "file":
            return f"file://{self.path}"
        return f"gs://{self.bucket}/{self.prefix}".rstrip("/")

    @classmethod
    def parse(cls, text: str, variable: str = "LIVABILITY_BUCKET") -> BucketURL:
        return config.parsed(variable, text, _bucket_url, SettingsError)


def _bucket_url(text: str) -> BucketURL:
    if text.startswith("file://"):
        path = _local_path(text, text.removeprefix("file://"), "file:///PATH")
        if path.exists() and not path.is_dir():
            raise ValueError(f"{text!r} is a file, not a folder (file:///PATH)")
        return BucketURL("file", path=path)
    if text.startswith("gs://"):
        bucket, _, prefix = text.removeprefix("gs://").partition("/")
        segments = prefix.strip("/").split("/") if prefix.strip("/") else []
        if (
            not BUCKET_NAME.match(bucket)
            or any(part in ("", ".", "..") for part in segments)
            or any(c in prefix for c in "?#\\")
            or not prefix.isprintable()
        ):
            raise ValueError(
                f"{text!r} is not gs://BUCKET[/PREFIX] (a prefix of plain '/'-separated names, "
                "no '.', '..', '?' or '#')"
            )
        return BucketURL("gs", bucket=bucket, prefix=prefix.strip("/"))
    raise ValueError(f"{text!r} is not file:///PATH or gs://BUCKET[/PREFIX]")


def _home(text: str) -> Path:
    """LIVABILITY_HOME: a folder path, `~` expanded; no control characters."""
    return _local_path(text, text, "a folder path")


def _dataset(name: str) -> str:
    """LIVABILITY_DATASET, checked where a DuckDB warehouse uses it (a BigQuery URL names
    its own)."""
    parse = config.pattern(DATASET_ID, "a valid dataset name (letters, digits and underscores)")
    return config.parsed("LIVABILITY_DATASET", name, parse, SettingsError)


_host = config.pattern(_HOST, "HOST:PORT or http://HOST:PORT")
_topic = config.pattern(_TOPIC, "projects/PROJECT/topics/TOPIC")


@dataclass(frozen=True)
class Emulators:
    """Local stand-ins for Google's services, from the clients' standard variables."""

    bigquery: str | None = field(default=None, metadata=env("BIGQUERY_EMULATOR_HOST", _host))
    storage: str | None = field(default=None, metadata=env("STORAGE_EMULATOR_HOST", _host))
    pubsub: str | None = field(default=None, metadata=env("PUBSUB_EMULATOR_HOST", _host))


@dataclass(frozen=True)
class Settings:
    """Where the platform keeps its data, and how to reach it."""

    home: Path = field(default=DEFAULT_HOME, metadata=env("LIVABILITY_HOME", _home))
    # None: the embedded default under `home`. Not a plain variable: `from_env` reads
    # LIVABILITY_WAREHOUSE together with LIVABILITY_DATASET, which a DuckDB URL takes its
    # dataset from (a BigQuery URL names its own).
    warehouse: WarehouseURL | None = None
    # None: the embedded default under `home`.
    bucket: BucketURL | None = field(default=None, metadata=env("LIVABILITY_BUCKET", _bucket_url))
    topic: str | None = field(default=None, metadata=env("LIVABILITY_TOPIC", _topic))
    # Rows a publisher puts in one Pub/Sub message.
    rows_per_message: int = field(
        default=1,
        metadata=env("LIVABILITY_ROWS_PER_MESSAGE", config.integer(1, MAX_ROWS_PER_MESSAGE)),
    )
    # DuckDB's memory: what the embedded warehouse may hold at once, cache included; beyond
    # it, DuckDB spills to a temp folder beside its file. Scoring queries homes in slices that
    # fit (scoring/model.py `SLICE_ROWS`), so the whole job stays near this bound.
    duckdb_memory_mb: int = field(
        default=DUCKDB_MEMORY_MB,
        metadata=env("LIVABILITY_DUCKDB_MEMORY_MB", config.integer(256, 1 << 20)),
    )
    # None: the embedded default under `home`.
    archive: BucketURL | None = field(default=None, metadata=env("LIVABILITY_ARCHIVE", _bucket_url))
    emulators: Emulators = field(default_factory=Emulators, metadata=group(Emulators))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        settings = config.from_env(cls, environ, SettingsError)
        dataset = environ.get("LIVABILITY_DATASET") or DEFAULT_DATASET
        warehouse = environ.get("LIVABILITY_WAREHOUSE")
        return replace(
            settings,
            warehouse=(
                WarehouseURL.parse(warehouse, dataset=dataset)
                if warehouse
                else WarehouseURL("duckdb", _dataset(dataset), settings.home / "warehouse.duckdb")
            ),
        )

    @property
    def warehouse_url(self) -> WarehouseURL:
        return self.warehouse or WarehouseURL(
            "duckdb", DEFAULT_DATASET, self.home / "warehouse.duckdb"
        )

    @property
    def bucket_url(self) -> BucketURL:
        return self.bucket or BucketURL("file", path=self.home / "bucket")

    @property
    def archive_url(self) -> BucketURL:
        return self.archive or BucketURL("file", path=self.home / "archive")

    @property
    def dataset(self) -> str:
        return self.warehouse_url.dataset

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file of the embedded warehouse."""
        return _local(self.warehouse_url, "LIVABILITY_WAREHOUSE", "a DuckDB file")

    @property
    def bucket_path(self) -> Path:
        """The folder of the embedded bucket."""
        return _local(self.bucket_url, "LIVABILITY_BUCKET", "a local folder")

    @property
    def embedded(self) -> bool:
        return self.warehouse_url.kind == "duckdb"

    def open_warehouse(
        self, schemas: Registry | None = None, *, init: bool | None = None
    ) -> Warehouse:
        return open_warehouse(self, schemas, init=init)

    def open_bucket(self) -> Bucket:
        return open_bucket(self)

    def open_archive(self) -> Bucket:
        """The archive bucket (`LIVABILITY_ARCHIVE`), through the same Bucket adapters."""
        return open_bucket(self, self.archive_url)


def _local(url: WarehouseURL | BucketURL, variable: str, what: str) -> Path:
    if url.path is None:
        raise SettingsError(f"{variable}: {url} is not {what}")
    return url.path


def open_warehouse(
    settings: Settings,
    schemas: Registry | None = None,
    *,
    init: bool | None = None,
    ingest: bool = False,
) -> Warehouse:
    """The configured warehouse; its adapter module is imported only now.

    The embedded default creates its tables on first use (`init` defaults to True there);
    a cloud warehouse is created by `livability init` or `make deploy`, never implicitly.
    `ingest` tunes it for a process that mostly writes small batches (the event processor):
    DuckDB then runs each statement on one thread, as its thread pool costs more CPU than it
    saves on inserts of a few rows (about 20 % more messages/s in `make bench`).
    """
    url = settings.warehouse_url
    schemas = schemas or registry()
    if url.kind == "duckdb":
        from livability.adapters.duckdb_warehouse import DuckDBWarehouse

        assert url.path is not None
        duck = DuckDBWarehouse(
            url.path,
            schemas,
            url.dataset,
            threads=1 if ingest else None,
            memory_mb=settings.duckdb_memory_mb,
        )
        if init is None or init:
            duck.init()
        return duck
    from livability.adapters.bigquery import BigQueryWarehouse

    assert url.project is not None
    bigquery = BigQueryWarehouse(
        url.project, url.dataset, schemas, emulator=settings.emulators.bigquery
    )
    if init:
        bigquery.init(schemas)
    return bigquery


def open_bucket(settings: Settings, url: BucketURL | None = None) -> Bucket:
    url = url or settings.bucket_url
    if url.kind == "file":
        from livability.adapters.local_bucket import LocalBucket

        assert url.path is not None
        return LocalBucket(url.path)
    from livability.adapters.gcs import GCSBucket

    assert url.bucket is not None
    return GCSBucket(url.bucket, url.prefix, emulator=settings.emulators.storage)


def open_signed_bucket(settings: Settings) -> SignedBucket:
    """The data bucket, able to sign URLs: Cloud Storage only (a local folder has no URL to
    share)."""
    url = settings.bucket_url
    if url.kind != "gs":
        raise SettingsError(
            f"LIVABILITY_BUCKET: {url} is a local folder; sharing a certificate by a signed "
            "URL needs a gs://BUCKET"
        )
    from livability.adapters.gcs import GCSBucket

    assert url.bucket is not None
    return GCSBucket(url.bucket, url.prefix, emulator=settings.emulators.storage)


def open_publisher(settings: Settings) -> RawPublisher:
    """The topic's publisher (it also sends raw bytes: `livability smoke`'s poison)."""
    if settings.topic is None:
        raise SettingsError("LIVABILITY_TOPIC: not set (projects/PROJECT/topics/TOPIC)")
    from livability.adapters.pubsub import PubSubPublisher

    return PubSubPublisher(
        settings.topic,
        emulator=settings.emulators.pubsub,
        rows_per_message=settings.rows_per_message,
    )


_SHARED_LOCK = threading.Lock()


@cache
def _shared(settings: Settings) -> Warehouse:
    return open_warehouse(settings, ingest=True)


def shared_warehouse(settings: Settings) -> Warehouse:
    """One warehouse per settings and process, shared by its threads and callers.

    A long-lived process (the function runtime, `serve`, the demo) keeps its clients rather
    than paying for them per message; the DuckDB adapter still releases the file when idle.
    Concurrent first requests open it once.
    """
    with _SHARED_LOCK:
        return _shared(settings)


@cache
def _shared_bucket(settings: Settings) -> Bucket:
    return open_bucket(settings)


def shared_bucket(settings: Settings) -> Bucket:
    """The data bucket, one per settings and process (the event processor keeps a dead
    letter's whole payload there when it is over the table's 1 MB)."""
    with _SHARED_LOCK:
        return _shared_bucket(settings)


def _clear_shared() -> None:
    _shared.cache_clear()
    _shared_bucket.cache_clear()


shared_warehouse.cache_clear = _clear_shared  # type: ignore[attr-defined]
