"""The data plane's Pub/Sub messages as a publisher writes them: attributes and bodies.

The attributes say which table and schema version a message is for (`table_id`,
`schema_version`). A body is one row's compact JSON as `schemas.validation` normalises it
(with its `row_id` and derived columns, so the event processor and a BigQuery subscription
read the same columns), or, with more rows per message (ingest mode `function`), a JSON
array of such rows: the reference format the event processor reads.

This is the format, not the transport: the Pub/Sub adapter sends these messages, and
`livability finops` measures them without a client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import Table
from schemas.validation import RowError, to_json, validate_row

TABLE_ATTRIBUTE = "table_id"
VERSION_ATTRIBUTE = "schema_version"
# Pub/Sub's limit is 10 MB a message; 1,000 rows of our tables stay far below it.
MAX_ROWS_PER_MESSAGE = 1000


def attributes(spec: Table) -> dict[str, str]:
    """A message's attributes for rows of `spec`."""
    return {TABLE_ATTRIBUTE: spec.name, VERSION_ATTRIBUTE: str(spec.version)}


def normalised(spec: Table, index: int, row: Mapping[str, object]) -> dict[str, Any]:
    """The row as the contract normalises it, in its JSON form; errors name row `index`."""
    try:
        return to_json(validate_row(spec, row))
    except RowError as err:
        raise RowError(
            [f"{spec.name} row {index}: {problem}" for problem in err.problems]
        ) from None


def encode(body: object) -> bytes:
    """Compact UTF-8 JSON."""
    # Validated strings are valid Unicode and numbers finite, so this cannot fail.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def row_body(spec: Table, index: int, row: Mapping[str, object]) -> bytes:
    """The body of a one-row message."""
    return encode(normalised(spec, index, row))


def bodies(spec: Table, rows: Sequence[Mapping[str, object]], rows_per_message: int) -> list[bytes]:
    """The bodies carrying `rows`: every row validated first, so a bad one sends nothing."""
    rows_json = [normalised(spec, index, row) for index, row in enumerate(rows)]
    if rows_per_message == 1:
        return [encode(row) for row in rows_json]
    size = rows_per_message
    return [encode(rows_json[i : i + size]) for i in range(0, len(rows_json), size)]
