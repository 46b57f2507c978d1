"""A small gRPC Pub/Sub Publisher service for testing the real client at the wire.

No faithful Pub/Sub emulator installs here (../shared/EMULATORS.md), so this serves
`google.pubsub.v1.Publisher/Publish` on 127.0.0.1 with the request and response types that
`google.pubsub_v1.types` defines, the bytes the real client sends and reads. It records
every call and can fail the next N calls with a status code of your choice. Only Publish
is served: the client calls nothing else to publish.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
from google.pubsub_v1.types import PublishRequest, PublishResponse

SERVICE = "google.pubsub.v1.Publisher"


@dataclass(frozen=True)
class Call:
    """One Publish call as the service received it, and how it answered."""

    request: PublishRequest
    code: grpc.StatusCode  # OK, or the failure it was told to return
    message_ids: tuple[str, ...] = ()  # the ids it answered with, one per message


class FakePublisher:
    """Records PublishRequests; answers OK with fresh message ids unless told to fail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._failures: list[tuple[grpc.StatusCode, str]] = []
        self._ids = itertools.count(1)
        self.host = ""  # HOST:PORT once started, the form PUBSUB_EMULATOR_HOST takes

    def fail_next(self, code: grpc.StatusCode, times: int = 1, message: str = "") -> None:
        """Answer the next `times` calls with `code` (and `message` as its details)."""
        with self._lock:
            self._failures.extend([(code, message or f"fake {code.name}")] * times)

    def heal(self) -> None:
        """Drop the failures still pending: the next calls succeed."""
        with self._lock:
            self._failures.clear()

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def message_id(self, data: bytes) -> str:
        """The id the service gave the (last accepted) message with this body."""
        ids = {
            message.data: message_id
            for call in self.calls
            for message, message_id in zip(call.request.messages, call.message_ids, strict=False)
        }
        return ids[data]

    @property
    def accepted(self) -> list[PublishRequest]:
        """The requests answered OK: what Pub/Sub would have stored."""
        return [call.request for call in self.calls if call.code == grpc.StatusCode.OK]

    def publish(self, request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
        with self._lock:
            if self._failures:
                code, message = self._failures.pop(0)
                self._calls.append(Call(request, code))
            else:
                ids = tuple(f"m{next(self._ids)}" for _ in request.messages)
                self._calls.append(Call(request, grpc.StatusCode.OK, ids))
                return PublishResponse(message_ids=ids)
        context.abort(code, message)  # raises: the call ends with that status
        raise AssertionError("unreachable: ServicerContext.abort raises")

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Publish": grpc.unary_unary_rpc_method_handler(
                    self.publish,
                    request_deserializer=PublishRequest.deserialize,
                    response_serializer=PublishResponse.serialize,
                )
            },
        )


@contextmanager
def fake_publisher() -> Iterator[FakePublisher]:
    """A running fake on a free port of 127.0.0.1, stopped (and its threads joined) after."""
    fake = FakePublisher()
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="fake-pubsub") as pool:
        server = grpc.server(pool)
        server.add_generic_rpc_handlers((fake.handler(),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        fake.host = f"127.0.0.1:{port}"
        try:
            yield fake
        finally:
            server.stop(grace=None).wait()
