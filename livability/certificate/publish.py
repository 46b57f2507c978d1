"""Where certificates come from and go: the warehouse in, a bucket or a folder out.

`pages` is pure: the week's vectors, the homes' earlier vectors and their daily ranges in,
`{key: HTML bytes}` out (`<home>.html` per home and `index.html`). `week_pages` reads those
inputs from the warehouse (the vectors of the current model version, the 11 weeks before,
and `scoring.ranges`); `publish` writes them to `certificates/<week>/` in a bucket, and
`write_folder` into a local folder (`livability certificate --out`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from livability.certificate import content, render, rooms
from livability.ports import Bucket, Warehouse
from scoring.model import MODEL_VERSION
from scoring.ranges import daily_ranges

log = logging.getLogger(__name__)

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


def pages(
    week_start: date,
    vectors: Sequence[Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]] = (),
    ranges: Sequence[Mapping[str, Any]] = (),
    homes: Iterable[int] | None = None,
) -> Pages:
    """Every home's certificate and the portfolio page; `homes` limits the certificates
    (the portfolio always lists the whole week)."""
    wanted = None if homes is None else set(homes)
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
    if wanted is not None and (missing := wanted - {c.home_id for c in certs}):
        raise content.CertificateError(
            f"home: {sorted(missing)[0]} has no vector in the week of {week_start}"
        )
    files = {
        f"{c.home_id}.html": render.home_page(c).encode()
        for c in certs
        if wanted is None or c.home_id in wanted
    }
    before = week_start - timedelta(weeks=1)
    previous = {
        int(r["home_id"]): content.flags_of(r) for r in history if r["week_start"] == before
    }
    current = {int(v["home_id"]): content.flags_of(v) for v in vectors}
    files[INDEX] = render.index_page(certs, previous, current).encode()
    return Pages(week_start, files)


def _latest(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One row per (home, week): the latest computed (rows come ordered by computed_at)."""
    out: dict[tuple[int, date], Mapping[str, Any]] = {}
    for row in rows:
        out[(int(row["home_id"]), row["week_start"])] = row
    return [out[k] for k in sorted(out)]


def week_pages(
    warehouse: Warehouse,
    week_start: date,
    vectors: Sequence[Mapping[str, Any]] | None = None,
    homes: Iterable[int] | None = None,
) -> Pages:
    """The week's pages from the warehouse (`vectors`: the job's own, else the stored ones)."""
    params: dict[str, Any] = {"week": week_start, "model_version": MODEL_VERSION}
    if vectors is None:
        query = WEEK_SQL.format(dataset=warehouse.dataset)
        vectors = _latest(warehouse.query(query, params).to_pylist())
    first = week_start - timedelta(weeks=content.MAX_HISTORY_WEEKS - 1)
    history = _latest(
        warehouse.query(
            HISTORY_SQL.format(dataset=warehouse.dataset),
            {
                "first": first,
                "last": week_start - timedelta(weeks=1),
                "model_version": MODEL_VERSION,
            },
        ).to_pylist()
    )
    ranges = daily_ranges(warehouse, week_start).to_dicts() if vectors else []
    return pages(week_start, vectors, history, ranges, homes)


def publish(bucket: Bucket, result: Pages) -> list[str]:
    """Write the pages to `certificates/<week>/` in the bucket; their URIs, index last."""
    prefix = f"{PREFIX}/{result.week_start.isoformat()}"
    names = [*sorted(n for n in result.files if n != INDEX), INDEX]
    uris = [bucket.put(f"{prefix}/{name}", result.files[name], CONTENT_TYPE) for name in names]
    log.info(
        "certificates published",
        extra={
            "week_start": result.week_start.isoformat(),
            "homes": result.homes,
            "index": uris[-1],
        },
    )
    return uris


def write_folder(folder: Path, result: Pages) -> Path:
    """Write the pages into `folder/<week>/`; the index's path."""
    target = folder / result.week_start.isoformat()
    target.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(result.files.items()):
        (target / name).write_bytes(data)
    return target / INDEX
