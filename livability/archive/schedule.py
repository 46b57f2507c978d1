"""Which weeks to archive, and the weekly job: the recent weeks, then the expiry gate.

The infra sets a 365-day partition expiry on the raw tables (RETENTION). The weekly job
(`functions/weekly_archive.py`) archives the last complete week and the one before it (rows
that arrived late); then every week whose partitions expire within EXPIRY_WARNING must have
a verified archive: one that has not is archived now, and if it still is not verified an
ERROR entry with `alert: true` is logged (a log-based alert) and the run reports it at risk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from livability import signals
from livability.archive import ArchiveError
from livability.archive.format import archived_tables, week_name
from livability.archive.verify import is_verified
from livability.archive.writer import WeekOutcome, archive_week
from livability.ports import BackendError, Bucket, Warehouse
from livability.weeks import WEEK, last_complete_week, last_day, monday

log = logging.getLogger(__name__)

RETENTION = timedelta(days=365)
EXPIRY_WARNING = timedelta(days=35)
LATE_WEEKS = 1  # complete weeks before the last one re-checked each run, for late rows


def weeks_with_rows(warehouse: Warehouse, until: date) -> list[date]:
    """Monday weeks ending on or before `until` that hold rows in any raw table.

    Reads only the partition column (the whole plausible range: a backfill command, not
    the scheduled job).
    """
    days: set[date] = set()
    for table in archived_tables():
        low, high = table.ranges.get(str(table.partition), (date(2000, 1, 1), until))
        sql = (
            f"SELECT DISTINCT {table.partition} AS d FROM {warehouse.dataset}.{table.name} "  # noqa: S608
            f"WHERE {table.partition} BETWEEN @low AND @high"
        )
        result = warehouse.query(sql, {"low": low, "high": min(high, until)})
        days.update(d for d in result.column(0).to_pylist() if d is not None)
    return sorted({monday(d) for d in days if last_day(monday(d)) <= until})


@dataclass
class RunReport:
    """What the scheduled job did: the weeks it archived and the weeks at risk."""

    outcomes: list[WeekOutcome] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)  # an unverified week near expiry

    @property
    def ok(self) -> bool:
        return not self.at_risk and all(o.verified or o.action == "empty" for o in self.outcomes)


def weeks_near_expiry(today: date) -> list[date]:
    """Monday weeks whose first day's partition expires within EXPIRY_WARNING."""
    first = monday(today - RETENTION)
    weeks = []
    week = first
    while week - today + RETENTION <= EXPIRY_WARNING:
        if week + RETENTION > today:
            weeks.append(week)
        week += WEEK
    return weeks


def scheduled_run(
    warehouse: Warehouse, bucket: Bucket, today: date, *, source: str = ""
) -> RunReport:
    """The weekly job: archive the recent weeks, then gate expiry (the module docstring)."""
    report = RunReport()
    latest = last_complete_week(today)
    weeks = [latest - WEEK * n for n in range(LATE_WEEKS, -1, -1)]
    for week in weeks:
        report.outcomes.append(archive_week(warehouse, bucket, week, source=source))
    for week in weeks_near_expiry(today):
        if week in weeks or is_verified(bucket, week):
            continue  # a damaged manifest is not verified: that week is archived again
        try:
            outcome = archive_week(warehouse, bucket, week, source=source)
        except (BackendError, ArchiveError) as err:
            # One failing week must not hide the others from the gate.
            outcome = WeekOutcome(week, "failed", problems=[str(err)])
        if outcome.action == "empty":
            continue  # nothing in the warehouse for that week: nothing to lose
        report.outcomes.append(outcome)
        if not outcome.verified:
            expires = week + RETENTION
            message = (
                f"week {week_name(week)}: its partitions expire from {expires.isoformat()} "
                f"and its archive is not verified: {'; '.join(outcome.problems) or 'unknown'}"
            )
            report.at_risk.append(message)
            log.error(
                "archive not verified before partition expiry",
                extra={
                    "week": week_name(week),
                    "expires": expires.isoformat(),
                    **signals.fields(signals.ARCHIVE_EXPIRY, alert=True),
                },
            )
    return report
