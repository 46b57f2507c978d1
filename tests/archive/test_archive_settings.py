"""`LIVABILITY_ARCHIVE`: where the archive lives, parsed like the other URLs; and what the
archive function loads (no DuckDB, no polars in a function bundle).

Runs `Settings.from_env` on explicit environments and a fresh Python interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from livability.settings import BucketURL, Settings, SettingsError
from tests.support.paths import ROOT


def test_the_archive_defaults_to_a_folder_under_home_and_takes_gs_urls() -> None:
    home = Settings.from_env({"LIVABILITY_HOME": "/data/x"})
    assert home.archive_url == BucketURL("file", path=Path("/data/x/archive"))
    cloud = Settings.from_env({"LIVABILITY_ARCHIVE": "gs://my-archive/raw"})
    assert cloud.archive_url == BucketURL("gs", bucket="my-archive", prefix="raw")
    assert str(cloud.archive_url) == "gs://my-archive/raw"
    assert cloud.bucket_url != cloud.archive_url  # the data bucket is another setting


@pytest.mark.parametrize("value", ["s3://b", "gs://UPPER", "file://", "gs://b//x"])
def test_a_malformed_archive_url_is_one_error_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^LIVABILITY_ARCHIVE: "):
        Settings.from_env({"LIVABILITY_ARCHIVE": value})


def test_the_archive_function_loads_neither_duckdb_nor_polars() -> None:
    code = (
        "import sys, functions.weekly_archive as f, livability.archive.writer;"
        "print(sorted(m for m in ('duckdb', 'polars') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
