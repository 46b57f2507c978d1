"""The scenario: a value the model cannot use names the field, and intervals as written.

Runs `Scenario` and the interval parser on values written here, valid and invalid.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from livability import finops
from tests.finops.support import scenario


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"homes": 0}, "homes: 0 is not a positive integer"),
        ({"homes": -1}, "homes: -1 is not a positive integer"),
        ({"rows_per_message": True}, "rows_per_message: True is not a positive integer"),
        ({"reading_interval": timedelta(0)}, "reading_interval: .* is not a positive duration"),
        ({"weather_interval": timedelta(days=31)}, "weather_interval: 31 days.* longer than"),
        ({"ingest_mode": "dataflow"}, "ingest_mode: 'dataflow' is not one of function"),
    ],
)
def test_an_impossible_scenario_names_the_field_and_value(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(finops.ScenarioError, match=message):
        scenario(**changes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("3h", timedelta(hours=3)),
        ("45s", timedelta(seconds=45)),
        ("1d", timedelta(days=1)),
        (" 10m ", timedelta(minutes=10)),
    ],
)
def test_intervals(text: str, expected: timedelta) -> None:
    assert finops.parse_interval(text) == expected
    assert finops.parse_interval(finops.format_interval(expected)) == expected


@pytest.mark.parametrize("text", ["0m", "10", "m", "-5m", "1.5h", "10 min", "", "9999999d"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValueError, match="is not a positive duration like 10m, 3h or 1d"):
        finops.parse_interval(text)
