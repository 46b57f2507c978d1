"""This project's configuration as the usage model counts it: Google's billing rules for the
services it uses, the columns its queries read, and what its functions do per invocation.

Each constant names the code or the pricing page it stands for; tests/finops checks the ones
that describe our code against that code.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

from livability.finops.units import GIB, MIB
from livability.weather.client import FREE_TIER_CALLS_PER_MINUTE

MESSAGE_ID_BYTES = 16  # Pub/Sub message ids are decimal strings of about 16 digits
MESSAGE_TIMESTAMP_BYTES = 20  # pubsub/pricing: "20 bytes for the timestamp"
MIN_REQUEST_BYTES = 1000  # pubsub/pricing: at least 1000 bytes per publish, push or pull request
PUBLISH_BATCH = 100  # livability.adapters.pubsub.PubSubPublisher: batch_max_messages
STREAMING_ROW_MIN = 1024  # bigquery/pricing: insertAll counts each row as at least 1 KB
QUERY_TABLE_MIN = 10 * MIB  # bigquery/pricing: at least 10 MB per table a query references
EXPORT_FILE_MAX = GIB  # EXPORT DATA writes at most 1 GB per file
LONG_TERM_AFTER_MONTHS = 3  # a partition untouched for 90 days is billed as long-term storage
# What scoring reads of each reading, once, in the daily rollup (scoring/rollup.py, through
# scoring/selects.py: grouped on these columns, no `row_id`), with the `day` filter; `room` from
# model 3. The weekly job then reads the rollup (livability/finops/scans.py).
SCORING_COLUMNS = (
    "day",
    "timestamp",
    "data.home_id",
    "data.mac",
    "data.temperature",
    "data.humidity",
    "data.location",
    "room",
)
# What main read before the rollup, through the `_dedup` views: the same columns and the views'
# window, its key `row_id` and `battery` and `room`, by which it ordered a key's copies.
VIEW_COLUMNS = (*SCORING_COLUMNS, "row_id", "battery")
# How scoring reads the readings (livability/finops/scans.py).
Reads = Literal["rollup", "raw", "views"]
READS: tuple[Reads, ...] = ("rollup", "raw", "views")
# The rollup days the weekly job checks before it scores (scoring/job.py `roll_up`): the day
# before the UTC week to the day after it.
ROLLUP_DAYS_CHECKED = 9
# Columns the weather poller's location query reads (livability/weather/locations.py,
# `_location_sql`): `day` (the partition filter) and `data.location`, over the last
# LOCATION_DAYS days.
LOCATION_QUERY_COLUMNS = ("day", "data.location")
# Cloud Scheduler jobs the deployment defines: weather poller, weekly scoring, weekly archive,
# the hourly fleet check, the daily rollup.
SCHEDULER_JOBS = (
    "weather poller",
    "weekly scoring",
    "weekly archive",
    "fleet check",
    "daily rollup",
)
# The daily rollup (scoring/daily.py): each day's readings are read once, by the run the day
# after it closes (`REWRITE_DAYS`); the weekly job's look for missing days is in its scan.
# (A second daily read, for late rows, would make the rollup's way read more than raw:
# `test_usage.py`.)
ROLLUP_WRITES_PER_DAY = 1
# The hourly fleet check (livability/fleet/sql.py, on the base table): 7 days
# (livability.fleet.check.WINDOW_DAYS) of these columns, and the dead letters' query, billed
# at least QUERY_TABLE_MIN per table; 24 checks a day.
FLEET_COLUMNS = ("day", "timestamp", "data.home_id", "data.mac", "battery")
FLEET_DAYS = 7
FLEET_CHECKS_PER_DAY = 24
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
    # The fleet check waits for its two queries (512 MiB comes with 0.333 vCPU).
    fleet: Gen2Function = Gen2Function("fleet check", Decimal("0.5"), Decimal("0.333"))
    fleet_ms: Decimal = Decimal(10_000)
    # The daily rollup waits for two days' DELETE and INSERT, about a minute each at 1M homes
    # (scoring/rollup.py); counted at that for any fleet.
    rollup: Gen2Function = Gen2Function("daily rollup", Decimal("0.5"), Decimal("0.333"))
    rollup_ms: Decimal = Decimal(120_000)
    functions_deployed: int = 6  # sources kept in the function-sources bucket
    # How often the rollup reads a day's readings (1: only when the day closes).
    rollup_writes_per_day: int = ROLLUP_WRITES_PER_DAY
    # How scoring reads the readings (livability/finops/scans.py): "rollup" (the platform's
    # way: each reading once, a day at a time), "raw" (`livability score --raw`: a week's
    # needed columns in one query) or "views" (main before the rollup, for comparison).
    scoring_reads: Reads = "rollup"

    def processor_ms(self, rows: Decimal) -> Decimal:
        cpu = self.processor_cpu_ms + self.processor_cpu_ms_per_row * rows
        return self.processor_io_ms + cpu / self.processor.vcpu


DEFAULT_PROFILE = Profile()
