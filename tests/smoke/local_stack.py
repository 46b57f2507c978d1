"""The local stack the smoke test runs against in `make test`.

- Pub/Sub at the wire: the gRPC Publisher of tests/grpc_publisher.py (the real
  google-cloud-pubsub client publishes to it), which here also does what a push subscription
  does: POSTs each accepted message as a Pub/Sub push body to the event processor, retrying
  a failed delivery with backoff, as Pub/Sub would.
- The event processor as `livability serve` serves it (functions-framework under gunicorn on
  127.0.0.1), the weekly scoring and archive functions under `functions-framework` itself:
  three real HTTP servers in three processes, all on one warehouse: a DuckDB file under
  LIVABILITY_HOME (each process opens it only while it has work), or the BigQuery stand-in.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import requests
from google.pubsub_v1.types import PublishRequest, PublishResponse

from livability.net import free_port, wait_listening
from tests.support.grpc_publisher import FakePublisher
from tests.support.paths import ROOT

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
PUSH_ATTEMPTS = 5
SUBSCRIPTION = "projects/test-proj/subscriptions/sensor_data_to_processor"


class PushingPublisher(FakePublisher):
    """A Publisher whose accepted messages are pushed to `endpoint`, in the background."""

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.pushed: list[tuple[str, int]] = []  # (message id, the status that ended it)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="push")
        self._pushed_lock = threading.Lock()

    def publish(self, request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
        response = super().publish(request, context)
        for message, message_id in zip(request.messages, response.message_ids, strict=True):
            self._pool.submit(self._push, message.data, dict(message.attributes), message_id)
        return response

    def _push(self, data: bytes, attributes: dict[str, str], message_id: str) -> None:
        body = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "attributes": attributes,
                "messageId": message_id,
                "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            },
            "subscription": SUBSCRIPTION,
        }
        status = 0
        for attempt in range(PUSH_ATTEMPTS):
            try:
                status = requests.post(self.endpoint, json=body, timeout=30).status_code
            except requests.RequestException:
                status = 0
            if 200 <= status < 300:
                break
            time.sleep(0.1 * 2**attempt)  # Pub/Sub's backoff between deliveries, scaled down
        with self._pushed_lock:
            self.pushed.append((message_id, status))

    def stop(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass
class LocalStack:
    home: Path
    processor: str
    score: str
    archive: str
    pubsub: PushingPublisher
    backend: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """What `livability smoke` is given to reach this stack."""
        return {
            **self.backend,
            "LIVABILITY_HOME": str(self.home),
            "LIVABILITY_TOPIC": "projects/test-proj/topics/sensor_data",
            "LIVABILITY_ROWS_PER_MESSAGE": "100",
            "PUBSUB_EMULATOR_HOST": self.pubsub.host,
        }


@contextmanager
def _server(command: list[str], env: dict[str, str], log: Path) -> Iterator[int]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_listening(port, process, STARTUP_SECONDS)
            yield port
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def _function(target: str) -> list[str]:
    return [
        str(BIN / "functions-framework"), f"--target={target}",
        f"--source={ROOT / 'functions' / f'{target}.py'}", "--host=127.0.0.1",
    ]  # fmt: skip


@contextmanager
def local_stack(home: Path, backend: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """Every server started, in parallel; stopped (and the pushes drained) afterwards.

    `backend`: settings of another warehouse than the DuckDB file under `home` (the BigQuery
    stand-in: LIVABILITY_WAREHOUSE, BIGQUERY_EMULATOR_HOST), given to every process."""
    backend = backend or {}
    env = {**os.environ, "LIVABILITY_HOME": str(home)}
    env.pop("LIVABILITY_WAREHOUSE", None)
    env.update(backend)
    logs = home.parent / "logs"
    logs.mkdir(exist_ok=True)
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=3) as starting:
        commands = {
            "processor": [str(BIN / "livability"), "serve"],
            "score": _function("weekly_score"),
            "archive": _function("weekly_archive"),
        }
        futures = {
            name: starting.submit(stack.enter_context, _server(cmd, env, logs / f"{name}.log"))
            for name, cmd in commands.items()
        }
        ports = {name: future.result() for name, future in futures.items()}
        url = {name: f"http://127.0.0.1:{port}/" for name, port in ports.items()}
        pubsub = PushingPublisher(url["processor"])
        pool = stack.enter_context(ThreadPoolExecutor(4, thread_name_prefix="fake-pubsub"))
        server = grpc.server(pool)
        server.add_generic_rpc_handlers((pubsub.handler(),))
        pubsub.host = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        server.start()
        try:
            yield LocalStack(home, url["processor"], url["score"], url["archive"], pubsub,
                             backend, sorted(logs.iterdir()))  # fmt: skip
        finally:
            server.stop(grace=None).wait()
            pubsub.stop()
