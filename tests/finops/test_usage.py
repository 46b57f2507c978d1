"""What this project's configuration uses and costs in a month: properties of the model
(hypothesis) and what each ingest mode bills.

Runs against the real price file and measurements of simulated rows validated by the
contract. No cloud: arithmetic on usage.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livability import finops
from livability.finops.profile import DEFAULT_PROFILE
from livability.gcp import INGEST_MODES
from tests.finops.support import scenario

HOMES = st.integers(min_value=1, max_value=10_000_000)
BATCH = st.integers(min_value=1, max_value=500)
MODE = st.sampled_from(INGEST_MODES)


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


def test_five_scheduler_jobs_two_beyond_the_free_tier(
    measured: finops.Measurements, book: finops.PriceBook
) -> None:
    """Three jobs a billing account are free; the fleet check and the daily rollup are not."""
    [jobs] = [x for x in finops.estimate(scenario(), measured, book).lines if x.unit == "job-month"]
    assert (jobs.quantity, jobs.cost) == (Decimal(5), Decimal("0.20"))


def test_the_rollup_reads_less_than_raw_and_raw_less_than_the_former_views(
    measured: finops.Measurements, book: finops.PriceBook
) -> None:
    def scanned(reads: str, writes: int = 1, item: str = "") -> Decimal:
        profile = finops.Profile(scoring_reads=reads, rollup_writes_per_day=writes)  # type: ignore[arg-type]
        items = (item,) if item else ("queries: weekly scoring", "queries: daily rollup")
        return sum(
            (
                x.quantity
                for x in finops.estimate(scenario(), measured, book, profile).lines
                if x.item in items
            ),
            Decimal(0),
        )

    rollup, raw, views = scanned("rollup"), scanned("raw"), scanned("views")
    # Raw reads the week's locations twice (the zone plan, then the model); the rollup reads
    # each reading once and the locations of the rollup's located rows.
    assert Decimal(0) < rollup < raw < views
    # As deployed, the daily job reads each day once. Writing each day again the next day
    # (for late rows) would double its reads of the readings, and the rollup's way would then
    # read more than raw: why it does not (scoring/daily.py, docs/finops.md).
    daily = "queries: daily rollup"
    assert DEFAULT_PROFILE.rollup_writes_per_day == finops.ROLLUP_WRITES_PER_DAY == 1
    assert scanned("rollup", 2, daily) == 2 * scanned("rollup", 1, daily)
    assert raw < scanned("rollup", 2)


def test_the_hourly_fleet_check_reads_what_its_sql_reads_every_hour(
    measured: finops.Measurements, book: finops.PriceBook
) -> None:
    """7 days of the columns the fleet query names, 720 checks a month, plus the dead letters'
    10 MB minimum; twice the homes, about twice the bytes."""
    from livability.finops.profile import FLEET_COLUMNS, FLEET_DAYS, QUERY_TABLE_MIN
    from livability.fleet import sql
    from livability.fleet.check import WINDOW_DAYS

    assert FLEET_DAYS == WINDOW_DAYS
    readings = sql.sensors_query("sensor_data", "bigquery").split("batteries AS")[0]
    named = {c for c in ("day", "timestamp", "home_id", "mac", "battery") if c in readings}
    assert {c.split(".")[-1] for c in FLEET_COLUMNS} == named
    for unread in ("temperature", "humidity", "location", "room", "row_id"):
        assert unread not in readings

    def fleet_bytes(homes: int) -> Decimal:
        lines = finops.estimate(scenario(homes=homes), measured, book).lines
        [line] = [x for x in lines if x.item == "queries: hourly fleet check"]
        return line.quantity

    one, two = fleet_bytes(1_000_000), fleet_bytes(2_000_000)
    tib = Decimal(2**40)
    per_check = one * tib / 720 - QUERY_TABLE_MIN  # the line is in TiB
    expected = Decimal(1_000_000 * 144 * 7) * measured.sensor.columns(FLEET_COLUMNS)
    assert per_check == expected
    assert 1.99 < two / one < 2.0


def test_a_week_of_scoring_from_the_rollup(measured: finops.Measurements) -> None:
    """1M homes, a reading every 10 minutes: the rollup's 7 days read the needed columns of
    each reading once; the weekly job reads its rollup rows, about 10 % of that."""
    weather_day = Decimal(1000) * 144 * measured.weather.logical_bytes
    scan = finops.week_scan(1_000_000, Decimal(144), measured.sensor, weather_day)
    needed = 7 * 1_000_000 * 144 * measured.sensor.columns(finops.SCORING_COLUMNS)
    assert abs(scan.readings - needed) < 1
    assert Decimal("0.05") < scan.rollup / needed < Decimal("0.2")
    raw = finops.week_scan(1_000_000, Decimal(144), measured.sensor, weather_day, "raw")
    plan = 7 * 1_000_000 * 144 * measured.sensor.columns(("day", "timestamp", "data.location"))
    assert abs(raw.readings - needed - plan) < 1
    assert raw.rollup == 0
    report = finops.one_home_report(measured.sensor, weather_day)
    assert report < needed / 100
    with pytest.raises(ValueError, match="reads: 'all' is not one of"):
        finops.week_scan(1, Decimal(1), measured.sensor, weather_day, "all")  # type: ignore[arg-type]
