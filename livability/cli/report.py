"""`livability report --home ID --week D [--out FILE]`: one home's week as a table and a PNG.

The table (printed) says where and how the week was read (the home's time zone, its local
week's hours, the inferred reading interval, the coverage), the score with its interval, each
hazard with the figures behind it (hours below 18 C; bedroom nights above 26 C, hours above
32 C and TM52's criteria; the surface RH, dry rooms' mould hours and wet rooms' damp hours)
and the flags. The PNG draws indoor temperature and humidity over the local week against the
comfort band and the hazard limits they were judged by, the outdoor temperature, the surface
RH at a thermal bridge, the sub-scores, and the grade with its interval. The hourly series
come from the same warehouse SQL as the score (`scoring.model.hourly_series`); the vector
from `score_week` for that home alone. Both read that home's rows of the daily rollup (the
raw readings with `--raw`, or when the rollup has none of the home's week, e.g. before the
weekly job wrote its days): a query filtered on the home, which BigQuery prunes to its
clustered blocks.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from livability.cli.common import safe
from livability.settings import Settings


def register(commands: Any) -> None:
    from livability.cli.common import parse_date, positive_int

    parser = commands.add_parser("report", help="render one home's week as a PNG chart")
    parser.add_argument("--home", type=positive_int, required=True, help="home id")
    parser.add_argument(
        "--week", type=parse_date, required=True, help="first day of the week, YYYY-MM-DD"
    )
    parser.add_argument(
        "--out",
        default="",
        help="PNG file, a folder for report-<home>-<week>.png in it, or - for stdout "
        "(default: report-<home>-<week>.png here)",
    )
    parser.add_argument(
        "--raw", action="store_true", help="read the raw readings, not the daily rollup"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    from livability.cli import outfile
    from livability.cli.common import CliError, week_in_contract
    from scoring.model import hourly_series, score_week
    from scoring.selects import Source

    week = week_in_contract(args.week)
    default = f"report-{args.home}-{week.isoformat()}.png"
    target = outfile.resolve(args.out or default, default, suffixes=(".png",), binary=True)
    warehouse = settings.open_warehouse()
    source: Source = "raw" if args.raw else "rollup"
    try:
        hours = hourly_series(warehouse, week, args.home, source)
        if not hours.height and source == "rollup":  # the week's days not rolled up yet
            source, hours = "raw", hourly_series(warehouse, week, args.home)
        vectors = score_week(warehouse, week, source, home_id=args.home) if hours.height else None
    finally:
        warehouse.close()
    if vectors is None:
        raise CliError(f"home {args.home} has no readings in the 7 days from {week}")
    [vector] = vectors.filter(vectors["home_id"] == args.home).to_dicts()
    try:
        with outfile.writing(target) as sink:
            render(hours.to_dicts(), vector, sink)
    except OSError as error:
        raise CliError(f"cannot write {target.shown}: {error}") from None
    if target.path is None:
        out = err  # stdout holds the PNG
    out.print(summary_table(vector))
    out.print(safe(f"Wrote {target.shown}"))
    return 0


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} h"


def summary(vector: dict[str, Any]) -> list[tuple[str, str]]:
    """The week in words: (what, value) rows."""
    zone = vector["time_zone"] or "not located: the zone of most homes assumed"
    interval = vector["reading_interval_s"]
    grade = vector["grade"] or "not graded"
    mark = ", provisional" if vector["provisional"] else ""
    return [
        ("home", str(vector["home_id"])),
        ("local week", f"{vector['week_start']} 00:00, {vector['week_hours']:.0f} h"),
        ("time zone", zone),
        ("reading interval", "-" if interval is None else f"{interval:.0f} s (inferred)"),
        ("coverage", f"{vector['coverage']:.0%}"),
        (
            "score",
            f"{vector['score']:.1f} {grade}{mark} "
            f"(interval {vector['score_low']:.1f}-{vector['score_high']:.1f})",
        ),
        (
            "cold hazard",
            f"{vector['cold_hazard']:.1f}: below 18 °C {_hours(vector['hours_below_18c'])}",
        ),
        (
            "heat hazard",
            f"{vector['heat_hazard']:.1f}: bedroom nights above 26 °C "
            f"{_hours(vector['night_hours_above_26c'])}, above 32 °C "
            f"{_hours(vector['hours_above_32c'])}, TM52 ΔT ≥ 1 K "
            f"{_hours(vector['heat_exceedance_hours'])}, daily "
            f"{vector['tm52_daily_weighted'] or 0.0:.0f} K·h, ΔT > 4 K "
            f"{_hours(vector['tm52_upper_limit_hours'])}",
        ),
        (
            "damp hazard",
            f"{vector['damp_hazard']:.1f}: surface mean "
            + ("-" if vector["surface_rh_mean"] is None else f"{vector['surface_rh_mean']:.1f}")
            + f" %RH, dry rooms at 80 % {_hours(vector['mould_hours'])}, wet rooms at 80 % "
            f"{_hours(vector['wet_damp_hours'])}",
        ),
        ("comfort", f"{vector['comfort']:.1f}"),
        ("flags", (vector["flags"] or "none").replace(",", ", ")),
    ]


def summary_table(vector: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"Model {vector['model_version']}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for what, value in summary(vector):
        table.add_row(safe(what), safe(value))
    return table


def _series(
    rows: list[dict[str, Any]], mac: int, key: str, start: float
) -> tuple[list[float], list[Any]]:
    """(x in matplotlib's days from `start`, values) of one sensor."""
    chosen = [r for r in rows if r["mac"] == mac]
    return [start + r["hour"] / 24 for r in chosen], [r[key] for r in chosen]


def render(rows: list[dict[str, Any]], vector: dict[str, Any], target: Path | IO[bytes]) -> None:
    """Draw the chart (`figure`) into `target` as a PNG."""
    import matplotlib.pyplot as plt

    drawn = figure(rows, vector)
    drawn.savefig(target, dpi=110, format="png")
    plt.close(drawn)


def figure(rows: list[dict[str, Any]], vector: dict[str, Any]) -> Any:
    """The chart: temperatures, humidities, surface RH over the local week's dates, then the
    scores. One legend below the panels, so no legend hides a curve (issue 16)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    macs = sorted({r["mac"] for r in rows})
    drawn = plt.figure(figsize=(12, 10), layout="constrained")
    grid = drawn.add_gridspec(3, 2, width_ratios=(3, 1), height_ratios=(1.2, 1, 1))
    temp = drawn.add_subplot(grid[0, 0])
    humid = drawn.add_subplot(grid[1, 0], sharex=temp)
    surface = drawn.add_subplot(grid[2, 0], sharex=temp)
    # The local week's first midnight as matplotlib's date number: x in days from it.
    start = float(mdates.date2num(date.fromisoformat(str(vector["week_start"]))))  # type: ignore[no-untyped-call]
    first = [r for r in rows if r["mac"] == macs[0]]
    days = [start + r["hour"] / 24 for r in first]
    temp.fill_between(
        days,
        [r["comfort_low"] for r in first],
        [r["comfort_high"] for r in first],
        color="tab:green",
        alpha=0.15,
        label="comfort, EN 16798-1 cat. II",
    )
    temp.plot(days, [r["theta_max"] for r in first], color="tab:red", lw=1, ls="--",
              label="θmax (TM52, free-running days)")  # fmt: skip
    temp.axhline(18, color="tab:blue", lw=1, ls="--", label="18 °C (WHO)")
    temp.axhline(16, color="tab:blue", lw=1, ls=":", label="16 °C")
    temp.axhline(26, color="tab:purple", lw=1, ls=":", label="26 °C, bedroom nights (TM59)")
    temp.axhline(32, color="tab:red", lw=1, ls=":", label="32 °C (WHO, day)")
    temp.plot(days, [r["t_out"] for r in first], color="grey", lw=1, label="outdoor")
    for mac in macs:
        name = f"sensor {mac}" if len(macs) > 1 else "indoor"
        temp.plot(*_series(rows, mac, "t_in", start), lw=1.5, label=f"{name}, air °C")
        humid.plot(*_series(rows, mac, "rh_in", start), lw=1.5, label=f"{name}, air %RH")
        surface.plot(*_series(rows, mac, "rh_si", start), lw=1.5, label=f"{name}, surface %RH")
    temp.set_ylabel("°C")
    zone = vector["time_zone"] or "zone assumed"
    temp.set_title(f"Home {vector['home_id']}, local week of {vector['week_start']} ({zone})")
    humid.axhspan(25, 60, color="tab:green", alpha=0.15, label="cat. II 25-60 %RH")
    humid.axhline(70, color="tab:orange", lw=1, ls="--", label="70 %RH")
    humid.set_ylabel("room air %RH")
    surface.axhline(80, color="tab:red", lw=1, ls="--", label="80 % (ISO 13788)")
    surface.axhline(100, color="tab:blue", lw=1, ls=":", label="100 %: condensation")
    surface.set_ylabel(f"surface %RH (fRsi {vector['frsi']})")
    surface.set_xlabel("local date")
    surface.xaxis.set_major_locator(mdates.DayLocator())  # type: ignore[no-untyped-call]
    surface.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))  # type: ignore[no-untyped-call]
    surface.set_xlim(start, start + 7)
    handles, labels = [], []
    for axes in (temp, humid, surface):
        more = axes.get_legend_handles_labels()
        handles += more[0]
        labels += more[1]
    drawn.legend(handles, labels, loc="outside lower left", ncols=4, fontsize=8)
    _draw_scores(drawn.add_subplot(grid[:, 1]), vector)
    return drawn


def _draw_scores(scores: Any, vector: dict[str, Any]) -> None:
    """Sub-scores as bars, the overall with its interval, the grade and the flags."""
    names = ("cold_hazard", "heat_hazard", "damp_hazard", "comfort", "score")
    values = [vector[n] or 0.0 for n in names]
    colours = ["tab:blue", "tab:red", "tab:purple", "tab:green", "black"]
    scores.barh(["cold", "heat", "damp", "comfort", "overall"], values, color=colours)
    low, high = vector["score_low"], vector["score_high"]
    # Each value beside its bar; the overall's past its interval's whisker, not on it.
    for index, value in enumerate(values):
        at = max(value, high if names[index] == "score" else value) + 2
        scores.text(at, index, f"{value:.1f}", va="center", fontsize=9)
    scores.errorbar(
        [vector["score"]], ["overall"], xerr=[[vector["score"] - low], [high - vector["score"]]],
        color="orange", capsize=6, lw=2,
    )  # fmt: skip
    scores.set_xlim(0, 115)  # room for a label past 100
    scores.set_xticks(range(0, 101, 20))
    scores.invert_yaxis()
    grade = vector["grade"] or "not graded"
    mark = " (provisional)" if vector["provisional"] else ""
    scores.set_title(f"{vector['score']:.1f} — {grade}{mark}\ninterval {low:.1f}-{high:.1f}")
    flags = (vector["flags"] or "no flags").replace(",", "\n")
    interval = vector["reading_interval_s"]
    read = "" if interval is None else f", a reading every {interval:.0f} s"
    scores.set_xlabel(
        f"0-100 (model {vector['model_version']})\n\ncoverage {vector['coverage']:.0%}{read}"
        f"\n{flags}"
    )
