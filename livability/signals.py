"""The log-field contract: the structured-log fields the stack's log-based metrics filter on.

A log-based metric on a field nobody writes is an alert that never fires. So the names live
here, once: the code emits them through `fields()` (which refuses a field its signal does
not declare), infra's metrics (`infra/constructs/monitoring_rules.py`) filter on
`jsonPayload.signal = "<signal>"` and extract the declared fields, and
`tests/core/test_signals.py` runs the code paths and proves every field a metric of the
synthesized stack uses appears in the JSON logs they write.

Each signal line carries `signal` (which fact it is) beside its message; the message stays
free to change wording.
"""

from __future__ import annotations

import re
from typing import Final

SIGNAL: Final = "signal"  # the field naming the signal of a log line

# Signals, and the fields each carries besides `signal` (names as they appear in jsonPayload).
DEAD_LETTER: Final = "dead_letter"  # a row or message stored in dead_letter (ingest)
JOB_FAILED: Final = "job_failed"  # a scheduled job ended without doing its work
WEATHER_TICK: Final = "weather_tick"  # one run of the weather poller
FLEET_CHECK: Final = "fleet_check"  # one run of the hourly fleet check
ARCHIVE_EXPIRY: Final = "archive_expiry"  # a week nears partition expiry unarchived

REASON_CLASS: Final = "reason_class"
TARGET_TABLE: Final = "target_table"
JOB: Final = "job"
FAILED: Final = "failed"  # weather tick: locations that failed in the tick
KEY_REJECTED: Final = "key_rejected"  # weather tick: OpenWeatherMap refused the key (401)
SILENT_HOMES: Final = "silent_homes"
LOW_BATTERY_SENSORS: Final = "low_battery_sensors"
HOMES: Final = "homes"
ALERT: Final = "alert"  # the archive's expiry line (`"alert": true`, severity ERROR)

SIGNALS: Final[dict[str, tuple[str, ...]]] = {
    DEAD_LETTER: (REASON_CLASS, TARGET_TABLE),
    JOB_FAILED: (JOB,),
    WEATHER_TICK: (FAILED, KEY_REJECTED),
    FLEET_CHECK: (HOMES, SILENT_HOMES, LOW_BATTERY_SENSORS),
    ARCHIVE_EXPIRY: (ALERT,),
}
# The jobs a JOB_FAILED line names (the scheduled functions' keys).
JOBS: Final = ("weekly_score", "weekly_archive", "fleet_health", "weather", "daily_rollup")

# A dead letter's reason class: the field or cause its reason names before the first colon,
# after a `row N: ` prefix (`data.temperature`, `message.data`, `table_id`); else 'other'.
# The fleet query groups by the same pattern (RE2 and Python read it alike).
REASON_PATTERN: Final = r"^(?:row [0-9]+: )?([A-Za-z_][A-Za-z0-9_.]{0,59}):"
OTHER_REASON: Final = "other"
_REASON = re.compile(REASON_PATTERN)


def reason_class(reason: str) -> str:
    """The class of a dead letter's reason, as the metric's label and the fleet query see it."""
    found = _REASON.match(reason)
    return found.group(1) if found else OTHER_REASON


def fields(signal: str, **values: object) -> dict[str, object]:
    """The `extra=` of a signal's log line: `signal` and exactly the fields it declares."""
    declared = SIGNALS.get(signal)
    if declared is None:
        raise ValueError(f"signal: {signal!r} is not one of {sorted(SIGNALS)}")
    if set(values) != set(declared):
        raise ValueError(
            f"signal {signal!r}: fields {sorted(values)} differ from the declared {list(declared)}"
        )
    if signal == JOB_FAILED and values[JOB] not in JOBS:
        raise ValueError(f"job: {values[JOB]!r} is not one of {JOBS}")
    return {SIGNAL: signal, **values}
