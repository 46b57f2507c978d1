"""`livability weather poll` as a user runs it: the console script, real HTTP, DuckDB.

Runs the installed `livability` command in a subprocess against pytest-httpserver serving
real OpenWeatherMap bodies, with the key in `OPENWEATHER_API_KEY` and the embedded default
(no LIVABILITY_TOPIC): rows go through the event processor's ingest path into DuckDB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
from pytest_httpserver import HTTPServer

from tests.weather.owm_bodies import KEY, LUTON, NOT_FOUND, UNAUTHORIZED

LIVABILITY = Path(sys.executable).parent / "livability"
PATH = "/data/2.5/weather"
LUTON_QUERY = {"lat": "51.9", "lon": "-0.4", "units": "metric", "appid": KEY}


def poll(home: Path, *args: str, key: str = KEY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LIVABILITY), "weather", "poll", *args],
        env={"LIVABILITY_HOME": str(home), "PATH": "/usr/bin:/bin", "OPENWEATHER_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored(home: Path) -> list[tuple[str, float, str]]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(
            "SELECT CAST(observed_at AS VARCHAR), data.temperature, data.location "
            "FROM sensor_data.weather_data"
        ).fetchall()


def test_a_poll_stores_the_observation_and_a_second_skips_it(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(PATH, query_string=LUTON_QUERY).respond_with_json(LUTON)
    args = ("--base-url", httpserver.url_for("/"), "--locations", "51.9,-0.4", "--json")

    first = poll(tmp_path, *args)
    second = poll(tmp_path, *args)

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["published"] == 1
    assert json.loads(second.stdout)["skipped"] == 1
    assert stored(tmp_path) == [("2024-12-01 11:10:00", 11.5, "POINT(-0.4 51.9)")]


def test_the_table_shows_each_location_and_its_reason(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(PATH, query_string=LUTON_QUERY).respond_with_json(LUTON)
    httpserver.expect_request(
        PATH, query_string={"lat": "0.0", "lon": "0.0", "units": "metric", "appid": KEY}
    ).respond_with_json(NOT_FOUND, status=404)

    result = poll(tmp_path, "--base-url", httpserver.url_for("/"), "--locations", "51.9,-0.4;0,0")

    assert result.returncode == 0, result.stderr
    assert "published" in result.stdout
    assert "city not found" in result.stdout
    assert "2 location(s): 1 published, 0 already sent, 1 failed" in result.stdout


def test_a_rejected_key_is_a_one_line_error_without_the_key(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(PATH).respond_with_json(UNAUTHORIZED, status=401)

    result = poll(tmp_path, "--base-url", httpserver.url_for("/"), "--locations", "51.9,-0.4")

    assert result.returncode == 1
    *logged, line = result.stderr.strip().splitlines()
    assert line.startswith("livability: error: OpenWeatherMap rejected the API key (401)")
    assert [json.loads(entry)["severity"] for entry in logged] == ["ERROR"]  # the JSON log
    assert KEY not in result.stdout + result.stderr


def test_bad_options_name_the_option(tmp_path: Path) -> None:
    result = poll(tmp_path, "--base-url", "gopher://x", "--locations", "51.9,-0.4")

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "livability: error: --base-url: 'gopher://x' is not http(s)://HOST[:PORT]"
    )
