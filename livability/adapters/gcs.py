"""Cloud Storage behind the bucket port (google-cloud-storage).

Keys are relative paths under the bucket's prefix: `gs://b/pre` stores key `a/b.gz` as
the object `pre/a/b.gz` and lists it back as `a/b.gz`. Every failure of the service or
the network comes out as a `BucketError` with the object's URI; no google exception
crosses the port. The client is created on first use, never at import.

With `emulator` (the value of `STORAGE_EMULATOR_HOST`, read by the caller), the client
talks to that stand-in with anonymous credentials; otherwise it uses Application Default
Credentials.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from livability.ports import (
    MAX_SIGNED_URL_LIFETIME,
    BucketError,
    ObjectNotFoundError,
    check_key,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

    # Not `from google.cloud import storage`: mypy finds no such attribute on the namespace.
    from google.cloud.storage import Bucket as StorageBucket
    from google.cloud.storage import Client

# A project id for the stand-in, which ignores it; a real client takes ADC's project.
EMULATOR_PROJECT = "livability-local"


class GCSBucket:
    """A Cloud Storage bucket, optionally under a prefix, as the `Bucket` port."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        emulator: str | None = None,
        client: Client | None = None,
        project: str | None = None,
        timeout: float = 60.0,
        retry_deadline: float = 120.0,
        signer: Credentials | None = None,
    ) -> None:
        """`timeout` bounds each HTTP request, `retry_deadline` all retries of one call;
        `signer` signs URLs (default: the client's own credentials)."""
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.url = f"gs://{bucket}/{self.prefix}" if self.prefix else f"gs://{bucket}"
        self._emulator = emulator
        self._project = project
        self._timeout = timeout
        self._retry_deadline = retry_deadline
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._signer = signer

    def __repr__(self) -> str:
        where = f", emulator={self._emulator!r}" if self._emulator else ""
        return f"GCSBucket({self.url!r}{where})"

    # The port.

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        name = self._name(key)
        uri = f"gs://{self.bucket}/{name}"
        blob = self._bucket().blob(name)
        try:
            # A put replaces the whole object with the same bytes, so a retried upload
            # cannot leave anything other than what the caller asked for.
            blob.upload_from_string(
                data, content_type=content_type, timeout=self._timeout, retry=self._retry()
            )
        except _errors() as err:
            raise BucketError(f"cannot write {uri}: {_describe(err)}") from err
        return uri

    def get(self, key: str) -> bytes:
        name = self._name(key)
        uri = f"gs://{self.bucket}/{name}"
        from google.api_core.exceptions import NotFound

        blob = self._bucket().blob(name)
        try:
            data = blob.download_as_bytes(timeout=self._timeout, retry=self._retry())
        except NotFound:
            raise ObjectNotFoundError(f"no object {key} in {self.url}") from None
        except _errors() as err:
            raise BucketError(f"cannot read {uri}: {_describe(err)}") from err
        return bytes(data)

    def list(self, prefix: str = "") -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        try:
            blobs = self._get_client().list_blobs(
                self.bucket, prefix=base + prefix, timeout=self._timeout, retry=self._retry()
            )
            names = [blob.name for blob in blobs]  # pages are fetched while iterating
        except _errors() as err:
            raise BucketError(f"cannot list {self.url} under {prefix!r}: {_describe(err)}") from err
        return sorted(str(name).removeprefix(base) for name in names)

    # The SignedBucket port.

    def signed_url(self, key: str, expires: timedelta) -> str:
        if not timedelta(0) < expires <= MAX_SIGNED_URL_LIFETIME:
            raise ValueError(
                f"expires: {expires} is not within 0..{MAX_SIGNED_URL_LIFETIME} (V4 signing)"
            )
        from google.api_core.exceptions import NotFound

        name = self._name(key)
        uri = f"gs://{self.bucket}/{name}"
        blob = self._bucket().blob(name)
        try:
            blob.reload(timeout=self._timeout, retry=self._retry())  # it must exist
        except NotFound:
            raise ObjectNotFoundError(f"no object {key} in {self.url}") from None
        except _errors() as err:
            raise BucketError(f"cannot read {uri}: {_describe(err)}") from err
        endpoint = {"api_access_endpoint": _endpoint(self._emulator)} if self._emulator else {}
        try:
            url = blob.generate_signed_url(
                version="v4",
                expiration=expires,
                method="GET",
                credentials=self._signer,
                **endpoint,
            )
        except AttributeError as err:  # google-auth's word for credentials without a key
            raise BucketError(
                f"cannot sign a URL for {uri}: these credentials cannot sign ({err}); use a "
                "service account's, e.g. `gcloud auth application-default login "
                "--impersonate-service-account=SA`"
            ) from err
        return str(url)

    # Not part of the port: release the client's HTTP connections.

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    # Helpers.

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _retry(self) -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_timeout(self._retry_deadline)

    def _bucket(self) -> StorageBucket:
        return self._get_client().bucket(self.bucket)

    def _get_client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
                self._owns_client = True
            return self._client

    def _make_client(self) -> Client:
        from google.auth.exceptions import GoogleAuthError
        from google.cloud.storage import Client

        try:
            if self._emulator is not None:
                from google.auth.credentials import AnonymousCredentials

                return Client(
                    project=self._project or EMULATOR_PROJECT,
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options={"api_endpoint": _endpoint(self._emulator)},
                )
            return Client(project=self._project)
        except GoogleAuthError as err:
            raise BucketError(f"cannot reach {self.url}: no credentials ({err})") from err


def _endpoint(host: str) -> str:
    """`STORAGE_EMULATOR_HOST` may omit the scheme; the client needs one."""
    host = host.rstrip("/")
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def _errors() -> tuple[type[BaseException], ...]:
    """What the client raises when the service or the network fails (imported lazily)."""
    import requests
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

    return (
        GoogleAPIError,
        GoogleAuthError,
        requests.RequestException,
        ConnectionError,
        InvalidResponse,
        DataCorruption,
    )


def _describe(err: BaseException) -> str:
    """The error and, for a retry that ran out, the last failure behind it."""
    from google.api_core.exceptions import RetryError

    if isinstance(err, RetryError) and err.cause is not None:
        return f"{err.message}; last error: {type(err.cause).__name__}: {err.cause}"
    return f"{type(err).__name__}: {err}"
