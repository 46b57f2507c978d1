"""FinOps you can compute: the monthly cost of a deployment, per service, from unit prices.

Three parts, each checkable on its own (docs/finops.md explains the model and its sources):

- **Prices** (`PriceBook`): the dated unit-price file `prices.toml`, every price with
  its unit, its monthly free tier and the Google page it comes from.
- **Sizes** (`row_bytes`): BigQuery's logical size of a row, computed from the contract in
  `schemas/` with BigQuery's documented data-type sizes (INT64, FLOAT64, DATE, TIMESTAMP 8 B,
  BOOL 1 B, STRING 2 B + its UTF-8 bytes, GEOGRAPHY 16 B + 24 B per vertex, RECORD the sum of
  its fields, NULL 0 B: cloud.google.com/bigquery/docs/storage_overview#data_type_sizes).
  `Measurements` carries what real rows of our schemas measure (the CLI builds it from rows our
  own code produces); nothing here is a hand-typed bytes-per-row constant.
- **Usage** (`Scenario` → `estimate`): what this project's code and infrastructure do in a
  30-day month — messages, invocations, bytes stored, scanned, exported — priced line by line.
  `reference_estimate` reproduces the seed's own estimate under its own (partly inconsistent)
  assumptions, from its stated usage or from the scenario.

Money is `Decimal` throughout and rounded to cents only for display.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from livability.gcp import INGEST_MODES, IngestMode
from livability.weather.client import FREE_TIER_CALLS_PER_MINUTE
from livability.weather.locations import LOCATION_DAYS, LOCATIONS_MAX_AGE
from schemas import Field, Table, geo

PRICES_FILE = Path(__file__).with_name("prices.toml")

KIB, MIB, GIB, TIB = 2**10, 2**20, 2**30, 2**40
# What one of each price unit is in base units: bytes (x months), seconds x GiB/GHz/vCPU,
# or a count. Google's price pages write GB/TB for 2^30/2^40 bytes.
UNITS: Mapping[str, int] = {
    "GiB-month": GIB,
    "GiB": GIB,
    "TiB": TIB,
    "200 MiB": 200 * MIB,
    "GiB-second": 1,
    "GHz-second": 1,
    "vCPU-second": 1,
    "million": 10**6,
    "1,000 operations": 1000,
    "job-month": 1,
}

MONTH_DAYS = 30  # a billing month as the reference and Google's own pricing examples count it
WEEKS_PER_MONTH = Decimal(MONTH_DAYS) / 7
CENT = Decimal("0.01")


class PriceError(ValueError):
    """The price file is unreadable or a price in it is malformed; the message names it."""


class ScenarioError(ValueError):
    """A scenario value the model cannot use; the message names the field and the value."""


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: float | int | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


# --- Prices ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """USD per `unit`, with `free` units a month per billing account."""

    key: str
    price: Decimal
    unit: str
    free: Decimal
    source: str
    note: str = ""


@dataclass(frozen=True)
class PriceBook:
    as_of: date
    currency: str
    region: str
    prices: Mapping[str, Price]
    path: Path = PRICES_FILE

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise PriceError(f"{self.path.name}: no price {key!r}") from None

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceBook:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise PriceError(f"{path}: {err}") from err
        where = path.name
        as_of = raw.pop("as_of", None)
        if not isinstance(as_of, date):
            raise PriceError(f"{where}: as_of: {as_of!r} is not a date (YYYY-MM-DD)")
        currency, region = raw.pop("currency", None), raw.pop("region", None)
        if currency != "USD" or not isinstance(region, str):
            raise PriceError(f"{where}: currency must be 'USD' and region a string")
        prices: dict[str, Price] = {}
        for service, entries in raw.items():
            if not isinstance(entries, dict):
                raise PriceError(f"{where}: {service}: expected a table of prices")
            for name, entry in entries.items():
                key = f"{service}.{name}"
                prices[key] = _price(where, key, entry)
        return cls(as_of, currency, region, prices, path)


def _price(where: str, key: str, entry: Any) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{where}: {key}: expected a table with price, unit, free, source")
    values: dict[str, Decimal] = {}
    for name in ("price", "free"):
        value = entry.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise PriceError(f"{where}: {key}.{name}: {value!r} is not a non-negative number")
        values[name] = _dec(value)
    unit, source = entry.get("unit"), entry.get("source")
    if not isinstance(unit, str) or unit not in UNITS:
        raise PriceError(f"{where}: {key}.unit: {unit!r} is not one of {', '.join(UNITS)}")
    if not isinstance(source, str) or not source.startswith("https://cloud.google.com/"):
        raise PriceError(f"{where}: {key}.source: {source!r} is not a cloud.google.com page")
    extra = set(entry) - {"price", "unit", "free", "source", "note"}
    if extra:
        raise PriceError(f"{where}: {key}: unknown keys {sorted(extra)}")
    return Price(key, values["price"], unit, values["free"], source, str(entry.get("note", "")))


# --- Sizes -------------------------------------------------------------------------------------

_FIXED = {"INTEGER": 8, "FLOAT": 8, "DATE": 8, "TIMESTAMP": 8, "BOOLEAN": 1}


def value_bytes(column: Field, value: Any) -> int:
    """BigQuery's logical size of one value of `column` (storage_overview#data_type_sizes)."""
    if value is None:
        return 0
    kind = column.type
    if kind == "RECORD":
        return sum(value_bytes(child, value.get(child.name)) for child in column.fields)
    if kind == "STRING":
        return 2 + len(str(value).encode("utf-8"))
    if kind == "BYTES":
        return 2 + len(value)
    if kind == "GEOGRAPHY":
        return 16 + 24 * geo.vertices(str(value))
    return _FIXED[kind]


def row_bytes(table: Table, row: Mapping[str, Any], columns: Collection[str] | None = None) -> int:
    """Logical bytes of a validated `row`: every column, or only the leaf paths `columns`."""
    if columns is None:
        return sum(value_bytes(f, row.get(f.name)) for f in table.fields)
    unknown = set(columns) - {path for path, _ in table.leaves()}
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    total = 0
    for path, leaf in table.leaves():
        if path in columns:
            value: Any = row
            for part in path.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            total += value_bytes(leaf, value)
    return total


def mean(values: Iterable[int | Decimal]) -> Decimal:
    items = [_dec(v) for v in values]
    if not items:
        raise ValueError("no values to average")
    return sum(items, Decimal(0)) / len(items)


@dataclass(frozen=True)
class TableSample:
    """What real rows of one ingest table measure (means per row)."""

    table: str
    rows: int
    logical_bytes: Decimal  # BigQuery logical bytes, all columns
    column_bytes: Mapping[str, Decimal]  # logical bytes per leaf column
    message_bytes: Decimal  # body of a one-row message (the data plane's publisher)
    message_attribute_bytes: int  # its attributes, keys and values
    gateway_row_bytes: Decimal  # what a row adds to a gateway's JSON-array message body
    gateway_attribute_bytes: int  # a gateway message's attributes
    export_bytes: Decimal  # gzip'd JSON export (the archive), per row

    def columns(self, paths: Iterable[str]) -> Decimal:
        return sum((self.column_bytes[p] for p in paths), Decimal(0))


@dataclass(frozen=True)
class Measurements:
    sensor: TableSample
    weather: TableSample
    score_bytes: Decimal  # logical bytes of a livability_scores row
    score_json_bytes: Decimal  # the same row in the bucket's NDJSON
    function_source_bytes: int  # zipped source of one function


def sample_table(
    table: Table,
    rows: list[dict[str, Any]],
    *,
    message_bodies: list[bytes],
    message_attributes: Mapping[str, str],
    gateway_body: bytes,
    gateway_attributes: Mapping[str, str],
    export_gzip: bytes,
) -> TableSample:
    """Means over `rows` (validated) and what our code made of them: one-row publisher
    bodies, one gateway message carrying all of them, and their gzip'd JSON export."""
    if not rows or len(message_bodies) != len(rows):
        raise ValueError("a sample needs rows and one publisher body per row")
    return TableSample(
        table=table.name,
        rows=len(rows),
        logical_bytes=mean(row_bytes(table, r) for r in rows),
        column_bytes={
            path: mean(row_bytes(table, r, (path,)) for r in rows) for path, _ in table.leaves()
        },
        message_bytes=mean(len(b) for b in message_bodies),
        message_attribute_bytes=_attribute_bytes(message_attributes),
        # `[r1,r2,...]`: each row adds its JSON and a separator; the brackets count once.
        gateway_row_bytes=Decimal(len(gateway_body) - 1) / len(rows),
        gateway_attribute_bytes=_attribute_bytes(gateway_attributes),
        export_bytes=Decimal(len(export_gzip)) / len(rows),
    )


def _attribute_bytes(attributes: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())


# --- Scenario ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A deployment in a month: the numbers `livability finops` takes."""

    homes: int
    locations: int
    reading_interval: timedelta
    weather_interval: timedelta
    rows_per_message: int
    ingest_mode: IngestMode
    # Raw partitions kept in BigQuery: the infra environments' partition_expiration_days.
    retention_days: int = 365
    archive_months: int = 12  # months of weekly archives in COLDLINE when the month is priced

    def __post_init__(self) -> None:
        for name in ("homes", "locations", "rows_per_message", "retention_days", "archive_months"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(f"{name}: {value!r} is not a positive integer")
        for name in ("reading_interval", "weather_interval"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise ScenarioError(f"{name}: {value!r} is not a positive duration")
            if value > timedelta(days=MONTH_DAYS):
                raise ScenarioError(f"{name}: {value} is longer than a month")
        if self.ingest_mode not in INGEST_MODES:
            raise ScenarioError(
                f"ingest_mode: {self.ingest_mode!r} is not one of {', '.join(INGEST_MODES)}"
            )

    @property
    def readings_per_home(self) -> Decimal:
        return _per_month(self.reading_interval)

    @property
    def sensor_rows(self) -> Decimal:
        return self.homes * self.readings_per_home

    @property
    def weather_ticks(self) -> Decimal:
        return _per_month(self.weather_interval)

    @property
    def weather_rows(self) -> Decimal:
        return self.locations * self.weather_ticks

    @property
    def sensor_messages(self) -> Decimal:
        """Gateway messages (function mode) or publish requests (subscription mode)."""
        return self.sensor_rows / self.rows_per_message

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["reading_interval"] = format_interval(self.reading_interval)
        out["weather_interval"] = format_interval(self.weather_interval)
        return out


def _per_month(interval: timedelta) -> Decimal:
    return Decimal(MONTH_DAYS * 86400) / _dec(interval.total_seconds())


_INTERVAL = re.compile(r"^([0-9]{1,6})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """`10m`, `3h`, `30s`, `1d`: a positive whole number of seconds, minutes, hours or days."""
    match = _INTERVAL.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a positive duration like 10m, 3h or 1d")
    return timedelta(seconds=int(match[1]) * _SECONDS[match[2]])


def format_interval(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


# --- Pricing usage -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """A quantity of one priced thing, in base units (bytes, unit-seconds, counts)."""

    service: str
    item: str
    price_key: str
    amount: Decimal
    note: str = ""


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    price_key: str
    quantity: Decimal  # in `unit`
    unit: str
    cost: Decimal  # USD, unrounded; the price's free tier shared across its lines
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "item": self.item,
            "price": self.price_key,
            "quantity": float(self.quantity),
            "unit": self.unit,
            "cost": float(cents(self.cost)),
            "cost_exact": str(self.cost),
            "note": self.note,
        }


@dataclass(frozen=True)
class Method:
    """How usage becomes money. Google's: free tiers applied, 1 TiB = 2^40 bytes."""

    free_tiers: bool = True
    tib_bytes: int = TIB


# The reference priced queries per 1,000 GB while counting storage in 2^30-byte GB, and
# left every free tier out (docs/finops.md, "Reproducing the reference").
REFERENCE_METHOD = Method(free_tiers=False, tib_bytes=1000 * GIB)


def price(usages: Iterable[Usage], book: PriceBook, method: Method = Method()) -> tuple[Line, ...]:
    """Lines with their cost; a free tier is shared by all lines of its price, pro rata."""
    usages = [u for u in usages if u.amount > 0]
    totals: dict[str, Decimal] = {}
    for usage in usages:
        totals[usage.price_key] = totals.get(usage.price_key, Decimal(0)) + usage.amount
    lines = []
    for usage in usages:
        unit_price = book[usage.price_key]
        size = method.tib_bytes if unit_price.unit == "TiB" else UNITS[unit_price.unit]
        quantity, total = usage.amount / size, totals[usage.price_key] / size
        billable = max(Decimal(0), total - unit_price.free) if method.free_tiers else total
        cost = billable * unit_price.price * quantity / total
        lines.append(
            Line(
                usage.service,
                usage.item,
                usage.price_key,
                quantity,
                unit_price.unit,
                cost,
                usage.note,
            )
        )
    return tuple(lines)


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    prices_as_of: date
    scenario: Scenario | None = None
    label: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.cost for line in self.lines), Decimal(0))

    def by_service(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, Decimal(0)) + line.cost
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "scenario": self.scenario.as_json() if self.scenario else None,
            "prices_as_of": self.prices_as_of.isoformat(),
            "currency": "USD",
            "month_days": MONTH_DAYS,
            "lines": [line.as_json() for line in self.lines],
            "services": {k: float(cents(v)) for k, v in self.by_service().items()},
            "total": float(cents(self.total)),
            "total_exact": str(self.total),
        }


# --- This project's configuration --------------------------------------------------------------

MESSAGE_ID_BYTES = 16  # Pub/Sub message ids are decimal strings of about 16 digits
MESSAGE_TIMESTAMP_BYTES = 20  # pubsub/pricing: "20 bytes for the timestamp"
MIN_REQUEST_BYTES = 1000  # pubsub/pricing: at least 1000 bytes per publish, push or pull request
PUBLISH_BATCH = 100  # livability.adapters.pubsub.PubSubPublisher: batch_max_messages
STREAMING_ROW_MIN = 1024  # bigquery/pricing: insertAll counts each row as at least 1 KB
QUERY_TABLE_MIN = 10 * MIB  # bigquery/pricing: at least 10 MB per table a query references
EXPORT_FILE_MAX = GIB  # EXPORT DATA writes at most 1 GB per file
LONG_TERM_AFTER_MONTHS = 3  # a partition untouched for 90 days is billed as long-term storage
# What the scoring query reads of the readings (scoring/sql.py, CTE `readings`, with the `day`
# filter) and what the `_dedup` view's window adds: its key `row_id` and `battery`, by which it
# orders a key's copies (livability/adapters/bigquery_sql.py).
SCORING_COLUMNS = (
    "day",
    "timestamp",
    "data.home_id",
    "data.mac",
    "data.temperature",
    "data.humidity",
    "data.location",
    "row_id",
    "battery",
)
# Columns the weather poller's location query reads (livability/weather/locations.py,
# `_location_sql`): `day` (the partition filter) and `data.location`, over the last
# LOCATION_DAYS days.
LOCATION_QUERY_COLUMNS = ("day", "data.location")
# Cloud Scheduler jobs the deployment defines: weather poller, weekly scoring, weekly archive.
SCHEDULER_JOBS = ("weather poller", "weekly scoring", "weekly archive")
# The scoring query reads the scored week of readings and two weeks of weather (the running
# mean outdoor temperature needs the 7 days before each day: scoring/model.py `week_params`).
SCORING_WEATHER_DAYS = 14


@dataclass(frozen=True)
class Gen2Function:
    """A 2nd gen function (a Cloud Run service, concurrency 1): what one invocation bills."""

    name: str
    memory_gib: Decimal
    vcpu: Decimal

    def billed_seconds(self, duration_ms: Decimal) -> Decimal:
        """Request-based billing rounds each request up to the next 100 ms."""
        return (duration_ms / 100).to_integral_value(rounding=ROUND_CEILING) / 10


@dataclass(frozen=True)
class Profile:
    """What the functions do per invocation; docs/finops.md says where each number is from."""

    # Event processor: 256 MiB comes with 0.167 vCPU on Cloud Run functions.
    processor: Gen2Function = Gen2Function("event processor", Decimal("0.25"), Decimal("0.167"))
    # Wall time waiting on BigQuery's insertAll and the push round trip (not measurable here).
    processor_io_ms: Decimal = Decimal(100)
    # CPU on one full core, from `make bench` (README: 3.1 ms per 6-row and 7.8 ms per 100-row
    # message): 2.8 ms + 0.05 ms a row; on a fraction of a vCPU it takes 1/vcpu as long.
    processor_cpu_ms: Decimal = Decimal("2.8")
    processor_cpu_ms_per_row: Decimal = Decimal("0.05")
    poller: Gen2Function = Gen2Function("weather poller", Decimal("0.25"), Decimal("0.167"))
    poller_call_ms: Decimal = Decimal(300)  # one OpenWeatherMap call
    poller_calls_per_minute: int = FREE_TIER_CALLS_PER_MINUTE  # the poller paces its calls
    # The warehouse does the per-reading work; the function waits for the query, then polars
    # turns one aggregate row per sensor and day into vectors.
    scoring: Gen2Function = Gen2Function("weekly scoring", Decimal(2), Decimal(1))
    scoring_fixed_ms: Decimal = Decimal(60_000)
    scoring_rows_per_second: Decimal = Decimal(1_000_000)
    archive: Gen2Function = Gen2Function("weekly archive", Decimal("0.25"), Decimal("0.167"))
    archive_ms: Decimal = Decimal(120_000)  # waits for one EXPORT DATA job per table
    functions_deployed: int = 4  # sources kept in the function-sources bucket
    # The BigQuery `<table>_dedup` views partition and order by columns, never the whole row
    # (livability/adapters/bigquery_sql.py), so a query through them reads the columns it
    # selects and the view's key; True prices the former whole-row views (tests/finops checks
    # the view still names its columns).
    dedup_view_reads_all_columns: bool = False

    def processor_ms(self, rows: Decimal) -> Decimal:
        cpu = self.processor_cpu_ms + self.processor_cpu_ms_per_row * rows
        return self.processor_io_ms + cpu / self.processor.vcpu


def _message_bytes(body: Decimal, attributes: int) -> Decimal:
    return body + attributes + MESSAGE_TIMESTAMP_BYTES + MESSAGE_ID_BYTES


def _billable_request(size: Decimal) -> Decimal:
    return max(Decimal(MIN_REQUEST_BYTES), size)


def _function_usage(
    fn: Gen2Function, invocations: Decimal, duration_ms: Decimal, what: str, name: str = ""
) -> list[Usage]:
    seconds = invocations * fn.billed_seconds(duration_ms)
    count = f"{invocations:,.0f}" if invocations >= 100 else f"{invocations:.2f}"
    note = f"{count} x {fn.billed_seconds(duration_ms)} s billed ({what})"
    name = name or fn.name
    return [
        Usage("Cloud Run functions", f"{name}: vCPU", "cloud_run.cpu", seconds * fn.vcpu, note),
        Usage(
            "Cloud Run functions",
            f"{name}: memory",
            "cloud_run.memory",
            seconds * fn.memory_gib,
            note,
        ),
        Usage("Cloud Run functions", f"{name}: requests", "cloud_run.requests", invocations),
    ]


def project_usage(scenario: Scenario, m: Measurements, profile: Profile = Profile()) -> list[Usage]:
    """What this project's code and infrastructure use in a month under `scenario`."""
    return [
        *_bigquery_usage(scenario, m, profile),
        *_pubsub_usage(scenario, m),
        *_functions_usage(scenario, profile),
        *_storage_usage(scenario, m, profile),
    ]


def _location_queries() -> Decimal:
    """How often the weather poller recomputes its locations from the readings."""
    return Decimal(MONTH_DAYS * 86400) / _dec(LOCATIONS_MAX_AGE.total_seconds())


def _bigquery_usage(s: Scenario, m: Measurements, profile: Profile) -> list[Usage]:
    out: list[Usage] = []
    sensor_rows, weather_rows = s.sensor_rows, s.weather_rows
    rows = sensor_rows + weather_rows
    # BigQuery storage: raw partitions for the retention window (billed as long-term once a
    # partition is 90 days old and untouched), scores for the horizon.
    per_day = (
        sensor_rows * m.sensor.logical_bytes + weather_rows * m.weather.logical_bytes
    ) / MONTH_DAYS
    kept = Decimal(s.retention_days)
    recent = min(kept, Decimal(LONG_TERM_AFTER_MONTHS * MONTH_DAYS))
    sizes = f"{m.sensor.logical_bytes:.1f} B (sensor), {m.weather.logical_bytes:.1f} B (weather)"
    out.append(
        Usage(
            "BigQuery",
            "storage: raw tables",
            "bigquery.active_storage",
            per_day * recent,
            f"the last {recent} of {s.retention_days} days of rows at {sizes}",
        )
    )
    out.append(
        Usage(
            "BigQuery",
            "storage: raw tables (long-term)",
            "bigquery.long_term_storage",
            per_day * (kept - recent),
            f"days {recent + 1}-{s.retention_days}, untouched for 90 days",
        )
    )
    scores_month = s.homes * WEEKS_PER_MONTH * m.score_bytes
    active = min(s.archive_months, LONG_TERM_AFTER_MONTHS)
    out.append(
        Usage("BigQuery", "storage: scores", "bigquery.active_storage", scores_month * active)
    )
    out.append(
        Usage(
            "BigQuery",
            "storage: scores (long-term)",
            "bigquery.long_term_storage",
            scores_month * (s.archive_months - active),
        )
    )

    # Ingestion: insertAll from the event processor, or the subscription's Storage Write API.
    if s.ingest_mode == "function":
        streamed = sensor_rows * max(Decimal(STREAMING_ROW_MIN), m.sensor.logical_bytes)
        streamed += weather_rows * max(Decimal(STREAMING_ROW_MIN), m.weather.logical_bytes)
        out.append(
            Usage(
                "BigQuery",
                "streaming inserts (insertAll)",
                "bigquery.streaming_insert",
                streamed,
                f"{rows:,.0f} rows, each billed as at least 1 KB",
            )
        )
    else:
        written = sensor_rows * m.sensor.logical_bytes + weather_rows * m.weather.logical_bytes
        out.append(
            Usage(
                "BigQuery",
                "Storage Write API (subscription)",
                "bigquery.storage_write_api",
                written,
            )
        )

    # Queries: weekly scoring and weekly EXPORT DATA read through the _dedup views: the
    # scoring query reads SCORING_COLUMNS, the export every column.
    sensor_week = s.sensor_rows * 7 / MONTH_DAYS
    weather_day = s.weather_rows / MONTH_DAYS * m.weather.logical_bytes
    sensor_scan = (
        m.sensor.logical_bytes
        if profile.dedup_view_reads_all_columns
        else m.sensor.columns(SCORING_COLUMNS)
    )
    scoring_scan = max(Decimal(QUERY_TABLE_MIN), sensor_week * sensor_scan) + max(
        Decimal(QUERY_TABLE_MIN), weather_day * SCORING_WEATHER_DAYS
    )
    export_scan = max(Decimal(QUERY_TABLE_MIN), sensor_week * m.sensor.logical_bytes) + max(
        Decimal(QUERY_TABLE_MIN), weather_day * 7
    )
    out.append(
        Usage(
            "BigQuery",
            "queries: weekly scoring",
            "bigquery.on_demand_query",
            scoring_scan * WEEKS_PER_MONTH,
            f"a week of readings, {SCORING_WEATHER_DAYS} days of weather, whole rows",
        )
    )
    out.append(
        Usage(
            "BigQuery",
            "queries: weekly archive (EXPORT DATA)",
            "bigquery.on_demand_query",
            export_scan * WEEKS_PER_MONTH,
            "a week of each raw table, de-duplicated",
        )
    )
    location_queries = _location_queries()
    location_scan = max(
        Decimal(QUERY_TABLE_MIN),
        s.homes
        * s.readings_per_home
        * LOCATION_DAYS
        / MONTH_DAYS
        * m.sensor.columns(LOCATION_QUERY_COLUMNS),
    )
    out.append(
        Usage(
            "BigQuery",
            "queries: weather locations",
            "bigquery.on_demand_query",
            location_queries * location_scan,
            f"every {format_interval(LOCATIONS_MAX_AGE)}, {LOCATION_DAYS} days of "
            + " + ".join(LOCATION_QUERY_COLUMNS),
        )
    )

    return out


def _pubsub_usage(s: Scenario, m: Measurements) -> list[Usage]:
    out: list[Usage] = []
    sensor_rows, weather_rows = s.sensor_rows, s.weather_rows
    # Pub/Sub: what the gateways and the poller publish, and how it is delivered.
    weather_message = _message_bytes(m.weather.message_bytes, m.weather.message_attribute_bytes)
    full, rest = divmod(s.locations, PUBLISH_BATCH)
    weather_requests = _billable_request(PUBLISH_BATCH * weather_message) * full
    if rest:
        weather_requests += _billable_request(rest * weather_message)
    out.append(
        Usage(
            "Pub/Sub",
            "publish: weather poller",
            "pubsub.throughput",
            weather_requests * s.weather_ticks,
            f"{s.locations} one-row messages a tick, {PUBLISH_BATCH} per request",
        )
    )
    if s.ingest_mode == "function":
        gateway_message = _message_bytes(
            1 + s.rows_per_message * m.sensor.gateway_row_bytes, m.sensor.gateway_attribute_bytes
        )
        per_message = _billable_request(gateway_message)
        out.append(
            Usage(
                "Pub/Sub",
                "publish: gateways",
                "pubsub.throughput",
                s.sensor_messages * per_message,
                f"{s.sensor_messages:,.0f} messages of {s.rows_per_message} rows, "
                f"{gateway_message:,.0f} B each",
            )
        )
        out.append(
            Usage(
                "Pub/Sub",
                "push to the event processor",
                "pubsub.throughput",
                s.sensor_messages * per_message + weather_rows * _billable_request(weather_message),
                "one message per push request",
            )
        )
    else:
        row_message = _message_bytes(m.sensor.message_bytes, m.sensor.message_attribute_bytes)
        out.append(
            Usage(
                "Pub/Sub",
                "publish: gateways",
                "pubsub.throughput",
                s.sensor_messages * _billable_request(s.rows_per_message * row_message),
                f"one-row messages of {row_message:,.0f} B, {s.rows_per_message} per request",
            )
        )
        out.append(
            Usage(
                "Pub/Sub",
                "BigQuery subscription",
                "pubsub.bigquery_subscription",
                sensor_rows * row_message + weather_rows * weather_message,
            )
        )

    return out


def _functions_usage(s: Scenario, profile: Profile) -> list[Usage]:
    out: list[Usage] = []
    # Functions (2nd gen = Cloud Run request-based billing).
    if s.ingest_mode == "function":
        out += _function_usage(
            profile.processor,
            s.sensor_messages,
            profile.processor_ms(Decimal(s.rows_per_message)),
            f"{s.rows_per_message}-row messages",
            "event processor (readings)",
        )
        out += _function_usage(
            profile.processor,
            s.weather_rows,
            profile.processor_ms(Decimal(1)),
            "one-row messages",
            "event processor (weather)",
        )
    per_call = max(profile.poller_call_ms, Decimal(60_000) / profile.poller_calls_per_minute)
    out += _function_usage(
        profile.poller, s.weather_ticks, s.locations * per_call, f"{s.locations} calls a tick"
    )
    aggregates = Decimal(s.homes * 7)
    scoring_ms = profile.scoring_fixed_ms + 1000 * aggregates / profile.scoring_rows_per_second
    out += _function_usage(profile.scoring, WEEKS_PER_MONTH, scoring_ms, "a row per home-day")
    out += _function_usage(profile.archive, WEEKS_PER_MONTH, profile.archive_ms, "EXPORT DATA")

    out.append(
        Usage(
            "Cloud Scheduler",
            "jobs: " + ", ".join(SCHEDULER_JOBS),
            "scheduler.jobs",
            Decimal(len(SCHEDULER_JOBS)),
        )
    )

    return out


def _storage_usage(s: Scenario, m: Measurements, profile: Profile) -> list[Usage]:
    out: list[Usage] = []
    sensor_rows, weather_rows = s.sensor_rows, s.weather_rows
    location_queries = _location_queries()
    # Cloud Storage: the COLDLINE archive, the data bucket, function sources.
    archived_month = sensor_rows * m.sensor.export_bytes + weather_rows * m.weather.export_bytes
    out.append(
        Usage(
            "Cloud Storage",
            "COLDLINE: weekly archive",
            "storage.coldline",
            archived_month * s.archive_months,
            f"{s.archive_months} months of gzip'd JSON exports at "
            f"{m.sensor.export_bytes:.1f} B a reading",
        )
    )
    week_files = sum(
        max(1, math.ceil(bytes_ * 7 / MONTH_DAYS / EXPORT_FILE_MAX))
        for bytes_ in (sensor_rows * m.sensor.export_bytes, weather_rows * m.weather.export_bytes)
    )
    archive_objects = (week_files + 1) * WEEKS_PER_MONTH  # + the week's manifest
    out.append(
        Usage(
            "Cloud Storage",
            "COLDLINE: archive writes",
            "storage.coldline_class_a",
            archive_objects,
            "export files of at most 1 GB, and a manifest",
        )
    )
    out.append(
        Usage(
            "Cloud Storage",
            "COLDLINE: archive verification",
            "storage.coldline_class_b",
            archive_objects,
            "object metadata (checksums) read back once",
        )
    )
    scores_json = s.homes * WEEKS_PER_MONTH * m.score_json_bytes * s.archive_months
    sources = Decimal(profile.functions_deployed * m.function_source_bytes)
    out.append(Usage("Cloud Storage", "STANDARD: score vectors", "storage.standard", scores_json))
    out.append(
        Usage(
            "Cloud Storage",
            "STANDARD: function sources",
            "storage.standard",
            sources,
            f"{profile.functions_deployed} zipped sources of {m.function_source_bytes:,} B",
        )
    )
    # The poller reads and rewrites its state each tick (sent.json), and its location cache.
    out.append(
        Usage(
            "Cloud Storage",
            "STANDARD: writes (scores, poller state)",
            "storage.standard_class_a",
            WEEKS_PER_MONTH + s.weather_ticks + location_queries,
        )
    )
    out.append(
        Usage(
            "Cloud Storage",
            "STANDARD: reads (poller state)",
            "storage.standard_class_b",
            2 * s.weather_ticks,
        )
    )
    return out


def estimate(
    scenario: Scenario,
    measurements: Measurements,
    book: PriceBook | None = None,
    profile: Profile = Profile(),
    label: str = "",
) -> Estimate:
    book = book or PriceBook.load()
    lines = price(project_usage(scenario, measurements, profile), book)
    return Estimate(lines, book.as_of, scenario, label)


# --- The reference's estimate ------------------------------------------------------------------

REFERENCE_SCENARIOS: Mapping[str, Scenario] = {
    mode: Scenario(
        homes=1_000_000,
        locations=100,
        reading_interval=timedelta(minutes=10),
        weather_interval=timedelta(hours=3),
        rows_per_message=100,
        ingest_mode=mode,  # type: ignore[arg-type]
    )
    for mode in INGEST_MODES
}


@dataclass(frozen=True)
class StatedLine:
    """One line of the reference's estimate as it states it."""

    item: str
    price_key: str
    quantity: Decimal  # in the price's unit
    cost: Decimal


_STORAGE = ("BigQuery storage", "bigquery.active_storage")
_QUERIES = ("BigQuery queries", "bigquery.on_demand_query")
_MEMORY = ("Functions memory", "functions_gen1.memory")
_CPU = ("Functions CPU", "functions_gen1.cpu")


def _stated(rows: Iterable[tuple[tuple[str, str], str, str]]) -> tuple[StatedLine, ...]:
    return tuple(StatedLine(item, key, Decimal(q), Decimal(c)) for (item, key), q, c in rows)


# Issue 9, from the reference's cost section: usage and cost per line, and the totals.
REFERENCE_STATED: Mapping[str, tuple[StatedLine, ...]] = {
    "function": _stated(
        [
            (_STORAGE, "129", "2.58"),
            (_QUERIES, "129", "0.81"),
            (_MEMORY, "3863829", "9.65"),
            (_CPU, "6180855", "61.81"),
        ]
    ),
    "bigquery_subscription": _stated(
        [
            (_STORAGE, "129", "2.58"),
            (_QUERIES, "129", "0.81"),
            (_MEMORY, "2146.56", "0.005"),
            (_CPU, "3433.68", "0.03"),
        ]
    ),
}
REFERENCE_TOTALS: Mapping[str, Decimal] = {
    "function": Decimal("74.85"),
    "bigquery_subscription": Decimal("3.43"),
}
# What the reference counts in a row's 129 GB: four 8-byte values (its sample row has five,
# with `day`; its real rows seven and a POINT). docs/finops.md, "Reproducing the reference".
REFERENCE_ROW_COLUMNS = ("timestamp", "data.mac", "data.temperature", "data.humidity")
# The reference's functions: 1st gen at the default 256 MB, which comes with 400 MHz.
REFERENCE_MEMORY_GIB = Decimal("0.25")
REFERENCE_CPU_GHZ = Decimal("0.4")


@dataclass(frozen=True)
class ReferenceUsage:
    storage_bytes: Decimal
    query_bytes: Decimal
    invocations: Decimal
    duration_s: Decimal

    @property
    def gib_seconds(self) -> Decimal:
        return self.invocations * self.duration_s * REFERENCE_MEMORY_GIB

    @property
    def ghz_seconds(self) -> Decimal:
        return self.invocations * self.duration_s * REFERENCE_CPU_GHZ


def reference_duration_s() -> Decimal:
    """The reference's billed time per invocation, which it does not state: implied by its
    subscription-mode line, where the only function is the weather one (one invocation per
    location and poll). Its function-mode line then checks it independently."""
    sub = REFERENCE_SCENARIOS["bigquery_subscription"]
    gib_s = next(x for x in REFERENCE_STATED["bigquery_subscription"] if x.item == _MEMORY[0])
    return gib_s.quantity / (sub.weather_rows * REFERENCE_MEMORY_GIB)


def reference_usage(mode: str, reference_row_bytes: Decimal) -> ReferenceUsage:
    """The reference's usage derived from its scenario (one month of readings, stored once
    and scanned once; an invocation per 100-row message and per weather location and poll)."""
    s = REFERENCE_SCENARIOS[mode]
    stored = s.sensor_rows * reference_row_bytes
    invocations = s.weather_rows + (s.sensor_messages if mode == "function" else 0)
    return ReferenceUsage(stored, stored, invocations, reference_duration_s())


def reference_estimate(
    mode: str,
    *,
    derived: ReferenceUsage | None = None,
    book: PriceBook | None = None,
) -> Estimate:
    """The reference's four lines priced the reference's way: from its stated usage, or
    from `derived` usage when given."""
    book = book or PriceBook.load()
    if derived is None:
        amounts = {
            x.price_key: x.quantity * UNITS[book[x.price_key].unit] for x in REFERENCE_STATED[mode]
        }
        # The query line is in the reference's GB too, priced per 1,000 of them.
        amounts["bigquery.on_demand_query"] = (
            next(x.quantity for x in REFERENCE_STATED[mode] if x.item == _QUERIES[0]) * GIB
        )
    else:
        amounts = {
            _STORAGE[1]: derived.storage_bytes,
            _QUERIES[1]: derived.query_bytes,
            _MEMORY[1]: derived.gib_seconds,
            _CPU[1]: derived.ghz_seconds,
        }
    usages = [
        Usage("Reference", x.item, x.price_key, amounts[x.price_key])
        for x in REFERENCE_STATED[mode]
    ]
    label = f"reference, {mode}, {'stated' if derived is None else 'derived'} usage"
    return Estimate(
        price(usages, book, REFERENCE_METHOD), book.as_of, REFERENCE_SCENARIOS[mode], label
    )


@dataclass(frozen=True)
class Comparison:
    item: str
    unit: str
    stated: Decimal
    derived: Decimal
    stated_cost: Decimal
    cost_from_stated: Decimal

    @property
    def difference(self) -> Decimal:
        """Derived usage relative to the stated one."""
        return self.derived / self.stated - 1

    def as_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "unit": self.unit,
            "stated_usage": float(self.stated),
            "derived_usage": float(self.derived),
            "difference": float(self.difference),
            "stated_cost": float(self.stated_cost),
            "cost_from_stated_usage": str(self.cost_from_stated),
        }


def compare_reference(mode: str, reference_row_bytes: Decimal) -> list[Comparison]:
    book = PriceBook.load()
    derived = reference_estimate(
        mode, derived=reference_usage(mode, reference_row_bytes), book=book
    )
    from_stated = reference_estimate(mode, book=book)
    out = []
    for stated, got, line in zip(
        REFERENCE_STATED[mode], derived.lines, from_stated.lines, strict=True
    ):
        # Storage and queries are stated in the reference's GB (2^30 bytes).
        quantity = got.quantity * 1000 if got.price_key == _QUERIES[1] else got.quantity
        out.append(
            Comparison(stated.item, got.unit, stated.quantity, quantity, stated.cost, line.cost)
        )
    return out
