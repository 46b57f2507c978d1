"""HTML from certificate content, through Jinja2 templates with autoescape on.

The templates (`templates/`, shipped as package data) hold every tag; this module gives them
typed content and chart geometry, never a string of markup. A page is one self-contained
file: inline CSS and SVG, no script, no request to any other host, one A4 page in print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import jinja2

from livability.certificate import plots
from livability.certificate.content import (
    COLOURS,
    FINDING_BELOW,
    FLAG_HAZARD,
    GRADES,
    HAZARDS,
    Certificate,
    FleetState,
    flag_words,
)

# A page's certificate links to the model's documentation by this path (docs/scoring.md).
DOCS_LINK = "docs/scoring.md"
# A change of score of at least this many points gets an arrow on the portfolio page.
TREND_POINTS = 2.0
MAX_INDEX_HOMES = 20_000  # homes listed on one portfolio page, the riskiest (about 8 MB)


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("livability.certificate", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def home_page(cert: Certificate, docs_link: str = DOCS_LINK) -> str:
    """The home's certificate as one HTML page."""
    return (
        environment()
        .get_template("home.html.j2")
        .render(
            c=cert,
            colours=COLOURS,
            ranges=plots.range_chart(cert),
            trend=plots.trend_chart(cert),
            docs_link=docs_link,
        )
    )


@dataclass(frozen=True)
class Row:
    cert: Certificate
    href: str
    risk: float  # the lowest hazard; lower is riskier
    at_risk: tuple[str, ...]  # hazards below band B
    arrow: str  # ▲ better, ▼ worse, ▬ steady, "" without last week
    arrow_words: str
    flags: tuple[str, ...]


def _row(cert: Certificate) -> Row:
    scores = {h.key: h.score for h in cert.hazards}
    at_risk = tuple(
        k for k in HAZARDS if (score := scores.get(k)) is not None and score < FINDING_BELOW
    )
    known = [s for k, s in scores.items() if k in HAZARDS and s is not None]
    before = [w for w in cert.history if w.week_start < cert.week_start]
    arrow, words = "", "no earlier week"
    if before and before[-1].score is not None and cert.score is not None:
        change = cert.score - before[-1].score
        arrow, words = (
            ("▲", f"up {change:.1f}")
            if change >= TREND_POINTS
            else ("▼", f"down {-change:.1f}")
            if change <= -TREND_POINTS
            else ("▬", f"steady ({change:+.1f})")
        )
    return Row(
        cert,
        f"{cert.home_id}.html",
        min(known, default=101.0),
        at_risk,
        arrow,
        words,
        cert.findings,
    )


def index_page(
    certs: Sequence[Certificate],
    previous_flags: dict[int, tuple[str, ...]],
    current_flags: dict[int, tuple[str, ...]],
    fleet: FleetState | None = None,
) -> str:
    """The operator's portfolio page of one week: the homes sorted by risk (the riskiest
    MAX_INDEX_HOMES listed; the counts are of every home), band counts, rising flags, a
    filter by hazard (CSS :target, no script), and the fleet's state where it was checked."""
    weeks = {c.week_start for c in certs}
    if len(weeks) > 1:
        raise ValueError(f"week_start: the homes are of {len(weeks)} weeks, not one")
    rows = sorted(
        (_row(c) for c in certs),
        key=lambda r: (r.risk, r.cert.score if r.cert.score is not None else 101.0, r.cert.home_id),
    )
    counts = {g: sum(1 for c in certs if c.grade == g) for g in GRADES}
    ungraded = sum(1 for c in certs if c.grade is None)
    rising = _rising(previous_flags, current_flags)
    return (
        environment()
        .get_template("index.html.j2")
        .render(
            week=min(weeks).isoformat() if weeks else "",
            rows=rows[:MAX_INDEX_HOMES],
            unlisted=max(0, len(rows) - MAX_INDEX_HOMES),
            counts=counts,
            ungraded=ungraded,
            colours=COLOURS,
            rising=rising,
            hazards=HAZARDS,
            finding_below=FINDING_BELOW,
            docs_link=DOCS_LINK,
            fleet=fleet,
        )
    )


def _rising(
    previous: dict[int, tuple[str, ...]], current: dict[int, tuple[str, ...]]
) -> tuple[tuple[str, str, str, int, int], ...]:
    """(flag, its words, hazard, homes last week, homes this week) for each flag on more
    homes than the week before."""

    def count(flags: dict[int, tuple[str, ...]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for home_flags in flags.values():
            for flag in home_flags:
                out[flag] = out.get(flag, 0) + 1
        return out

    before, now = count(previous), count(current)
    return tuple(
        (flag, flag_words(flag), FLAG_HAZARD.get(flag, "-"), before.get(flag, 0), n)
        for flag, n in sorted(now.items())
        if n > before.get(flag, 0)
    )
