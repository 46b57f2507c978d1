"""Where certificates come from and go: the warehouse in, a bucket or a folder out.

`pages` is pure: the week's vectors, the homes' earlier vectors and their daily ranges in,
`{key: HTML bytes}` out (`<home>.html` per home and `index.html`). The inputs come from the
warehouse (the vectors of the current model version, the 11 weeks before, and
`scoring.ranges`): `publish_week` renders and writes them to `certificates/<week>/` in a
bucket a chunk of homes at a time (the weekly job, `livability score`, the demo);
`week_pages` renders them in memory and `write_folder` writes them into a local folder
(`livability certificate --out`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from livability.certificate import content, render, rooms
from livability.ports import Bucket, Warehouse
from scoring.model import MODEL_VERSION
from scoring.ranges import daily_ranges

log = logging.getLogger(__name__)

CHUNK_HOMES = 2_000  # homes rendered at once when publishing to a bucket

PREFIX = "certificates"
INDEX = "index.html"
CONTENT_TYPE = "text/html; charset=utf-8"

HISTORY_SQL = """
SELECT week_start, home_id, computed_at, score, grade, provisional, flags
FROM {dataset}.livability_scores_dedup
WHERE week_start BETWEEN @first AND @last AND model_version = @model_version
ORDER BY home_id, week_start, computed_at
"""
WEEK_SQL = """
SELECT * FROM {dataset}.livability_scores_dedup
WHERE week_start = @week AND model_version = @model_version
ORDER BY home_id, computed_at
"""


@dataclass(frozen=True)
class Pages:
    week_start: date
    files: Mapping[str, bytes]  # file name -> HTML; index.html and <home>.html

    @property
    def homes(self) -> int:
        return len(self.files) - 1


def certificates(
    week_start: date,
    vectors: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]] = (),
    ranges: Sequence[Mapping[str, Any]] = (),
) -> list[content.Certificate]:
    """The certificates of `vectors` (one week's), with their rooms and earlier weeks."""
    by_home: dict[int, list[Mapping[str, Any]]] = {}
    for row in ranges:
        by_home.setdefault(int(row["home_id"]), []).append(row)
    earlier: dict[int, list[Mapping[str, Any]]] = {}
    for row in history:
        if row["week_start"] < week_start:
            earlier.setdefault(int(row["home_id"]), []).append(row)
    certs = []
    for vector in vectors:
        if vector["week_start"] != week_start:
            raise content.CertificateError(
                f"week_start: {vector['week_start']!r} in the vectors of week {week_start}"
            )
        home = int(vector["home_id"])
        measured, outdoor = rooms.rooms_of(by_home.get(home, []))
        certs.append(content.certificate(vector, measured, outdoor, earlier.get(home, [])))
    return certs


def _previous_flags(
    history: Iterable[Mapping[str, Any]], week_start: date
) -> dict[int, tuple[str, ...]]:
    before = week_start - timedelta(weeks=1)
    return {int(r["home_id"]): content.flags_of(r) for r in history if r["week_start"] == before}


def _slim(cert: content.Certificate) -> content.Certificate:
    """What the portfolio page needs of a certificate: no rooms, the last two weeks."""
    return replace(cert, rooms=(), outdoor=(), history=cert.history[-2:], summary=None)


def pages(
    week_start: date,
    vectors: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]] = (),
    ranges: Sequence[Mapping[str, Any]] = (),
    homes: Iterable[int] | None = None,
    *,
    fleet: content.FleetState | None = None,
) -> Pages:
    """Every home's certificate and the portfolio page, in memory; `homes` limits the
    certificates (the portfolio always lists the whole week)."""
    wanted = None if homes is None else set(homes)
    certs = certificates(week_start, vectors, history, ranges)
    if wanted is not None and (missing := wanted - {c.home_id for c in certs}):
        raise content.CertificateError(
            f"home: {sorted(missing)[0]} has no vector in the week of {week_start}"
        )
    files = {
        f"{c.home_id}.html": render.home_page(c).encode()
        for c in certs
        if wanted is None or c.home_id in wanted
    }
    current = {int(v["home_id"]): content.flags_of(v) for v in vectors}
    previous = _previous_flags(history, week_start)
    files[INDEX] = render.index_page([_slim(c) for c in certs], previous, current, fleet).encode()
    return Pages(week_start, files)


def _frame(table: Any) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)  # a Table gives a DataFrame
    return frame


def _latest(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (home, week): the latest computed (rows come ordered by computed_at)."""
    return frame.unique(["home_id", "week_start"], keep="last", maintain_order=True).sort(
        "home_id", "week_start"
    )


def _inputs(
    warehouse: Warehouse,
    week_start: date,
    vectors: pl.DataFrame | None,
    ranges: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The week's vectors (the job's own, else the stored ones), the 11 weeks before and
    the daily ranges, each sorted by home."""
    dataset = warehouse.dataset
    if vectors is None:
        params: dict[str, Any] = {"week": week_start, "model_version": MODEL_VERSION}
        vectors = _latest(_frame(warehouse.query(WEEK_SQL.format(dataset=dataset), params)))
    first = week_start - timedelta(weeks=content.MAX_HISTORY_WEEKS - 1)
    span = {"first": first, "last": week_start - timedelta(weeks=1)}
    history = _latest(
        _frame(
            warehouse.query(
                HISTORY_SQL.format(dataset=dataset), {**span, "model_version": MODEL_VERSION}
            )
        )
    )
    if ranges is None:
        ranges = daily_ranges(warehouse, week_start) if vectors.height else pl.DataFrame()
    return vectors.sort("home_id"), history, ranges


def week_pages(warehouse: Warehouse, week_start: date, homes: Iterable[int] | None = None) -> Pages:
    """The week's pages in memory, from the stored vectors (`livability certificate`)."""
    vectors, history, ranges = _inputs(warehouse, week_start, None)
    return pages(week_start, vectors.to_dicts(), history.to_dicts(), ranges.to_dicts(), homes)


def publish_week(
    warehouse: Warehouse,
    bucket: Bucket,
    week_start: date,
    vectors: pl.DataFrame | None = None,
    *,
    fleet: content.FleetState | None = None,
    ranges: pl.DataFrame | None = None,
) -> str | None:
    """Render and write the week's pages to `certificates/<week>/` in the bucket, CHUNK_HOMES
    homes at a time (a week of any size in bounded memory), the portfolio last; its URI, or
    None for a week without vectors. `vectors`: the job's own, else the stored ones; `fleet`:
    the fleet check's state, shown on the portfolio page; `ranges`: the rooms' daily ranges
    from the job's own daily rows (`scoring.job.Published.ranges`), else read again from the
    raw readings (`scoring.ranges.daily_ranges`)."""
    vectors, history, ranges = _inputs(warehouse, week_start, vectors, ranges)
    if vectors.is_empty():
        return None
    prefix = f"{PREFIX}/{week_start.isoformat()}"
    slim: list[content.Certificate] = []
    current: dict[int, tuple[str, ...]] = {}
    for offset in range(0, vectors.height, CHUNK_HOMES):
        chunk = vectors.slice(offset, CHUNK_HOMES).to_dicts()
        low, high = chunk[0]["home_id"], chunk[-1]["home_id"]

        def within(frame: pl.DataFrame, low: int = low, high: int = high) -> list[Any]:
            return frame.filter(pl.col("home_id").is_between(low, high)).to_dicts()

        for cert in certificates(week_start, chunk, within(history), within(ranges)):
            page = render.home_page(cert).encode()
            bucket.put(f"{prefix}/{cert.home_id}.html", page, CONTENT_TYPE)
            slim.append(_slim(cert))
        current.update({int(v["home_id"]): content.flags_of(v) for v in chunk})
    previous = _previous_flags(history.to_dicts(), week_start)
    index = render.index_page(slim, previous, current, fleet).encode()
    uri = bucket.put(f"{prefix}/{INDEX}", index, CONTENT_TYPE)
    log.info(
        "certificates published",
        extra={"week_start": week_start.isoformat(), "homes": len(slim), "index": uri},
    )
    return uri


def write_folder(folder: Path, result: Pages) -> Path:
    """Write the pages into `folder/<week>/`; the index's path."""
    target = folder / result.week_start.isoformat()
    target.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(result.files.items()):
        (target / name).write_bytes(data)
    return target / INDEX
