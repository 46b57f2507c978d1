"""Usage: what this project's code and infrastructure do in a 30-day month, per service.

`project_usage` counts, from a `Scenario`, the `Measurements` of our rows and messages and the
`Profile` of our functions, what each service bills: BigQuery storage, ingestion and queries;
Pub/Sub publish and delivery; Cloud Run functions and Cloud Scheduler; Cloud Storage. Each
count is a `Usage` line that `livability.finops.pricing` prices; `estimate` does both.
"""

from __future__ import annotations

import math
from decimal import Decimal

from livability.finops.prices import PriceBook
from livability.finops.pricing import Estimate, Usage, price
from livability.finops.profile import (
    DEFAULT_PROFILE,
    EXPORT_FILE_MAX,
    FLEET_CHECKS_PER_DAY,
    FLEET_COLUMNS,
    FLEET_DAYS,
    LOCATION_QUERY_COLUMNS,
    LONG_TERM_AFTER_MONTHS,
    MESSAGE_ID_BYTES,
    MESSAGE_TIMESTAMP_BYTES,
    MIN_REQUEST_BYTES,
    PUBLISH_BATCH,
    QUERY_TABLE_MIN,
    SCHEDULER_JOBS,
    SCORING_COLUMNS,
    SCORING_WEATHER_DAYS,
    STREAMING_ROW_MIN,
    Gen2Function,
    Profile,
)
from livability.finops.scans import (
    ROLLUP,
    rollup_location_bytes,
    rollup_row_bytes,
    week_scan,
)
from livability.finops.scenario import Scenario, format_interval
from livability.finops.sizes import Measurements
from livability.finops.units import MONTH_DAYS, WEEKS_PER_MONTH, as_decimal
from livability.weather.locations import LOCATION_DAYS, LOCATIONS_MAX_AGE
from schemas import registry


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


def project_usage(
    scenario: Scenario, m: Measurements, profile: Profile = DEFAULT_PROFILE
) -> list[Usage]:
    """What this project's code and infrastructure use in a month under `scenario`."""
    return [
        *_bigquery_storage(scenario, m),
        *_bigquery_ingestion(scenario, m),
        *_bigquery_queries(scenario, m, profile),
        *_pubsub_usage(scenario, m),
        *_functions_usage(scenario, profile),
        *_storage_usage(scenario, m, profile),
    ]


def _location_queries() -> Decimal:
    """How often the weather poller recomputes its locations from the readings."""
    return Decimal(MONTH_DAYS * 86400) / as_decimal(LOCATIONS_MAX_AGE.total_seconds())


def _bigquery_storage(s: Scenario, m: Measurements) -> list[Usage]:
    out: list[Usage] = []
    sensor_rows, weather_rows = s.sensor_rows, s.weather_rows
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
    # The daily rollup (a row per sensor and hour, the location once per home and day), kept
    # for its table's `expire_days` (schemas/tables.toml), within the raw partitions' expiry:
    # written days are never touched again, so none is older than 90 days and long-term.
    hours_day = s.homes * min(s.readings_per_home / MONTH_DAYS, Decimal(24))
    rollup_day = hours_day * rollup_row_bytes(m.sensor) + s.homes * rollup_location_bytes(m.sensor)
    rollup_days = min(kept, Decimal(registry()[ROLLUP].expire_days or s.retention_days))
    out.append(
        Usage(
            "BigQuery",
            "storage: daily rollup",
            "bigquery.active_storage",
            rollup_day * rollup_days,
            f"{rollup_days} days, a row per sensor and hour",
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
    return out


def _bigquery_ingestion(s: Scenario, m: Measurements) -> list[Usage]:
    """insertAll from the event processor, or the subscription's Storage Write API."""
    sensor_rows, weather_rows = s.sensor_rows, s.weather_rows
    if s.ingest_mode == "function":
        streamed = sensor_rows * max(Decimal(STREAMING_ROW_MIN), m.sensor.logical_bytes)
        streamed += weather_rows * max(Decimal(STREAMING_ROW_MIN), m.weather.logical_bytes)
        return [
            Usage(
                "BigQuery",
                "streaming inserts (insertAll)",
                "bigquery.streaming_insert",
                streamed,
                f"{sensor_rows + weather_rows:,.0f} rows, each billed as at least 1 KB",
            )
        ]
    written = sensor_rows * m.sensor.logical_bytes + weather_rows * m.weather.logical_bytes
    return [
        Usage("BigQuery", "Storage Write API (subscription)", "bigquery.storage_write_api", written)
    ]


def _bigquery_queries(s: Scenario, m: Measurements, profile: Profile) -> list[Usage]:
    out: list[Usage] = []
    # Queries: scoring (livability/finops/scans.py) and weekly EXPORT DATA of each raw table.
    sensor_week = s.sensor_rows * 7 / MONTH_DAYS
    weather_day = s.weather_rows / MONTH_DAYS * m.weather.logical_bytes
    scan = week_scan(
        s.homes, s.readings_per_home / MONTH_DAYS, m.sensor, weather_day, profile.scoring_reads
    )
    export_scan = max(Decimal(QUERY_TABLE_MIN), sensor_week * m.sensor.logical_bytes) + max(
        Decimal(QUERY_TABLE_MIN), weather_day * 7
    )
    if scan.rollup:
        out.append(
            Usage(
                "BigQuery",
                "queries: daily rollup",
                "bigquery.on_demand_query",
                scan.readings * WEEKS_PER_MONTH * profile.rollup_writes_per_day,
                f"each day's readings {profile.rollup_writes_per_day} time(s) (late rows): "
                + ", ".join(SCORING_COLUMNS),
            )
        )
    out.append(
        Usage(
            "BigQuery",
            "queries: weekly scoring",
            "bigquery.on_demand_query",
            (scan.rollup or scan.readings) * WEEKS_PER_MONTH + scan.weather * WEEKS_PER_MONTH,
            f"{'the rollup' if scan.rollup else 'a week of readings'}, "
            f"{SCORING_WEATHER_DAYS} days of weather",
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
    out.append(_fleet_queries(s, m))
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


def _fleet_queries(s: Scenario, m: Measurements) -> Usage:
    """The hourly fleet check: 7 days of five columns of the readings, and the dead letters."""
    days = s.sensor_rows * FLEET_DAYS / MONTH_DAYS
    readings = days * m.sensor.columns(FLEET_COLUMNS)
    per_check = max(Decimal(QUERY_TABLE_MIN), readings) + Decimal(QUERY_TABLE_MIN)
    return Usage(
        "BigQuery",
        "queries: hourly fleet check",
        "bigquery.on_demand_query",
        per_check * FLEET_CHECKS_PER_DAY * MONTH_DAYS,
        f"{FLEET_DAYS} days of " + " + ".join(FLEET_COLUMNS) + ", and dead letters, hourly",
    )


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
    checks = Decimal(FLEET_CHECKS_PER_DAY * MONTH_DAYS)
    out += _function_usage(profile.fleet, checks, profile.fleet_ms, "two queries an hour")
    out += _function_usage(profile.rollup, Decimal(MONTH_DAYS), profile.rollup_ms, "two days")

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
    profile: Profile = DEFAULT_PROFILE,
    label: str = "",
) -> Estimate:
    book = book or PriceBook.load()
    lines = price(project_usage(scenario, measurements, profile), book)
    return Estimate(lines, book.as_of, scenario, label)
