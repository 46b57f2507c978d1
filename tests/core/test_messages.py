"""The publisher's message format without a transport: attributes, one-row bodies, arrays.

Runs `livability.messages` on real reading payloads; the Pub/Sub adapter sends these bodies
(tests/adapters/test_pubsub_publisher.py checks them on the wire).
"""

from __future__ import annotations

import json

import pytest

from livability import messages
from schemas import registry
from schemas.validation import RowError

SENSOR = registry()["sensor_thermo_beacon"]
READING = {
    "day": "2024-11-29",
    "timestamp": "2024-11-29T14:33:35.855Z",
    "data": {"mac": 123, "home_id": 7, "temperature": 22.938, "humidity": 43.312},
}
# READING normalised: compact, with the derived home_id, the absent battery and room (contract
# v4) and the row id.
READING_BODY = (
    b'{"day":"2024-11-29","timestamp":"2024-11-29T14:33:35.855000Z",'
    b'"data":{"mac":123,"home_id":7,"temperature":22.938,"humidity":43.312,"location":null},'
    b'"home_id":7,"battery":null,"room":null,"row_id":"8ed513ca7a33c25d826fc37c43c19ccb"}'
)
TOO_HOT = {**READING, "data": {**READING["data"], "temperature": 99.0}}


def reading(minute: int) -> dict[str, object]:
    return {**READING, "timestamp": f"2024-11-29T14:{minute:02d}:00Z"}


def test_a_one_row_body_and_its_attributes() -> None:
    assert messages.row_body(SENSOR, 0, READING) == READING_BODY
    assert messages.attributes(SENSOR) == {
        "table_id": "sensor_thermo_beacon",
        "schema_version": str(SENSOR.version),
    }


def test_rows_per_message_makes_arrays_of_the_same_rows() -> None:
    rows = [reading(m) for m in (1, 2, 3)]
    singles = messages.bodies(SENSOR, rows, 1)
    arrays = messages.bodies(SENSOR, rows, 2)
    assert singles == [messages.row_body(SENSOR, i, r) for i, r in enumerate(rows)]
    assert [json.loads(b) for b in arrays] == [
        [json.loads(singles[0]), json.loads(singles[1])],
        [json.loads(singles[2])],
    ]
    assert messages.bodies(SENSOR, [], 5) == []


def test_a_bad_row_makes_no_body_and_is_named_by_its_index() -> None:
    with pytest.raises(RowError, match=r"^sensor_thermo_beacon row 1: data\.temperature: 99"):
        messages.bodies(SENSOR, [READING, TOO_HOT], 2)
