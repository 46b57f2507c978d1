"""The daily run of the rollup: which days it writes, for the scheduled function and the CLI.

`functions/daily_rollup.py` (Cloud Scheduler, daily 02:30 UTC) and `livability rollup` both
call `run`. By default, at `today` (UTC): write the last `REWRITE_DAYS` closed days
(yesterday, again if a run already wrote it). Given a range, write exactly that range again.
Each day's readings are read once: the budget (rollup and scoring within 1.05x the needed
columns read once, docs/scoring.md) leaves no room for a second daily read of every day, nor
for a daily look for missing days (the rollup's `hour` over 8 days: 11 % of the day's read).
A day a failed run left out (after Scheduler's retries and the job-failure alert) is written
by the weekly job before it scores (`scoring/job.py` `roll_up` fills its week's missing days)
or by a range.

Each day is written whole (`scoring.rollup.write_days`: DELETE of its hours, INSERT from its
readings), so a re-run gives the same rows and never duplicates one.

How late a row may be and still be counted by the daily run alone: a row of day D is read
by the run of D+1, so one that lands before it (02:30 UTC, 2.5 h after D closed: a gateway
back online within that grace) is in the rollup. A gateway's outbox keeps up to 500,000 readings
while the sink is away (`edge/config.py` `outbox_limit`, oldest evicted: years of one home's
readings) and the sensors' own memory (about 10 days, edge/README.md) is backfilled over GATT,
so rows may arrive weeks late. Those need a range: `livability rollup --from D --to D`, or the
function with `{"from": ..., "to": ...}` (docs/operations.md, "Daily rollup and late data").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from livability.ports import Warehouse
from schemas import registry
from scoring import rollup

REWRITE_DAYS: Final = 1  # yesterday: each day's readings read once, after a 2.5 h grace


@dataclass(frozen=True)
class DailyRun:
    """What one run wrote: the days, each whole."""

    days: list[date]

    def to_json(self) -> dict[str, list[str]]:
        return {"days": [d.isoformat() for d in self.days]}


def requested_days(first: date, last: date, today: date) -> list[date]:
    """The days `first..last`, if every one has closed (before `today`, UTC), lies in the
    contract's plausible range (schemas/tables.toml) and there are at most
    `rollup.MAX_DAYS`; else `ValueError` naming the field (`from`, `to`) and the value."""
    low, high = registry()["sensor_thermo_beacon"].ranges["day"]
    for name, day in (("from", first), ("to", last)):
        if not low <= day <= high:
            raise ValueError(
                f"{name}: {day.isoformat()!r} is outside {low}..{high} (schemas/tables.toml)"
            )
    if first > last:
        raise ValueError(f"from: {first.isoformat()!r} is after to {last.isoformat()!r}")
    if last >= today:
        raise ValueError(
            f"to: {last.isoformat()!r} has not closed yet (today is {today.isoformat()}, UTC)"
        )
    count = (last - first).days + 1
    if count > rollup.MAX_DAYS:
        raise ValueError(
            f"to: {last.isoformat()!r} is {count} days from {first.isoformat()!r}; "
            f"at most {rollup.MAX_DAYS} in one run"
        )
    return [first + timedelta(days=i) for i in range(count)]


def run(warehouse: Warehouse, today: date, span: tuple[date, date] | None = None) -> DailyRun:
    """Write the rollup's days due at `today` (UTC), or those of `span` (first, last); see
    the module docstring. `ValueError` for a span `requested_days` refuses."""
    if span is not None:
        days = requested_days(*span, today)
    else:
        days = [today - timedelta(days=REWRITE_DAYS - i) for i in range(REWRITE_DAYS)]
    rollup.write_days(warehouse, days, today)
    return DailyRun(days)
