"""The model's ties to the code it describes: the columns and days its queries scan, and the
batches the publisher and the gateways make.

Runs against the modules whose behaviour the model prices (the BigQuery adapter's `_dedup`
views, the scoring job's query, the weather poller's location query, the publisher, the
gateway's hourly messages).
"""

from __future__ import annotations

import inspect
import json
from datetime import timedelta
from pathlib import Path

from livability import finops
from livability.finops.profile import DEFAULT_PROFILE, SCHEDULER_JOBS
from schemas import registry


def test_the_dedup_views_read_only_their_key_and_the_selected_columns() -> None:
    """The model prices main's former scoring (`views`) at VIEW_COLUMNS because the views
    partition and order by named columns, not the whole row."""
    from schemas.views import dedup_view_sql

    table = registry()["sensor_thermo_beacon"]
    view = dedup_view_sql(table, "p.d.sensor_thermo_beacon")
    window = view.split("OVER (", 1)[1]
    assert "TO_JSON_STRING" not in view
    named = {c for c in ("day", "home_id", "row_id", *table.identity_excludes) if c in window}
    assert named == {"day", "home_id", "row_id", "battery", "room"}, window
    assert named - {"home_id"} <= set(finops.VIEW_COLUMNS)  # home_id: data.home_id's copy
    assert "TO_JSON_STRING" not in inspect.getsource(dedup_view_sql)


def test_the_columns_and_days_the_model_scans_are_the_ones_the_code_queries() -> None:
    """The daily rollup reads SCORING_COLUMNS of the readings and no other (no row id, no
    battery); the weekly query reads the days and weather the model counts."""
    from datetime import date

    from livability.weather import locations as weather
    from scoring import rollup
    from scoring.model import week_params

    table = registry()["sensor_thermo_beacon"]
    leaves = {path for path, _ in table.leaves()}
    insert = rollup.insert_sql("d", "bigquery")
    assert set(finops.SCORING_COLUMNS) <= leaves
    for path in finops.SCORING_COLUMNS:
        assert path in insert, path
    for path in leaves - set(finops.SCORING_COLUMNS) - {"home_id"}:
        assert path not in insert.replace("data.home_id", ""), path
    params = week_params(date(2024, 12, 2))
    days = params["last_day"] - params["weather_first_day"]  # type: ignore[operator]
    assert days == timedelta(days=finops.SCORING_WEATHER_DAYS - 1)
    location_sql = weather._location_sql("bigquery", "d")
    assert set(finops.LOCATION_QUERY_COLUMNS) <= leaves
    for path in finops.LOCATION_QUERY_COLUMNS:
        assert path in location_sql, path


def test_the_days_the_weekly_job_checks_are_the_ones_it_rolls_up(tmp_path: Path) -> None:
    from datetime import date

    from livability.adapters.duckdb_warehouse import DuckDBWarehouse
    from scoring import job

    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", registry(), "d")
    try:
        warehouse.init(registry())
        written = job.roll_up(warehouse, date(2024, 12, 2))
    finally:
        warehouse.close()
    assert len(written) == finops.ROLLUP_DAYS_CHECKED


def test_the_daily_rollup_the_model_counts_is_the_one_the_code_runs(tmp_path: Path) -> None:
    """Each run writes `ROLLUP_WRITES_PER_DAY` days (so a day is read that often), on an
    empty rollup too (no look for missing days: the weekly job's); the deployment's Scheduler
    jobs and functions are the ones priced."""
    from datetime import date

    from infra.entrypoints import FUNCTIONS
    from livability.adapters.duckdb_warehouse import DuckDBWarehouse
    from scoring import daily

    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb", registry(), "d")
    try:
        warehouse.init(registry())
        done = daily.run(warehouse, date(2024, 12, 12))
    finally:
        warehouse.close()
    assert done.days == [date(2024, 12, 11)]
    assert len(done.days) == finops.ROLLUP_WRITES_PER_DAY
    assert len(SCHEDULER_JOBS) == sum(1 for spec in FUNCTIONS if spec.schedule)
    assert DEFAULT_PROFILE.functions_deployed == len(FUNCTIONS)


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
