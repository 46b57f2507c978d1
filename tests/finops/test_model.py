"""The cost model of this project's configuration: its properties (hypothesis), its ties to
the code it describes, the price file and the scenario's validation.

Runs against the real price file, measurements of simulated rows validated by the contract,
and the modules whose behaviour the model prices (the BigQuery adapter's `_dedup` views, the
scoring job's query, the weather poller's location query). No cloud: arithmetic on usage.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livability.finops import model as finops
from livability.gcp import INGEST_MODES
from schemas import registry

HOMES = st.integers(min_value=1, max_value=10_000_000)
BATCH = st.integers(min_value=1, max_value=500)
MODE = st.sampled_from(INGEST_MODES)


def scenario(**changes: object) -> finops.Scenario:
    base = finops.Scenario(
        homes=1_000_000,
        locations=100,
        reading_interval=timedelta(minutes=10),
        weather_interval=timedelta(minutes=10),
        rows_per_message=6,
        ingest_mode="function",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def total(s: finops.Scenario, m: finops.Measurements, book: finops.PriceBook) -> Decimal:
    """To a billionth of a dollar: beyond it is Decimal's rounding of the divisions."""
    return finops.estimate(s, m, book).total.quantize(Decimal("1e-9"))


def processor_seconds(s: finops.Scenario, m: finops.Measurements, *, billed: bool) -> Decimal:
    """Event processor time for the readings: billed (rounded per request) or as run."""
    profile = finops.Profile()
    duration = profile.processor_ms(Decimal(s.rows_per_message))
    seconds = profile.processor.billed_seconds(duration) if billed else duration / 1000
    return s.sensor_messages * seconds


@settings(max_examples=60, deadline=None)
@given(a=HOMES, b=HOMES, mode=MODE)
def test_more_homes_never_cost_less(
    a: int, b: int, mode: str, measured: finops.Measurements, book: finops.PriceBook
) -> None:
    fewer, more = sorted((a, b))
    assert total(scenario(homes=fewer, ingest_mode=mode), measured, book) <= total(
        scenario(homes=more, ingest_mode=mode), measured, book
    )


@settings(max_examples=60, deadline=None)
@given(a=BATCH, b=BATCH)
def test_bigger_batches_never_take_more_function_time(
    a: int, b: int, measured: finops.Measurements
) -> None:
    small, big = sorted((a, b))
    assert processor_seconds(scenario(rows_per_message=big), measured, billed=False) <= (
        processor_seconds(scenario(rows_per_message=small), measured, billed=False)
    )


@settings(max_examples=60, deadline=None)
@given(batch=BATCH, factor=st.integers(min_value=1, max_value=20), mode=MODE)
def test_multiplying_the_batch_never_bills_more(
    batch: int, factor: int, mode: str, measured: finops.Measurements, book: finops.PriceBook
) -> None:
    """Billing rounds each request up to 100 ms; k messages merged into one still bill at
    most k times as much, so a batch k times bigger never costs more, in time or in total."""
    small = scenario(rows_per_message=batch, ingest_mode=mode)
    big = scenario(rows_per_message=batch * factor, ingest_mode=mode)
    assert processor_seconds(big, measured, billed=True) <= processor_seconds(
        small, measured, billed=True
    )
    assert total(big, measured, book) <= total(small, measured, book)


def test_a_batch_just_past_a_100_ms_step_bills_more_than_one_just_below(
    measured: finops.Measurements,
) -> None:
    """Why the property above is about multiples: with rounding, a batch that tips a request
    into the next 100 ms bills more time than a slightly smaller one."""
    profile = finops.Profile()
    rows = next(
        n
        for n in range(1, 10_000)
        if profile.processor.billed_seconds(profile.processor_ms(Decimal(n + 1)))
        > profile.processor.billed_seconds(profile.processor_ms(Decimal(n)))
    )
    assert processor_seconds(scenario(rows_per_message=rows + 1), measured, billed=True) > (
        processor_seconds(scenario(rows_per_message=rows), measured, billed=True)
    )


def test_the_ingest_modes_bill_different_things(
    measured: finops.Measurements, book: finops.PriceBook
) -> None:
    function = {x.price_key for x in finops.estimate(scenario(), measured, book).lines}
    subscription = {
        x.price_key
        for x in finops.estimate(
            scenario(ingest_mode="bigquery_subscription"), measured, book
        ).lines
    }
    assert {"bigquery.streaming_insert"} <= function - subscription
    assert {"pubsub.bigquery_subscription", "bigquery.storage_write_api"} <= (
        subscription - function
    )
    items = [x.item for x in finops.estimate(scenario(), measured, book).lines]
    assert any(i.startswith("event processor") for i in items)


def test_a_free_tier_is_shared_by_the_lines_of_its_price(book: finops.PriceBook) -> None:
    """Two query lines of 0.75 TiB each: 1 TiB free, 0.5 TiB billed at $6.25, split evenly."""
    half = Decimal("0.75") * finops.TIB
    lines = finops.price(
        [
            finops.Usage("BigQuery", "a", "bigquery.on_demand_query", half),
            finops.Usage("BigQuery", "b", "bigquery.on_demand_query", half),
        ],
        book,
    )
    assert [x.cost for x in lines] == [Decimal("1.5625"), Decimal("1.5625")]
    assert [x.quantity for x in lines] == [Decimal("0.75"), Decimal("0.75")]


def test_three_scheduler_jobs_fit_the_free_tier(
    measured: finops.Measurements, book: finops.PriceBook
) -> None:
    [jobs] = [x for x in finops.estimate(scenario(), measured, book).lines if x.unit == "job-month"]
    assert (jobs.quantity, jobs.cost) == (Decimal(3), Decimal(0))


def test_the_dedup_views_read_only_their_key_and_the_selected_columns() -> None:
    """The model prices the scoring scan at SCORING_COLUMNS because the BigQuery views
    partition and order by named columns, not the whole row: if that changes, the model
    must change with it."""
    from livability.adapters.bigquery_sql import dedup_view_sql

    table = registry()["sensor_thermo_beacon"]
    view = dedup_view_sql(table, "p.d.sensor_thermo_beacon")
    window = view.split("OVER (", 1)[1]
    assert not finops.Profile().dedup_view_reads_all_columns
    assert "TO_JSON_STRING" not in view
    named = {c for c in ("day", "row_id", *table.identity_excludes) if c in window}
    assert named == {"day", "row_id", "battery"}, window
    assert named <= set(finops.SCORING_COLUMNS)
    assert "TO_JSON_STRING" not in inspect.getsource(dedup_view_sql)


def test_views_reading_needed_columns_only_scan_less_than_whole_rows(
    measured: finops.Measurements, book: finops.PriceBook
) -> None:
    def scanned(profile: finops.Profile) -> Decimal:
        return sum(
            (
                x.quantity
                for x in finops.estimate(scenario(), measured, book, profile).lines
                if x.item == "queries: weekly scoring"
            ),
            Decimal(0),
        )

    whole = scanned(finops.Profile(dedup_view_reads_all_columns=True))
    needed = scanned(finops.Profile())
    assert Decimal(0) < needed < whole


def test_the_columns_and_days_the_model_scans_are_the_ones_the_code_queries() -> None:
    from datetime import date

    from livability.weather import locations as weather
    from scoring import sql
    from scoring.model import week_params

    table = registry()["sensor_thermo_beacon"]
    leaves = {path for path, _ in table.leaves()}
    readings = sql.hourly_ctes("d").split("sensor_hours AS")[0]  # the CTE `readings`
    assert set(finops.SCORING_COLUMNS) <= leaves
    for path in set(finops.SCORING_COLUMNS) - {"row_id", "battery"}:  # the views' window
        assert path in readings, path
    params = week_params(date(2024, 12, 2))
    days = params["last_day"] - params["weather_first_day"]  # type: ignore[operator]
    assert days == timedelta(days=finops.SCORING_WEATHER_DAYS - 1)
    location_sql = weather._location_sql("bigquery", "d")
    assert set(finops.LOCATION_QUERY_COLUMNS) <= leaves
    for path in finops.LOCATION_QUERY_COLUMNS:
        assert path in location_sql, path


def test_every_price_is_dated_and_sourced(book: finops.PriceBook) -> None:
    assert book.as_of.year >= 2025
    for key, unit_price in book.prices.items():
        assert unit_price.source.startswith("https://cloud.google.com/"), key
        assert unit_price.unit in finops.UNITS, key
    # Every price the model uses is in the file.
    keys = {u.price_key for u in finops.project_usage(scenario(), _fake_measurements())}
    keys |= {
        x.price_key
        for x in finops.project_usage(
            scenario(ingest_mode="bigquery_subscription"), _fake_measurements()
        )
    }
    assert keys <= set(book.prices)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "as_of = 2026-01-01\ncurrency = 'USD'\nregion = 'r'\n[a.b]\nprice = 1\nunit = 'GiB'\n"
            "free = 0\n",
            "a.b.source: None is not a cloud.google.com page",
        ),
        (
            "as_of = 2026-01-01\ncurrency = 'USD'\nregion = 'r'\n[a.b]\nprice = -1\nunit = 'GiB'\n"
            "free = 0\nsource = 'https://cloud.google.com/x'\n",
            "a.b.price: -1 is not",
        ),
        (
            "as_of = 2026-01-01\ncurrency = 'USD'\nregion = 'r'\n[a.b]\nprice = 1\nunit = 'GB'\n"
            "free = 0\nsource = 'https://cloud.google.com/x'\n",
            "a.b.unit: 'GB' is not one of",
        ),
        ("as_of = 'soon'\ncurrency = 'USD'\nregion = 'r'\n", "as_of: 'soon' is not a date"),
        ("as_of = 2026-01-01\n[broken", "Expected"),
    ],
)
def test_a_malformed_price_file_names_the_price(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(finops.PriceError, match=message):
        finops.PriceBook.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"homes": 0}, "homes: 0 is not a positive integer"),
        ({"homes": -1}, "homes: -1 is not a positive integer"),
        ({"rows_per_message": True}, "rows_per_message: True is not a positive integer"),
        ({"reading_interval": timedelta(0)}, "reading_interval: .* is not a positive duration"),
        ({"weather_interval": timedelta(days=31)}, "weather_interval: 31 days.* longer than"),
        ({"ingest_mode": "dataflow"}, "ingest_mode: 'dataflow' is not one of function"),
    ],
)
def test_an_impossible_scenario_names_the_field_and_value(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(finops.ScenarioError, match=message):
        scenario(**changes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("3h", timedelta(hours=3)),
        ("45s", timedelta(seconds=45)),
        ("1d", timedelta(days=1)),
        (" 10m ", timedelta(minutes=10)),
    ],
)
def test_intervals(text: str, expected: timedelta) -> None:
    assert finops.parse_interval(text) == expected
    assert finops.parse_interval(finops.format_interval(expected)) == expected


@pytest.mark.parametrize("text", ["0m", "10", "m", "-5m", "1.5h", "10 min", "", "9999999d"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValueError, match="is not a positive duration like 10m, 3h or 1d"):
        finops.parse_interval(text)


def _fake_measurements() -> finops.Measurements:
    """Round numbers: which prices the model uses does not depend on the sizes."""
    one = Decimal(100)
    columns = dict.fromkeys({*finops.SCORING_COLUMNS, *finops.LOCATION_QUERY_COLUMNS}, one)
    sample = finops.TableSample("t", 1, one, columns, one, 10, one, 10, one)
    return finops.Measurements(sample, sample, one, one, 1000)


def test_the_batches_the_model_assumes_are_the_ones_the_code_makes(
    simulated_rows: dict[str, list[dict[str, object]]],
) -> None:
    """The publisher sends up to 100 messages a request; a gateway one message an hour, which
    at a reading every 10 minutes is the CLI's default of 6 rows."""
    from edge.messages import hourly
    from livability.adapters.pubsub import PubSubPublisher

    default = inspect.signature(PubSubPublisher).parameters["batch_max_messages"].default
    assert default == finops.PUBLISH_BATCH
    home = [r for r in simulated_rows["sensor_thermo_beacon"] if r["data"]["home_id"] == 1]  # type: ignore[index]
    sizes = [len(json.loads(m.data)) for m in hourly("sensor_thermo_beacon", home, "d")]
    assert max(sizes) == 6
    assert sizes.count(6) > len(sizes) / 2  # dropouts make some hours shorter
