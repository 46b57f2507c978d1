"""Certificates: render time per 1,000 homes, against writing the same vectors as CSV.

SUITE: certificates

What the weekly job adds per week: `livability.certificate.publish.pages` for N homes (each
with 2 rooms' daily ranges and 11 earlier weeks: the trend and the 12-week grade), i.e. the
content, the SVG geometry and the Jinja2 rendering of every home's page and the portfolio
page, in memory. The named baseline, in the same run on the same vectors: the stdlib `csv`
writer writing them as one CSV (what a data export of the week costs). Fastest of 3 runs
each; the ratio, no assertion on time. Sizes of the pages are printed too.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from rich.console import Console
from rich.table import Table

from livability.certificate import publish

WEEK = date(2026, 11, 23)
HOMES = (1_000, 5_000)
FLAGS = (None, "hot_nights", "mould_criterion,several_sensors", "low_coverage")


def vector(home: int, week: date, shift: float) -> dict[str, Any]:
    score = 20.0 + (home * 37 % 80) + shift
    return {
        "week_start": week, "home_id": home, "model_version": "3.0.0",
        "computed_at": datetime(2026, 12, 1, 3, tzinfo=UTC), "score": score,
        "grade": None if home % 11 == 0 else "ABCDEFG"[min(6, int((100 - score) / 13))],
        "score_low": max(0.0, score - 6), "score_high": min(100.0, score + 6),
        "coverage": 0.6 if home % 11 == 0 else 1.0, "readings": 2016, "sensors": 2,
        "provisional": home % 11 == 0, "flags": FLAGS[home % len(FLAGS)],
        "cold_hazard": min(100.0, score + 10), "heat_hazard": 100.0 - home % 30,
        "damp_hazard": min(100.0, score + 20), "comfort": score / 2,
        "hours_below_18c": float(home % 168), "cold_degree_hours": float(home % 300),
        "night_hours_above_26c": float(home % 7), "hours_above_32c": 0.0,
        "mould_hours": float(home % 50), "surface_rh_mean": 70.0 + home % 15,
        "time_zone": "Europe/London", "week_hours": 168.0, "reading_interval_s": 600.0,
    }  # fmt: skip


def inputs(homes: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    vectors = [vector(h, WEEK, 0.0) for h in range(1, homes + 1)]
    history = [
        vector(h, WEEK - timedelta(weeks=w), (w % 3) - 1.0)
        for h in range(1, homes + 1)
        for w in range(1, 12)
    ]
    ranges = [
        {"home_id": h, "mac": h * 10 + r, "d": d, "room": ("bedroom", "bathroom")[r],
         "t_min": 14.0 + d / 3, "t_max": 21.0 + r, "t_out_min": 3.0, "t_out_max": 9.0 + d,
         "cold_hours": 3, "heat_hours": 0, "damp_hours": r * 2}
        for h in range(1, homes + 1)
        for r in range(2)
        for d in range(7)
    ]  # fmt: skip
    return vectors, history, ranges


def as_csv(vectors: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(vectors[0]))
    writer.writeheader()
    writer.writerows(vectors)
    return out.getvalue()


def fastest(run: Callable[[], object], times: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(times):
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
    return best, result


def main() -> None:
    console = Console(width=140)
    table = Table(title="Certificates: pages of a week vs the same vectors as CSV (fastest of 3)")
    for column in ("homes", "pages (s)", "per 1,000 homes (s)", "CSV (s)", "pages / CSV",
                   "home page bytes (mean, max)", "index bytes"):  # fmt: skip
        table.add_column(column, justify="right")
    for homes in HOMES:
        vectors, history, ranges = inputs(homes)
        rendered, pages = fastest(partial(publish.pages, WEEK, vectors, history, ranges))
        baseline, _ = fastest(partial(as_csv, vectors))
        assert isinstance(pages, publish.Pages)
        sizes = [len(b) for name, b in pages.files.items() if name != publish.INDEX]
        table.add_row(
            f"{homes:,}", f"{rendered:.2f}", f"{rendered / homes * 1000:.2f}",
            f"{baseline:.4f}", f"{rendered / baseline:.0f}x",
            f"{sum(sizes) / len(sizes):,.0f}, {max(sizes):,}",
            f"{len(pages.files[publish.INDEX]):,}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
