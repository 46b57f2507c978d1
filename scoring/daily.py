"""The daily run of the rollup: which days it writes, for the scheduled function and the CLI.

`functions/daily_rollup.py` (Cloud Scheduler, daily 01:30 UTC) and `livability rollup` both
call `run`. By default, at `today` (UTC): write again the last `REWRITE_DAYS` closed days
(yesterday and the day before: a late row, e.g. from a gateway's outbox draining after an
outage, re-computes its day), and fill any closed day of the last `FILL_DAYS` that the
rollup lacks (a missed run, a failed one). Given a range, write exactly that range again.

Each day is written whole (`scoring.rollup.write_days`: DELETE of its hours, INSERT from its
readings), so a re-run gives the same rows and never duplicates one.

How late a row may be and still be counted by the daily runs alone: a row of day D is read
by the runs of D+1 and D+2, so one that lands before the run of D+2 (01:30 UTC, 25.5 h after
D closed) is in the rollup. A gateway's outbox keeps up to 500,000 readings
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

REWRITE_DAYS: Final = 2  # yesterday and the day before, written again every day
FILL_DAYS: Final = 9  # closed days checked for a missing rollup: the weekly job's window


@dataclass(frozen=True)
class DailyRun:
    """What one run wrote: the days written again and the missing days filled."""

    rewritten: list[date]
    filled: list[date]

    @property
    def days(self) -> list[date]:
        return sorted({*self.rewritten, *self.filled})

    def to_json(self) -> dict[str, list[str]]:
        return {
            "days": [d.isoformat() for d in self.days],
            "rewritten": [d.isoformat() for d in self.rewritten],
            "filled": [d.isoformat() for d in self.filled],
        }


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
        rollup.write_days(warehouse, days, today)
        return DailyRun(rewritten=days, filled=[])
    # The missing days first, before the two written anyway, so none is written twice.
    filled = rollup.fill(
        warehouse, today - timedelta(days=FILL_DAYS), today - timedelta(days=REWRITE_DAYS + 1),
        today,
    )  # fmt: skip
    rewritten = [today - timedelta(days=REWRITE_DAYS - i) for i in range(REWRITE_DAYS)]
    rollup.write_days(warehouse, rewritten, today)
    return DailyRun(rewritten=rewritten, filled=filled)
