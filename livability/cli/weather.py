"""`livability weather poll`: one weather tick, as the Cloud Function runs it, from a shell.

Where the rows go: with `LIVABILITY_TOPIC` set, to Pub/Sub through the data plane's publisher
(as the function does); otherwise, in the embedded default, straight into the warehouse
through the ingest path the event processor itself runs (`livability.ingest.rows.ingest_rows`:
the same validation, row ids and dead letters). The embedded default has no Pub/Sub, and
pushing to `livability serve` would need a server running: a poll from a shell should work
on its own.

The key comes from `OPENWEATHER_API_KEY` (or Secret Manager when
`OPENWEATHER_API_KEY_SECRET` is set); `--base-url` points at another OpenWeatherMap, for
example a local test server.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from livability.cli.common import CliError, print_json, safe
from livability.ingest.rows import ingest_rows
from livability.ports import Publisher, Warehouse
from livability.settings import Settings, open_publisher
from livability.weather.errors import WeatherConfigError
from livability.weather.locations import parse_locations
from livability.weather.poller import run_tick
from livability.weather.settings import WeatherSettings, base_url
from schemas import ROW_ID, registry
from schemas.validation import validate_row

SOURCE = "weather-poller"


class IngestPublisher:
    """The publisher port over the warehouse: rows go through the event processor's ingest."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse

    def publish(self, table: str, rows: Sequence[Mapping[str, object]]) -> list[str]:
        spec = registry()[table]
        ingest_rows(self._warehouse, spec, rows, source=SOURCE, received_at=datetime.now(UTC))
        return [str(validate_row(spec, row)[ROW_ID]) for row in rows]

    def close(self) -> None:
        self._warehouse.close()


def register(commands: Any) -> None:
    weather = commands.add_parser("weather", help="the OpenWeatherMap poller")
    actions = weather.add_subparsers(dest="weather_command", required=True)
    poll = actions.add_parser(
        "poll",
        help="poll OpenWeatherMap once for every location and publish the new observations",
    )
    poll.add_argument(
        "--base-url", help="OpenWeatherMap's address (default https://api.openweathermap.org)"
    )
    poll.add_argument(
        "--locations",
        help="'lat,lon;lat,lon' (default $LIVABILITY_WEATHER_LOCATIONS, else the homes' "
        "locations in the warehouse)",
    )
    poll.add_argument("--json", action="store_true", help="print what the tick did as JSON")
    poll.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    try:
        config = WeatherSettings.from_env(os.environ)
        if args.base_url:
            config = _replace(config, base_url=base_url(args.base_url, "--base-url"))
        if args.locations:
            config = _replace(config, locations=parse_locations(args.locations, "--locations"))
    except WeatherConfigError as error:
        raise CliError(str(error)) from None
    publisher: Publisher = (
        open_publisher(settings)
        if settings.topic is not None
        else IngestPublisher(settings.open_warehouse())
    )
    try:
        with err.status("Polling OpenWeatherMap"):
            report = run_tick(settings, config, publisher, now=datetime.now(UTC))
    except WeatherConfigError as error:
        raise CliError(str(error)) from None
    finally:
        publisher.close()
    summary = report.to_json()
    if args.json:
        print_json(out, summary)
    else:
        where = settings.topic or str(settings.warehouse_url)
        table = RichTable(title=f"Weather poll → {where}")
        for column in ("location", "outcome", "observed at", "reason"):
            table.add_column(column)
        for result in report.results:
            cells = (
                result.location,
                result.outcome,
                result.observed_at or "-",
                result.reason or "",
            )
            table.add_row(*(safe(c) for c in cells))
        out.print(table)
        out.print(
            f"{summary['locations']} location(s): {summary['published']} published, "
            f"{summary['skipped']} already sent, {summary['failed']} failed"
        )
    if report.key_rejected:
        raise CliError(report.key_rejected)
    return 1 if report.results and not report.polled else 0


def _replace(config: WeatherSettings, **changes: Any) -> WeatherSettings:
    from dataclasses import replace

    return replace(config, **changes)
