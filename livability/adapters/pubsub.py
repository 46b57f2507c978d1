"""Pub/Sub behind the publisher port (google-cloud-pubsub), for the edge gateway and pollers.

Messages as `livability.messages` writes them. One validated row per message by default:
what a topic with the generated Avro schema and a BigQuery subscription (ingest mode
`bigquery_subscription`) need. With `rows_per_message` N > 1 (ingest mode `function`, a topic
without a schema), a body is a JSON array of up to N rows: one function run stores N rows,
which is what makes that mode affordable (docs/finops.md).

A row that breaks the contract is refused before anything is sent: nothing of that call
reaches Pub/Sub.

Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) are retried with exponential backoff
for up to `deadline` seconds, then raise `PublishError`; INVALID_ARGUMENT is not retried
and raises `InvalidMessageError` with the server's message. After a failure the caller may
publish the same rows again: their row ids make the copies collapse into one row.

With `emulator` (the value of `PUBSUB_EMULATOR_HOST`, read by the caller) the client talks
plaintext gRPC to that host with no credentials, as the library itself would for that
variable; this module never reads the environment. The client is created on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from livability import messages
from livability.messages import MAX_ROWS_PER_MESSAGE
from livability.ports import InvalidMessageError, PublishError
from schemas import Table, UnknownTableError, registry

if TYPE_CHECKING:
    from google.api_core.retry import Retry

    # Not `from google.cloud import pubsub_v1`: mypy finds no such attribute on the namespace.
    from google.cloud.pubsub_v1 import PublisherClient


class PubSubPublisher:
    """Publishes rows of the contract's ingest tables to one topic."""

    def __init__(
        self,
        topic_path: str,
        *,
        emulator: str | None = None,
        client: PublisherClient | None = None,
        batch_max_messages: int = 100,
        batch_max_latency: float = 0.05,
        batch_max_bytes: int = 1_000_000,
        deadline: float = 60.0,
        timeout: float = 30.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 10.0,
        rows_per_message: int = 1,
    ) -> None:
        """`deadline` bounds the retries of one request; `timeout` each attempt of it.

        A request carries at most `batch_max_messages` messages and `batch_max_bytes`
        bytes; it goes out when the next message does not fit, or `batch_max_latency`
        seconds after its first message, which is also what a `publish` call waits for its
        last, partly filled request (the client offers no flush short of `stop`).
        """
        if not 0 <= batch_max_latency < float("inf") or batch_max_messages < 1:
            raise ValueError("batch_max_latency must be finite and batch_max_messages >= 1")
        if not 1 <= rows_per_message <= MAX_ROWS_PER_MESSAGE:
            raise ValueError(f"rows_per_message must be 1 to {MAX_ROWS_PER_MESSAGE}")
        if deadline <= 0 or timeout <= 0 or initial_backoff <= 0 or max_backoff < initial_backoff:
            raise ValueError(
                "deadline, timeout and initial_backoff must be positive, "
                "max_backoff >= initial_backoff"
            )
        self.topic_path = topic_path
        self._emulator = emulator
        self._client = client
        self._batch = (batch_max_messages, batch_max_latency, batch_max_bytes)
        self._deadline = deadline
        self._timeout = timeout
        self._rows_per_message = rows_per_message
        self._backoff = (initial_backoff, max_backoff)
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        where = f", emulator={self._emulator!r}" if self._emulator else ""
        return f"PubSubPublisher({self.topic_path!r}{where})"

    def publish(self, table: str, rows: Sequence[Mapping[str, object]]) -> list[str]:
        """Validate every row, publish them (one message per `rows_per_message` rows), wait
        for all; the message ids."""
        spec = _ingest_table(table)
        bodies = messages.bodies(spec, rows, self._rows_per_message)
        if not bodies:
            return []
        attributes = messages.attributes(spec)
        client = self._get_client()
        retry, timeout = self._retry(), self._rpc_timeout()
        futures = []
        failures: list[BaseException] = []
        for body in bodies:
            try:
                futures.append(
                    client.publish(
                        self.topic_path, body, retry=retry, timeout=timeout, **attributes
                    )
                )
            except _refused() as err:  # too large for a request: no retry can help
                failures.append(err)
                break
        # Wait for every future, even after a failure, so no batch is left in flight.
        ids: list[str] = []
        for future in futures:
            try:
                ids.append(str(future.result(timeout=self._wait_limit())))
            except _errors() as err:
                failures.append(err)
        if failures:
            raise self._failure(spec, len(bodies), failures)
        return ids

    def publish_raw(self, data: bytes, attributes: Mapping[str, str]) -> str:
        """Publish `data` exactly as given, unchecked; its message id.

        For what must never come from a gateway: the smoke test's poison message, which proves
        the platform dead-letters what it cannot read. A topic with a schema refuses it
        (`InvalidMessageError`).
        """
        client = self._get_client()
        future = client.publish(
            self.topic_path, data, retry=self._retry(), timeout=self._rpc_timeout(), **attributes
        )
        try:
            return str(future.result(timeout=self._wait_limit()))
        except _errors() as err:
            raise self._failure(_RAW, 1, [err]) from None

    def close(self) -> None:
        """Send what is still batched, stop the client and close its channel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.stop()  # commits the open batches; publish() has waited for them already
            client.transport.close()

    # Helpers.

    def _get_client(self) -> PublisherClient:
        with self._lock:
            if self._closed:
                raise PublishError(f"publisher for {self.topic_path} is closed")
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> PublisherClient:
        from google.cloud.pubsub_v1 import PublisherClient, types

        max_messages, max_latency, max_bytes = self._batch
        options: dict[str, Any] = {
            # The library sends a batch when a message would bring it to max_messages,
            # without that message (thread.Batch.publish): one more makes ours the maximum.
            "batch_settings": types.BatchSettings(
                max_bytes=max_bytes, max_latency=max_latency, max_messages=max_messages + 1
            ),
            "publisher_options": types.PublisherOptions(
                retry=self._retry(), timeout=self._rpc_timeout()
            ),
        }
        if self._emulator is None:
            from google.auth.exceptions import GoogleAuthError

            try:
                return PublisherClient(**options)
            except GoogleAuthError as err:
                raise PublishError(f"cannot publish to {self.topic_path}: {err}") from err
        # What the library does for PUBSUB_EMULATOR_HOST (publisher/client.py), made explicit
        # so the environment plays no part: plaintext gRPC, no credentials.
        import grpc
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        target = _grpc_target(self._emulator)
        transport = PublisherGrpcTransport(channel=grpc.insecure_channel(target), host=target)
        return PublisherClient(transport=transport, **options)

    def _retry(self) -> Retry:
        from google.api_core import exceptions
        from google.api_core.retry import Retry, if_exception_type

        initial, maximum = self._backoff
        return Retry(
            predicate=if_exception_type(exceptions.ServiceUnavailable, exceptions.DeadlineExceeded),
            initial=initial,
            maximum=maximum,
            multiplier=2.0,
            timeout=self._deadline,
        )

    def _rpc_timeout(self) -> Any:
        from google.api_core.timeout import ConstantTimeout

        return ConstantTimeout(self._timeout)  # type: ignore[no-untyped-call]

    def _wait_limit(self) -> float:
        """A guard on waiting for a future: the retries end well before it."""
        return self._batch[1] + self._deadline + 2 * self._timeout

    def _failure(self, spec: Table, total: int, failures: list[BaseException]) -> PublishError:
        from google.api_core.exceptions import InvalidArgument, RetryError

        lost = (
            f"{len(failures)} of {total} {spec.name} messages were not published "
            f"to {self.topic_path}"
        )
        invalid = next((f for f in failures if isinstance(f, (InvalidArgument, *_refused()))), None)
        if invalid is not None:
            reason = invalid.message if isinstance(invalid, InvalidArgument) else str(invalid)
            error: PublishError = InvalidMessageError(
                f"Pub/Sub refused a {spec.name} message as invalid: {reason} ({lost})"
            )
            error.__cause__ = invalid
            return error
        first = failures[0]
        if isinstance(first, RetryError):
            why = f"{first.message}; last error: {_text(first.cause)}"
        elif isinstance(first, FutureTimeout):
            why = f"no answer within {self._wait_limit():.0f} s"
        else:
            why = _text(first)
        error = PublishError(f"{lost}: {why}; publishing the same rows again is safe")
        error.__cause__ = first
        return error


# What a raw message's errors name: it is for no table of the contract.
_RAW = Table(name="raw", fields=())


def _ingest_table(name: str) -> Table:
    try:
        spec = registry()[name]
    except UnknownTableError as err:
        raise ValueError(f"table_id {name!r}: {err}") from None
    if not spec.ingest:
        raise ValueError(f"table_id {name!r} is not an ingest table: devices may not publish to it")
    return spec


def _grpc_target(host: str) -> str:
    """`PUBSUB_EMULATOR_HOST` is HOST:PORT; accept a scheme as settings does."""
    return host.removeprefix("http://").removeprefix("https://").rstrip("/")


def _errors() -> tuple[type[BaseException], ...]:
    """What a publish future raises when Pub/Sub or the network fails (imported lazily)."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    return (GoogleAPIError, GoogleAuthError, FutureTimeout)


def _refused() -> tuple[type[BaseException], ...]:
    """What `publish` raises at once for a message no request can carry."""
    from google.cloud.pubsub_v1.publisher.exceptions import MessageTooLargeError

    return (MessageTooLargeError,)


def _text(err: BaseException | None) -> str:
    if err is None:
        return "unknown"
    from google.api_core.exceptions import GoogleAPICallError

    if isinstance(err, GoogleAPICallError):
        return f"{type(err).__name__}: {err.message}"
    return f"{type(err).__name__}: {err}"
