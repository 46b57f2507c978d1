"""The BigQuery client under the warehouse adapter: made on first use, with retries bounded
by a deadline, and no google exception let out (each becomes the port's error).

`BigQueryConnection` is a project, a dataset and the contract's tables (`registry`) in it;
the adapter (`bigquery.py`) and table creation (`bigquery_schema.py`) build on it. No
environment is read here: the project, dataset and emulator come from `settings.py`, and
constructing one costs no network call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import google.auth.exceptions
from google.api_core import exceptions as google_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

from livability.ports import MissingTableError, ParamValue, WarehouseError, param_type
from schemas import Registry

DEFAULT_DEADLINE = 60.0  # seconds of retries per call: inside a function's time limit
# "Not found: Table proj:dataset.table ..." / "Not found: Dataset proj:dataset ..."
_NOT_FOUND = re.compile(r"Not found: (Table|Dataset) [^:\s]+:([\w.]+)")
# What leaves the client when BigQuery cannot be reached or answers with an error: the API
# errors (incl. RetryError once the deadline passes), credentials, and sockets (requests'
# errors and TimeoutError are OSErrors).
BACKEND_ERRORS = (
    google_exceptions.GoogleAPIError,
    google.auth.exceptions.GoogleAuthError,
    OSError,
)


def _endpoint(host: str) -> str:
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


class BigQueryConnection:
    """A lazily made client for one project and dataset, and the calls every part makes."""

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
        self.where = f"BigQuery project {project}"
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

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
        except BACKEND_ERRORS as err:
            raise WarehouseError(
                f"cannot create a BigQuery client for {self.project}: {err}"
            ) from err

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    @contextmanager
    def calling(self, what: str, table: str | None = None) -> Iterator[None]:
        """Turn the client's exceptions into the port's: no google exception escapes."""
        try:
            yield
        except google_exceptions.NotFound as err:
            raise MissingTableError(self._missing(err, table), self.where) from err
        except BACKEND_ERRORS as err:
            raise WarehouseError(f"{what} in {self.where} failed: {err}") from err

    def _missing(self, err: google_exceptions.NotFound, table: str | None) -> str:
        if table is not None:
            return f"{self.dataset}.{table}"
        match = _NOT_FOUND.search(str(err))
        return match[2] if match else f"{self.dataset} (BigQuery: {err.message})"

    def ref(self, name: str) -> str:
        """`project.dataset.name`: a table or view of this dataset."""
        return f"{self.project}.{self.dataset}.{name}"

    def _job_config(self, params: Mapping[str, ParamValue] | None) -> bigquery.QueryJobConfig:
        parameters = [
            bigquery.ScalarQueryParameter(name, param_type(name, value), value)
            for name, value in (params or {}).items()
        ]
        return bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}", query_parameters=parameters
        )

    def run_query(
        self,
        sql: str,
        params: Mapping[str, ParamValue] | None,
        what: str,
        table: str | None = None,
    ) -> bigquery.QueryJob:
        """Run a statement to its end; the finished job (its results, its statistics)."""
        config = self._job_config(params)  # a TypeError on a naive datetime, before any call
        with self.calling(what, table):
            job = self.client.query(
                sql,
                job_config=config,
                retry=self.retry,
                job_retry=None,  # else jobs.insert retries for 10 min; result() re-runs
                timeout=self.timeout,
            )
            job.result(retry=self.retry, job_retry=self.job_retry, timeout=self.timeout)
        return job
