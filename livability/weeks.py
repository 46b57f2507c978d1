"""The platform's week: seven days from a Monday, in the days of the contract's `day` column.

Scoring, the archive, the demo and the functions all count weeks with these helpers, so a
week is the same seven days everywhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

WEEK: Final = timedelta(days=7)


def monday(day: date) -> date:
    """The Monday of the week `day` falls in."""
    return day - timedelta(days=day.weekday())


def last_day(week: date) -> date:
    """The Sunday that ends the week starting `week`."""
    return week + WEEK - timedelta(days=1)


def last_complete_week(today: date) -> date:
    """Monday of the last Monday-Sunday week that ended before `today`."""
    return monday(today) - WEEK
