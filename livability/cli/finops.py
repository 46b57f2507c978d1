"""`livability finops`: the monthly cost of a deployment per service, and the reference's.

The bytes per row, per message and per archived row are measured here, on rows our own code
produces: the simulator's readings and weather, validated by the contract, published the way
the data plane's publisher and the edge gateway build messages, exported as gzip'd JSON lines.
The model is the package `livability.finops`, the prices `livability/finops/prices.toml`.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability import finops, messages
from livability.cli.common import CliError, bounded, print_json, safe
from livability.gcp import INGEST_MODES
from livability.settings import Settings
from schemas import registry
from schemas.validation import to_json, validate_row

ROOT = Path(__file__).resolve().parents[2]
# What the event processor's bundle ships (infra zips these for a function).
FUNCTION_SOURCES = ("functions", "livability", "schemas")
_SAMPLE_START = datetime(2024, 12, 2, tzinfo=UTC)  # a Monday in the heating season
_SAMPLE_DAYS = 2
_SAMPLE_HOMES = 4


def _interval(text: str) -> Any:
    try:
        return finops.parse_interval(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# The scenario's options, in the order `--help` lists them.
_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--homes",
        {"type": bounded(10**9), "default": 1_000_000, "help": "homes (default 1,000,000)"},
    ),
    (
        "--locations",
        {"type": bounded(10**7), "default": 100, "help": "weather locations polled (default 100)"},
    ),
    (
        "--reading-interval",
        {
            "type": _interval,
            "default": "10m",
            "help": "time between two readings of a sensor, e.g. 10m (default 10m)",
        },
    ),
    (
        "--weather-interval",
        {
            "type": _interval,
            "default": "10m",
            "help": "time between two weather polls, e.g. 10m or 3h (default 10m, the poller's)",
        },
    ),
    (
        "--rows-per-message",
        {
            "type": bounded(100_000),
            "default": 6,
            "help": "readings a gateway publishes at once (default 6: one message an hour)",
        },
    ),
    (
        "--ingest-mode",
        {
            "choices": INGEST_MODES,
            "default": "function",
            "help": "Pub/Sub to BigQuery through the event processor or a BigQuery subscription "
            "(default function)",
        },
    ),
    (
        "--retention-days",
        {
            "type": bounded(3650),
            "default": 365,
            "help": "days of raw partitions kept in BigQuery (default 365, the infra "
            "environments' partition expiry)",
        },
    ),
    (
        "--archive-months",
        {
            "type": bounded(1200),
            "default": 12,
            "help": "months of weekly archives held in COLDLINE (default 12)",
        },
    ),
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "finops", help="monthly cost per service of a deployment (and of the reference's design)"
    )
    for flag, options in _OPTIONS:
        parser.add_argument(flag, **options)
    parser.add_argument(
        "--reference",
        action="store_true",
        help="reproduce the reference's estimate instead (its scenario, its way)",
    )
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.set_defaults(run=run)


# --- Measurements ------------------------------------------------------------------------------


def sample_rows(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Raw rows as the simulator's homes and weather produce them, in time order."""
    from livability import sim as simulator

    homes = simulator.make_homes(_SAMPLE_HOMES, seed)
    weather = {
        h.site.name: simulator.weather_rows(h.site, _SAMPLE_START, _SAMPLE_DAYS, seed)
        for h in homes
    }
    sensor = [
        row
        for h in homes
        for row in simulator.sensor_rows(h, weather[h.site.name], _SAMPLE_START, _SAMPLE_DAYS, seed)
    ]
    return {
        "sensor_thermo_beacon": sorted(sensor, key=lambda r: str(r["timestamp"])),
        "weather_data": sorted(
            (r for rows in weather.values() for r in rows), key=lambda r: str(r["timestamp"])
        ),
    }


def measure_table(name: str, raw: Sequence[dict[str, Any]]) -> finops.TableSample:
    """Measure `raw` rows the way our code stores, publishes, sends and archives them."""
    from edge.messages import encode

    table = registry()[name]
    validated = [validate_row(table, row) for row in raw]
    message = encode(name, list(raw), "sensor_data")
    export = b"".join(
        json.dumps(to_json(row), separators=(",", ":")).encode() + b"\n" for row in validated
    )
    return finops.sample_table(
        table,
        validated,
        message_bodies=[messages.row_body(table, i, row) for i, row in enumerate(raw)],
        message_attributes=messages.attributes(table),
        gateway_body=message.data,
        gateway_attributes=message.attributes,
        export_gzip=gzip.compress(export),
    )


def score_row() -> dict[str, Any]:
    """A `livability_scores` row with every column set, as the scoring job writes one."""
    from scoring.model import MODEL_VERSION

    table = registry()["livability_scores"]
    values: dict[str, Any] = {
        "STRING": "B",
        "INTEGER": 1008,
        "FLOAT": 0.5,
        "BOOLEAN": True,
        "DATE": _SAMPLE_START.date().isoformat(),
        "TIMESTAMP": _SAMPLE_START.isoformat(),
    }
    row = {f.name: values[f.type] for f in table.fields if f.name != "row_id"}
    row["model_version"] = MODEL_VERSION
    return validate_row(table, row)


def source_bytes(root: Path = ROOT) -> int:
    """Size of the zipped source of one function (what infra uploads for a deploy)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in FUNCTION_SOURCES:
            for path in sorted((root / package).rglob("*")):
                parts = path.relative_to(root).parts
                if "local" in parts or "__pycache__" in parts or not path.is_file():
                    continue
                if path.suffix in {".py", ".json", ".toml"}:
                    archive.write(path, path.relative_to(root).as_posix())
    return len(buffer.getvalue())


def measurements(rows: dict[str, list[dict[str, Any]]] | None = None) -> finops.Measurements:
    rows = rows or sample_rows()
    scores = registry()["livability_scores"]
    score = score_row()
    return finops.Measurements(
        sensor=measure_table("sensor_thermo_beacon", rows["sensor_thermo_beacon"]),
        weather=measure_table("weather_data", rows["weather_data"]),
        score_bytes=Decimal(finops.row_bytes(scores, score)),
        score_json_bytes=Decimal(len(json.dumps(to_json(score), separators=(",", ":"))) + 1),
        function_source_bytes=source_bytes(),
    )


def reference_row_bytes(rows: Sequence[dict[str, Any]]) -> Decimal:
    """The bytes the reference counts per reading, measured on validated rows."""
    table = registry()["sensor_thermo_beacon"]
    return finops.mean(
        finops.row_bytes(table, validate_row(table, r), finops.REFERENCE_ROW_COLUMNS) for r in rows
    )


# --- The command -------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    try:
        book = finops.PriceBook.load()
        if args.reference:
            return _run_reference(args, book, out)
        scenario = finops.Scenario(
            homes=args.homes,
            locations=args.locations,
            reading_interval=args.reading_interval,
            weather_interval=args.weather_interval,
            rows_per_message=args.rows_per_message,
            ingest_mode=args.ingest_mode,
            retention_days=args.retention_days,
            archive_months=args.archive_months,
        )
    except (finops.PriceError, finops.ScenarioError) as error:
        raise CliError(str(error)) from None
    result = finops.estimate(scenario, measurements(), book, label="this project")
    if args.json:
        print_json(out, result.as_json())
        return 0
    _print_estimate(out, result, scenario, book)
    return 0


def money(amount: Decimal) -> str:
    """Cents; a cost under a cent shows its tenth of a cent, as the reference writes $0.005."""
    if Decimal(0) < amount < Decimal("0.001"):
        return "<$0.001"
    if Decimal(0) < amount < Decimal("0.01"):
        return f"${amount:.3f}"
    return f"${finops.cents(amount):,.2f}"


def quantity(value: Decimal) -> str:
    if value >= 100_000 or value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if value >= 1 else f"{value:.3g}"


def _print_estimate(
    out: Console, result: finops.Estimate, s: finops.Scenario, book: finops.PriceBook
) -> None:
    out.print(
        f"[bold]{s.homes:,} homes[/], a reading every {finops.format_interval(s.reading_interval)}"
        f", {s.rows_per_message} per message, {s.locations:,} weather locations every "
        f"{finops.format_interval(s.weather_interval)}, ingest through "
        f"{s.ingest_mode.replace('_', ' ')}; {finops.MONTH_DAYS}-day month, prices of "
        f"{book.as_of} ({book.region}, {book.path.name})"
    )
    for service, subtotal in result.by_service().items():
        table = RichTable(title=f"{service}: {money(subtotal)}", title_justify="left")
        for column in ("item", "usage", "unit", "cost"):
            table.add_column(column, justify="left" if column in ("item", "unit") else "right")
        for line in result.lines:
            if line.service == service:
                table.add_row(
                    safe(line.item), quantity(line.quantity), safe(line.unit), money(line.cost)
                )
        out.print(table)
    totals = RichTable(title="Monthly total", title_justify="left")
    totals.add_column("service")
    totals.add_column("cost", justify="right")
    for service, subtotal in result.by_service().items():
        totals.add_row(safe(service), money(subtotal))
    totals.add_row("[bold]total[/]", f"[bold]{money(result.total)}[/]")
    out.print(totals)


def _run_reference(args: argparse.Namespace, book: finops.PriceBook, out: Console) -> int:
    per_row = reference_row_bytes(sample_rows()["sensor_thermo_beacon"])
    report: dict[str, Any] = {"reference_row_bytes": float(per_row), "modes": {}}
    for mode in INGEST_MODES:
        stated = finops.reference_estimate(mode, book=book)
        derived = finops.reference_estimate(
            mode, derived=finops.reference_usage(mode, per_row), book=book
        )
        report["modes"][mode] = {
            "lines": [c.as_json() for c in finops.compare_reference(mode, per_row)],
            "stated_total": float(finops.REFERENCE_TOTALS[mode]),
            "total_from_stated_usage": float(finops.cents(stated.total)),
            "total_from_derived_usage": float(finops.cents(derived.total)),
        }
    if args.json:
        print_json(out, report)
        return 0
    out.print(
        f"The reference's estimate (1,000,000 homes, a reading every 10 min, 100 rows per "
        f"message, 100 weather locations every 3 h), priced its way: no free tiers, queries "
        f"per 1,000 GB, 1st gen functions; {per_row} B per reading; prices of {book.as_of}"
    )
    for mode in INGEST_MODES:
        data = report["modes"][mode]
        table = RichTable(title=f"ingest mode: {mode}", title_justify="left")
        for column in (
            "item",
            "stated usage",
            "derived usage",
            "Δ",
            "stated cost",
            "cost of stated usage",
        ):
            table.add_column(column, justify="left" if column == "item" else "right")
        for c in finops.compare_reference(mode, per_row):
            table.add_row(
                safe(c.item),
                safe(f"{quantity(c.stated)} {c.unit.replace('TiB', 'GB').replace('-month', '')}"),
                quantity(c.derived),
                f"{c.difference:+.2%}",
                money(c.stated_cost),
                money(c.cost_from_stated),
            )
        table.add_row(
            "[bold]total[/]",
            "",
            f"{money(Decimal(str(data['total_from_derived_usage'])))}",
            "",
            f"[bold]{money(finops.REFERENCE_TOTALS[mode])}[/]",
            f"[bold]{money(Decimal(str(data['total_from_stated_usage'])))}[/]",
        )
        out.print(table)
    return 0
