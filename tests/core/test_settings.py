"""Configuration as URLs, read once at an entry point; adapters imported only when chosen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from livability.settings import (
    BucketURL,
    Emulators,
    Settings,
    SettingsError,
    WarehouseURL,
    open_warehouse,
)
from tests.support.paths import ROOT


def test_defaults_are_the_embedded_warehouse_and_bucket_under_the_home() -> None:
    settings = Settings.from_env({"LIVABILITY_HOME": "/data/liv"})
    assert settings.warehouse_url == WarehouseURL(
        "duckdb", "sensor_data", path=Path("/data/liv/warehouse.duckdb")
    )
    assert settings.bucket_url == BucketURL("file", path=Path("/data/liv/bucket"))
    assert settings.topic is None
    assert settings.emulators == Emulators()
    assert settings.embedded


def test_cloud_urls_and_emulators_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "LIVABILITY_WAREHOUSE": "bigquery://livability-prod/sensor_data",
            "LIVABILITY_BUCKET": "gs://livability-archive/weekly/",
            "LIVABILITY_TOPIC": "projects/livability-prod/topics/sensor_data",
            "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9050",
            "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9023",
            "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085",
            "LIVABILITY_ROWS_PER_MESSAGE": "100",
        }
    )
    assert settings.rows_per_message == 100
    assert Settings.from_env({}).rows_per_message == 1
    assert settings.warehouse_url == WarehouseURL(
        "bigquery", "sensor_data", project="livability-prod"
    )
    assert settings.bucket_url == BucketURL("gs", bucket="livability-archive", prefix="weekly")
    assert settings.topic == "projects/livability-prod/topics/sensor_data"
    assert settings.emulators == Emulators(
        "http://127.0.0.1:9050", "http://127.0.0.1:9023", "127.0.0.1:8085"
    )
    assert not settings.embedded
    assert str(settings.warehouse_url) == "bigquery://livability-prod/sensor_data"
    assert str(settings.bucket_url) == "gs://livability-archive/weekly"


def test_duckdb_urls_take_absolute_and_relative_paths() -> None:
    absolute = Settings.from_env({"LIVABILITY_WAREHOUSE": "duckdb:///srv/w.duckdb"})
    relative = Settings.from_env({"LIVABILITY_WAREHOUSE": "duckdb://state/w.duckdb"})
    assert absolute.warehouse_path == Path("/srv/w.duckdb")
    assert relative.warehouse_path == Path("state/w.duckdb")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LIVABILITY_WAREHOUSE", "postgres://x/y"),
        ("LIVABILITY_WAREHOUSE", "bigquery://Bad_Project/ds"),
        ("LIVABILITY_WAREHOUSE", "bigquery://livability-prod"),
        ("LIVABILITY_WAREHOUSE", "bigquery://livability-prod/bad-dataset"),
        ("LIVABILITY_WAREHOUSE", "bigquery://livability-prod/ds/extra"),
        ("LIVABILITY_WAREHOUSE", "duckdb://"),
        ("LIVABILITY_BUCKET", "s3://bucket"),
        ("LIVABILITY_BUCKET", "gs://UPPER"),
        ("LIVABILITY_BUCKET", "gs://"),
        ("LIVABILITY_TOPIC", "sensor_data"),
        ("LIVABILITY_TOPIC", "projects/p/topics/t"),
        ("LIVABILITY_DATASET", "sensor-data"),
        ("LIVABILITY_ROWS_PER_MESSAGE", "0"),
        ("LIVABILITY_ROWS_PER_MESSAGE", "1001"),
        ("LIVABILITY_ROWS_PER_MESSAGE", "ten"),
        ("LIVABILITY_ROWS_PER_MESSAGE", "-5"),
        ("LIVABILITY_DUCKDB_MEMORY_MB", "100"),
        ("LIVABILITY_DUCKDB_MEMORY_MB", "1GB"),
        ("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9050/path?x"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}: ")
    assert repr(value) in message
    assert "\n" not in message


def test_the_embedded_warehouse_holds_to_its_memory_limit(tmp_path: Path) -> None:
    """DuckDB's memory limit is the setting's (its default when unset), on every connection."""
    for environ, mib in (({}, 768), ({"LIVABILITY_DUCKDB_MEMORY_MB": "300"}, 300)):
        settings = Settings.from_env({"LIVABILITY_HOME": str(tmp_path), **environ})
        warehouse = open_warehouse(settings, init=False)
        try:
            shown = warehouse.query("SELECT current_setting('memory_limit') AS m")["m"][0]
        finally:
            warehouse.close()
        # DuckDB shows the limit in MiB of 2**20 bytes, to a tenth.
        number, unit = shown.as_py().split()
        assert unit == "MiB"
        assert float(number) == pytest.approx(mib * 10**6 / 2**20, abs=0.1)


def test_a_malformed_url_is_a_cli_error_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "livability.cli.app", "score", "--week", "2024-12-02"],
        env={"LIVABILITY_WAREHOUSE": "bigquery://nope", "PATH": ""},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("livability: error: LIVABILITY_WAREHOUSE: 'bigquery://nope'")
    assert result.stderr.count("\n") == 1


def test_the_event_processor_with_bigquery_loads_no_duckdb() -> None:
    """A function bundle has no DuckDB: importing the processor and opening a BigQuery
    warehouse (no request is made) must not import it."""
    probe = (
        "import sys\n"
        "import functions.main\n"
        "from livability.settings import Settings, open_warehouse\n"
        "settings = Settings.from_env({'LIVABILITY_WAREHOUSE': 'bigquery://test-proj/ds',"
        " 'BIGQUERY_EMULATOR_HOST': 'http://127.0.0.1:9'})\n"
        "open_warehouse(settings)\n"
        "heavy = ('duckdb', 'polars', 'rich')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
