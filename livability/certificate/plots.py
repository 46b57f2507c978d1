"""The geometry of a certificate's inline SVG charts: numbers only, the templates draw them.

Two charts: the daily temperature range of each room against the model's limits, with the
outdoor range behind them; and the score of the last weeks (the trend). Coordinates are
formatted to one decimal here, so the same certificate gives byte-identical SVG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from livability.certificate.content import COLOURS, MAX_HISTORY_WEEKS, Certificate, Week
from scoring import thresholds as th

# Colour-blind-safe palette (Okabe-Ito, then darker variants) for up to MAX_ROOMS rooms.
ROOM_COLOURS = (
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00",
    "#004c7a", "#8f3f00", "#006b4e", "#8a5171", "#2f7fa6", "#9c6b00",
)  # fmt: skip
LIMITS = (
    (th.COLD_LIMIT_C, "18 °C cold limit", "#0072b2"),
    (th.NIGHT_LIMIT_C, "26 °C bedroom night limit", "#d55e00"),
    (th.DAY_LIMIT_C, "32 °C day limit", "#b00020"),
)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Rect:
    x: str
    y: str
    width: str
    height: str
    fill: str
    title: str


@dataclass(frozen=True)
class Line:
    y: str
    label: str
    colour: str


@dataclass(frozen=True)
class Tick:
    position: str
    label: str


@dataclass(frozen=True)
class RangeChart:
    width: int
    height: int
    left: int
    right: str
    bottom: str
    bars: tuple[Rect, ...]
    limits: tuple[Line, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    legend: tuple[tuple[str, str], ...]  # (label, colour)
    description: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    bands: tuple[Rect, ...]
    points: str  # a polyline's points
    marks: tuple[Tick, ...]  # position "x,y", label the grade
    x_ticks: tuple[Tick, ...]
    description: str  # every scored week (the chart's title, read by screen readers)
    summary: str  # the first and last scored weeks, under the chart


def _f(value: float) -> str:
    return f"{value:.1f}"


def range_chart(cert: Certificate, width: int = 680, height: int = 180) -> RangeChart:
    """Each room's daily range of hourly means, and the outdoor range, against the limits."""
    left, right, top, bottom = 40, width - 8, 8, height - 22
    values = [v for room in cert.rooms for day in room.days if day for v in day]
    values += [v for day in cert.outdoor if day for v in day]
    low = 5.0 * math.floor(min([10.0, *values]) / 5.0)
    high = 5.0 * math.ceil(max([30.0, *values]) / 5.0)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    slot = (right - left) / 7
    bars: list[Rect] = []
    for d, day in enumerate(cert.outdoor):
        if day is not None:
            bars.append(
                _bar(
                    left + d * slot + slot * 0.05,
                    slot * 0.9,
                    (y(day[1]), y(day[0])),
                    "#d9d9d9",
                    f"{DAY_NAMES[d]} outdoor {day[0]:.1f}-{day[1]:.1f} °C",
                )
            )
    n = max(1, len(cert.rooms))
    width_each = slot * 0.7 / n
    for r, room in enumerate(cert.rooms):
        colour = ROOM_COLOURS[r % len(ROOM_COLOURS)]
        for d, day in enumerate(room.days):
            if day is None:
                continue
            x = left + d * slot + slot * 0.15 + r * width_each
            bars.append(
                _bar(
                    x,
                    max(width_each - 1.0, 1.0),
                    (y(day[1]), y(day[0])),
                    colour,
                    f"{DAY_NAMES[d]} {room.label} {day[0]:.1f}-{day[1]:.1f} °C",
                )
            )
    limits = tuple(Line(_f(y(t)), label, c) for t, label, c in LIMITS if low <= t <= high)
    y_ticks = tuple(Tick(_f(y(t)), f"{t:.0f}") for t in range(int(low), int(high) + 1, 5))
    x_ticks = tuple(
        Tick(
            _f(left + (d + 0.5) * slot),
            f"{DAY_NAMES[d]} {(cert.week_start + timedelta(days=d)).day}",
        )
        for d in range(7)
    )
    legend = (
        ("outdoor", "#d9d9d9"),
        *((room.label, ROOM_COLOURS[r % len(ROOM_COLOURS)]) for r, room in enumerate(cert.rooms)),
    )
    described = "; ".join(
        f"{room.label} {min(d[0] for d in room.days if d):.1f} to "
        f"{max(d[1] for d in room.days if d):.1f} °C"
        for room in cert.rooms
        if any(room.days)
    )
    return RangeChart(
        width,
        height,
        left,
        str(right),
        str(bottom),
        tuple(bars),
        limits,
        y_ticks,
        x_ticks,
        legend,
        f"Daily temperature range of each room over the week: {described or 'no readings'}.",
    )


def _bar(x: float, width: float, y_span: tuple[float, float], fill: str, title: str) -> Rect:
    y_top, y_bottom = y_span
    height = max(y_bottom - y_top, 1.5)  # a day of one value still shows
    return Rect(_f(x), _f(y_top), _f(width), _f(height), fill, title)


def trend_chart(cert: Certificate, width: int = 300, height: int = 90) -> TrendChart:
    """The score of each of the last 12 weeks on the bands' colours; gaps where not scored."""
    left, right, top, bottom = 4, width - 4, 4, height - 16
    first = cert.week_start - timedelta(weeks=MAX_HISTORY_WEEKS - 1)
    step = (right - left) / (MAX_HISTORY_WEEKS - 1)

    def y(score: float) -> float:
        return bottom - score / 100 * (bottom - top)

    bands = []
    upper = 100.0
    for band in cert.ladder:
        bands.append(
            Rect(
                _f(left),
                _f(y(upper)),
                _f(right - left),
                _f(y(band.low) - y(upper)),
                COLOURS[band.letter][0],
                f"band {band.letter}",
            )
        )
        upper = band.low
    points, marks = [], []
    for week in cert.history:
        if week.score is None:
            continue
        x = left + (week.week_start - first).days / 7 * step
        points.append(f"{_f(x)},{_f(y(week.score))}")
        marks.append(Tick(f"{_f(x)},{_f(y(week.score))}", week.grade or "-"))
    x_ticks = (Tick(_f(left), first.isoformat()), Tick(_f(right), cert.week_start.isoformat()))
    scored = [w for w in cert.history if w.score is not None]
    description = (
        f"Score of the last {len(scored)} scored weeks: "
        + ", ".join(
            f"{w.week_start.isoformat()} {w.score:.1f} ({w.grade or 'not graded'})" for w in scored
        )
        + "."
    )

    def said(w: Week) -> str:
        return f"{w.week_start.isoformat()} {w.score:.1f} ({w.grade or 'not graded'})"

    summary = (
        "No week scored."
        if not scored
        else f"{len(scored)} scored week(s): {said(scored[0])}"
        + (f" to {said(scored[-1])}." if len(scored) > 1 else ".")
    )
    return TrendChart(
        width, height, tuple(bands), " ".join(points), tuple(marks), x_ticks, description, summary
    )
