"""The baseline: an event handler written the way the reference PoC's processor is (seed.md).

A new warehouse client per call, every record printed, one insert per message, no
validation and no idempotency key (a random one, as the table needs a key). The sink is the
same DuckDB table as ours, so the difference is the code, not the storage. Served by
functions-framework like ours; never shipped.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from typing import Any

import duckdb
import functions_framework
from cloudevents.http.event import CloudEvent


@functions_framework.cloud_event
def reference_handler(cloud_event: CloudEvent) -> None:
    message = cloud_event.data["message"]
    rows: list[dict[str, Any]] = json.loads(base64.b64decode(message["data"]))
    table = message["attributes"]["table_id"]
    client = duckdb.connect(os.environ["BASELINE_DB"])  # a new client per call
    for row in rows:
        print(row)
    client.executemany(
        f"INSERT INTO sensor_data.{table} (day, timestamp, data, row_id) VALUES (?, ?, ?, ?)",
        [(r["day"], r["timestamp"].replace("Z", ""), r["data"], uuid.uuid4().hex) for r in rows],
    )
    client.close()
