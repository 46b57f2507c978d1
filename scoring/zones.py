"""Local civil time for every home: an IANA time zone from its location, as data for the SQL.

A home's zone comes from its location (the earliest located reading of the week) through
`tzfpy`, an offline lookup (boundaries within about 110 m of the full-precision ones; 5 MB
with its data, no dependencies, where `timezonefinder` brings 110 MB with numpy). The UTC
offsets come from Python's `zoneinfo` (with the `tzdata` package where the system has no
zone database), so no warehouse needs time-zone support: DuckDB's would need the ICU
extension, which cannot be installed here.

Zones with the same offsets over the weeks scored are one **class** (London and Dublin are
one; so are the zones of a country). For each class the SQL receives, as a literal table:
the UTC instant of the local week's first midnight, the number of hours of the local week
(167 or 169 in a week with a clock change) and up to two clock changes, from which it
computes for every hour of the week its local day and hour (`local_minutes` below is the
same formula in Python). Homes are mapped to classes by cells of their longitude and
latitude: the coarsest of 1, 0.1, 0.01, 0.001 and 0.0001 degrees in which every home
location of the week has the same class, so the literal stays small at any number of homes
(one row per country-sized area, more only along the borders of time zones).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scoring import thresholds as th

DEFAULT_ZONE = "UTC"  # the zone's lookup found none, or the week has no located home
CELL_LEVELS = 5  # cells of 10^-level degrees, level 0..4
# Hours of the week before the scored one that the outdoor series needs (running means).
HOURS_BEFORE = 7 * 24
MAX_CLOCK_CHANGES = 2  # in the 15 days around a week; the tz database has never more
_STEP = timedelta(minutes=15)  # offsets change on quarter hours at most
MICROS = 1_000_000


@cache
def zone_at(lon: float, lat: float) -> str:
    """The IANA zone at a point; UTC when the lookup knows none that zoneinfo knows."""
    from tzfpy import get_tz

    name = get_tz(lon, lat)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return DEFAULT_ZONE
    return str(name)


@dataclass(frozen=True)
class ZoneClass:
    """Zones with the same offsets around one week, as the SQL sees them."""

    cls: int
    name: str  # one zone of the class (the first by name)
    start_us: int  # local week start (midnight) in UTC microseconds
    end_us: int
    changes: tuple[tuple[int, int], ...]  # (first hour index after the change, minutes)

    @property
    def hours(self) -> int:
        return -(-(self.end_us - self.start_us) // (3600 * MICROS))

    def local_minutes(self, k: int) -> int:
        """Local minutes since the week's first local midnight, at the start of hour k (a
        change before the week, first <= 0, is already in the midnight)."""
        return 60 * k + sum(shift * ((k >= first) - (first <= 0)) for first, shift in self.changes)

    def days(self) -> list[dict[str, float]]:
        """Per local day 0..6: its hours, night hours and hours of each part of the day."""
        out = [
            {"day_hours": 0.0, "night_hours": 0.0, **{f"part{p}": 0.0 for p in range(4)}}
            for _ in range(th.DAYS_PER_WEEK)
        ]
        for k in range(self.hours):
            minutes = self.local_minutes(k)
            day, hour = minutes // 1440, (minutes % 1440) // 60
            if 0 <= day < th.DAYS_PER_WEEK:
                row = out[day]
                row["day_hours"] += 1
                row["night_hours"] += hour >= th.NIGHT_START_HOUR or hour < th.NIGHT_END_HOUR
                row[f"part{hour // (24 // th.PARTS_OF_DAY)}"] += 1
        return out


@cache  # once per zone and week, not per location: a week has many homes, few zones
def _schedule(name: str, week_start: date) -> tuple[int, tuple[tuple[int, int], ...]]:
    """Offset (minutes) 8 days before the week, and every change up to a day after it."""
    zone = ZoneInfo(name)
    first = datetime.combine(week_start - timedelta(days=8), datetime.min.time(), UTC)
    steps = (16 * 24 * 4) + 1

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return 0 if delta is None else int(delta.total_seconds() // 60)

    before = offset(first)
    changes, current = [], before
    for step in range(1, steps):
        at = first + step * _STEP
        now = offset(at)
        if now != current:
            changes.append((int(at.timestamp()) * MICROS, now - current))
            current = now
    return before, tuple(changes)


def _local_midnight_us(name: str, day: date) -> int:
    at = datetime.combine(day, datetime.min.time(), ZoneInfo(name))
    return int(at.astimezone(UTC).timestamp()) * MICROS


@dataclass(frozen=True)
class ZonePlan:
    """The classes of a week, the cells that map locations to them, and the read window."""

    week_start: date
    classes: tuple[ZoneClass, ...]
    cells: tuple[tuple[int, int, int], ...]  # (level, cell, class)
    zones: dict[str, str]  # location WKT (as the warehouse writes it) -> IANA zone

    @property
    def whole_hours(self) -> bool:
        """Every class's local week starts and ends on a whole UTC hour: its local hours are
        UTC hours, which the daily rollup holds (scoring/selects.py)."""
        hour = 3600 * MICROS
        return all(c.start_us % hour == 0 and c.end_us % hour == 0 for c in self.classes)

    @property
    def read_start_us(self) -> int:
        return min(c.start_us for c in self.classes)

    @property
    def read_end_us(self) -> int:
        return max(c.end_us for c in self.classes)


def _make_class(cls: int, names: Sequence[str], week_start: date) -> ZoneClass:
    name = sorted(names)[0]
    start = _local_midnight_us(name, week_start)
    end = _local_midnight_us(name, week_start + timedelta(days=th.DAYS_PER_WEEK))
    _, changes = _schedule(name, week_start)
    hour = 3600 * MICROS
    relative = tuple((-(-(at - start) // hour), shift) for at, shift in changes)
    if len(relative) > MAX_CLOCK_CHANGES:
        raise ValueError(
            f"time zone {name!r} changes its clock {len(relative)} times around the week of "
            f"{week_start}; the model handles at most {MAX_CLOCK_CHANGES}"
        )
    return ZoneClass(cls, name, start, end, relative)


def _cells(
    locations: Sequence[tuple[str, Sequence[int]]], class_of: dict[str, int]
) -> list[tuple[int, int, int]]:
    """The coarsest cells in which every location has one class (quadtree by tens)."""
    out: list[tuple[int, int, int]] = []
    pending = list(locations)
    for level in range(CELL_LEVELS):
        groups: dict[int, list[tuple[str, Sequence[int]]]] = defaultdict(list)
        for location in pending:
            groups[location[1][level]].append(location)
        pending = []
        for cell, members in sorted(groups.items()):
            classes = {class_of[wkt] for wkt, _ in members}
            if len(classes) == 1 or level == CELL_LEVELS - 1:
                # At 0.0001 degrees (about 11 m) two zones cannot both hold a home; if they
                # do, the smaller class number wins (documented in docs/scoring.md).
                out.append((level, cell, min(classes)))
            else:
                pending += members
    return out


def plan(
    week_start: date, locations: Iterable[tuple[str, float, float, Sequence[int]]]
) -> ZonePlan:
    """Classes and cells for the week's home locations: (wkt, lon, lat, cell keys by level)."""
    rows = list(locations)
    zones = {wkt: zone_at(lon, lat) for wkt, lon, lat, _ in rows}
    by_schedule: dict[tuple[int, tuple[tuple[int, int], ...]], list[str]] = defaultdict(list)
    for name in sorted(set(zones.values()) or {DEFAULT_ZONE}):
        by_schedule[_schedule(name, week_start)].append(name)
    # Class 0, which homes without a location take too, is the class of most of the week's
    # locations (UTC when there is none): one class, and the SQL's cheaper form, for a
    # deployment in one time zone.
    located: dict[tuple[int, tuple[tuple[int, int], ...]], int] = defaultdict(int)
    for zone in zones.values():
        located[_schedule(zone, week_start)] += 1
    keys = sorted(by_schedule, key=lambda k: (-located[k], k))
    classes = tuple(_make_class(i, by_schedule[k], week_start) for i, k in enumerate(keys))
    class_of_zone = {name: i for i, k in enumerate(keys) for name in by_schedule[k]}
    class_of = {wkt: class_of_zone[zone] for wkt, zone in zones.items()}
    cells = _cells([(wkt, cells) for wkt, _, _, cells in rows], class_of)
    return ZonePlan(week_start, classes, tuple(cells), zones)


def _union(columns: Sequence[str], rows: Sequence[Sequence[int]]) -> str:
    """A literal table as SELECT ... UNION ALL: the same text in GoogleSQL and DuckDB."""
    selects = [
        "SELECT " + ", ".join(f"{int(v)} AS {c}" for c, v in zip(columns, row, strict=True))
        for row in rows
    ]
    return "(" + " UNION ALL ".join(selects) + ")"


CLASS_COLUMNS = ("cls", "start_us", "end_us", "hours", "t1", "s1", "t2", "s2")
CELL_COLUMNS = ("level", "cell", "cls")
_NEVER = 1_000_000  # an hour index no week reaches: "no clock change"


def class_rows(plan: ZonePlan) -> str:
    rows = []
    for c in plan.classes:
        changes = [*c.changes, *[(_NEVER, 0)] * (MAX_CLOCK_CHANGES - len(c.changes))]
        rows.append(
            (c.cls, c.start_us, c.end_us, c.hours, *(v for change in changes for v in change))
        )
    return _union(CLASS_COLUMNS, rows)


def cell_rows(plan: ZonePlan) -> str:
    return _union(CELL_COLUMNS, [(-1, -1, 0), *plan.cells])  # never empty
