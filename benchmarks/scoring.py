"""Model 3 in the warehouse vs model 2 (the named baseline) on the same rows in the same run.

SUITE: scoring — 1k, 10k and 100k simulated homes x 1 week at one reading per 5 minutes.

The baseline is model 2 as main last held it: `benchmarks/model2_baseline.py` loads its
`scoring/` modules from commit `MODEL_2_COMMIT` with `git show`. Model 3 must not be slower
than model 2 by more than 20 %: the table's "3 / 2" column. A plain scan is also timed.

The rows are generated inside DuckDB with SQL (no Python rows) into a DuckDB file in a temp
folder, with the contract's columns and `_dedup` views (no primary-key index: building one
over 200M keys is a load cost, not a scoring one). Each case runs in its own subprocess with
DuckDB at 2 threads and a 3 GB memory limit; wall time and peak memory (VmHWM) are read
there. The baseline, measured in the same run on the same file: `SELECT home_id, count(*),
avg(temperature), avg(humidity) ... GROUP BY home_id` over the same week's rows.
`LIVABILITY_BENCH_HOMES=1000,10000` picks the sizes (default: all three). Every home is in
Great Britain (one time-zone class, as a deployment in one country); `LIVABILITY_BENCH_ZONES=2`
puts a quarter of them in France (two classes: the readings join their homes' classes).
The machine is shared, so scan and model run alternately three times up to 10k homes and the
fastest of each is reported (`LIVABILITY_BENCH_REPEAT=N` to change; 100k runs once); "of which
SQL" is the warehouse query's part of the model's time, the rest is polars. Also prints the
bytes a BigQuery run would scan per week for 1M homes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

WEEK = date(2025, 1, 6)
READINGS_PER_WEEK = 7 * 24 * 12  # one per 5 minutes
SITES = 100
THREADS = 2
MEMORY_LIMIT = "3GB"
LARGE = 10_000  # above it, one run per case unless LIVABILITY_BENCH_REPEAT says otherwise

GENERATE = """
CREATE SCHEMA IF NOT EXISTS sensor_data;
CREATE TABLE sensor_data.sensor_thermo_beacon AS
SELECT
  CAST(ts AS DATE) AS day,
  ts AS "timestamp",
  {{'mac': h + 100000, 'home_id': h + 1,
    'temperature': round(14 + (h % 11) + 2.5 * sin(i / 288.0 * 6.2832) + (i % 7) * 0.05, 2),
    'humidity': round(40 + (h % 37) + 8 * cos(i / 288.0 * 6.2832), 2),
    'location': 'POINT(' || (-3 + (h % {sites}) * 0.07 + {abroad_home} * 5) || ' '
      || (50 + (h % {sites}) * 0.05 - {abroad_home} * 3) || ')'
  }} AS data,
  h + 1 AS home_id,
  CAST(NULL AS BIGINT) AS battery,
  ['bedroom', 'living', 'kitchen', 'bathroom', 'other', NULL][h % 6 + 1] AS room,
  CAST(NULL AS VARCHAR) AS row_id
FROM range({homes}) AS r(h), range({readings}) AS s(i),
  LATERAL (SELECT TIMESTAMP '{week}' + to_microseconds(i * 300000000 + h % 60 * 1000000) AS ts);
CREATE TABLE sensor_data.weather_data AS
SELECT
  CAST(ts AS DATE) AS day, ts AS "timestamp",
  {{'temperature': 5 + 4 * sin(i / 144.0 * 6.2832) + w % 5, 'humidity': 80.0,
    'pressure': 1013.0, 'wind_direction': 0.0, 'wind_speed': 3.0,
    'sunrise': CAST(NULL AS TIMESTAMP), 'sunset': CAST(NULL AS TIMESTAMP), 'clouds': 50.0,
    'description': 'clouds',
    'location': 'POINT(' || (-3 + w * 0.07 + {abroad_site} * 5) || ' '
      || (50 + w * 0.05 - {abroad_site} * 3) || ')'}} AS data,
  CAST(NULL AS VARCHAR) AS row_id, CAST(NULL AS TIMESTAMP) AS observed_at
FROM range({sites}) AS r(w), range(2 * 7 * 144) AS s(i),
  LATERAL (SELECT TIMESTAMP '{week}' - INTERVAL 7 DAY + to_microseconds(i * 600000000) AS ts);
CREATE VIEW sensor_data.sensor_thermo_beacon_dedup AS
  SELECT * FROM sensor_data.sensor_thermo_beacon;
CREATE VIEW sensor_data.weather_data_dedup AS SELECT * FROM sensor_data.weather_data;
"""

SCAN = """
SELECT data.home_id AS home_id, count(*) AS n, avg(data.temperature) AS t,
       avg(data.humidity) AS rh
FROM sensor_data.sensor_thermo_beacon_dedup
WHERE day BETWEEN $first_day AND $last_day AND "timestamp" >= $start AND "timestamp" < $utc_end
GROUP BY data.home_id
"""
SCAN_PARAMS = ("first_day", "last_day", "start", "utc_end")


class _Warehouse:
    """Just what the model needs of the port: `dataset`, `dialect`, `query`."""

    dataset = "sensor_data"
    dialect = "duckdb"

    def __init__(self, con: Any) -> None:
        self.con = con

    def query(self, sql: str, params: Any = None) -> Any:
        from datetime import UTC, datetime

        values = {
            k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
            for k, v in (params or {}).items()
        }
        return self.con.sql(sql.replace("@", "$"), params=values).to_arrow_table()


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _case(path: str, kind: str) -> None:
    """Runs in a subprocess: one case, prints JSON."""
    import duckdb

    from benchmarks import model2_baseline
    from scoring import model

    con = duckdb.connect(path, read_only=True)
    con.execute(f"SET threads = {THREADS}; SET memory_limit = '{MEMORY_LIMIT}'")
    began = time.perf_counter()
    in_warehouse = 0.0
    if kind == "scan":
        params = {k: v for k, v in model.week_params(WEEK).items() if k in SCAN_PARAMS}
        rows = _Warehouse(con).query(SCAN, params).num_rows
    elif kind == "model3":
        # score_week, in its two steps: the warehouse's SQL (with the zone plan's query),
        # then polars per home.
        daily, plan = model.daily_aggregates(_Warehouse(con), WEEK)
        in_warehouse = time.perf_counter() - began
        rows = model.vectors(daily.lazy(), WEEK, plan).height
    else:
        baseline = model2_baseline.load()
        frame = baseline.daily_aggregates(_Warehouse(con), WEEK)
        in_warehouse = time.perf_counter() - began
        rows = baseline.vectors(frame.lazy(), WEEK).height
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {"seconds": seconds, "sql_s": in_warehouse, "peak_mb": _peak_mb(), "homes": rows}
        )
    )


def _run(path: Path, kind: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.scoring", "--case", str(path), kind],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _repeats(homes: int) -> int:
    default = 1 if homes > LARGE else 3
    return int(os.environ.get("LIVABILITY_BENCH_REPEAT", default))


def _best_of(path: Path, repeats: int) -> dict[str, dict[str, Any]]:
    """Scan, model 2 and model 3 in turn, `repeats` times each (the machine is shared): the
    fastest run of each, and the highest peak memory of any run."""
    runs: dict[str, list[dict[str, Any]]] = {"scan": [], "model2": [], "model3": []}
    for _ in range(repeats):
        for kind, results in runs.items():
            results.append(_run(path, kind))
    best = {}
    for kind, results in runs.items():
        fastest = dict(min(results, key=lambda r: float(r["seconds"])))
        fastest["peak_mb"] = max(float(r["peak_mb"]) for r in results)
        best[kind] = fastest
    return best


def _generate(path: Path, homes: int, zones: int = 1) -> float:
    """With `zones` 2, every 4th site (and its homes) moves 5 degrees east and 3 south, into
    France: Europe/Paris, a second time-zone class; with 1, every home is in Great Britain."""
    import duckdb

    began = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute(f"SET threads = {THREADS}; SET memory_limit = '{MEMORY_LIMIT}'")
    abroad = zones == 2
    con.execute(
        GENERATE.format(
            homes=homes,
            readings=READINGS_PER_WEEK,
            sites=SITES,
            week=WEEK.isoformat(),
            abroad_home=f"CAST(h % {SITES} % 4 = 0 AS INT)" if abroad else "0",
            abroad_site="CAST(w % 4 = 0 AS INT)" if abroad else "0",
        )
    )
    con.close()
    return time.perf_counter() - began


def bigquery_bytes(homes: int = 1_000_000) -> dict[str, float]:
    """Bytes a week's scoring query bills on BigQuery (its logical sizes: 8 bytes per
    INT64/FLOAT64/DATE/TIMESTAMP, 2 + length per STRING, 16 + 24 per point GEOGRAPHY)."""
    readings = homes * READINGS_PER_WEEK
    needed = 8 * 6 + 40  # day, timestamp, mac, home_id, temperature, humidity, location
    row_id = 2 + 64
    all_columns = needed + 8 + 8 + row_id  # + top-level home_id, battery
    return {
        "needed columns, no de-duplication": readings * needed,
        "needed columns + row_id (a view keyed on row_id only)": readings * (needed + row_id),
        "every column (the current _dedup view hashes TO_JSON_STRING(t))": readings * all_columns,
    }


def main() -> None:
    sizes = [
        int(n) for n in os.environ.get("LIVABILITY_BENCH_HOMES", "1000,10000,100000").split(",")
    ]
    zones = int(os.environ.get("LIVABILITY_BENCH_ZONES", "1"))
    if zones not in (1, 2):
        raise SystemExit(f"LIVABILITY_BENCH_ZONES={zones}: 1 or 2")
    console = Console(width=120)
    table = Table(
        title="Model 3 vs model 2 (baseline, same rows, same run) on DuckDB, 2 threads, "
        f"{zones} time-zone class(es)"
    )
    columns = (
        "homes",
        "readings",
        "model 3 s (SQL)",
        "model 2 s (SQL)",
        "3 / 2",
        "scan s",
        "model 3 MB",
        "model 2 MB",
    )
    for column in columns:
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="livability-bench-") as folder:
        for homes in sizes:
            path = Path(folder) / f"homes-{homes}.duckdb"
            console.print(f"generating {homes:,} homes x {READINGS_PER_WEEK} readings ...")
            _generate(path, homes, zones)
            best = _best_of(path, _repeats(homes))
            new, old, scan = best["model3"], best["model2"], best["scan"]
            table.add_row(
                f"{homes:,}",
                f"{homes * READINGS_PER_WEEK:,}",
                f"{new['seconds']:.2f} ({new['sql_s']:.2f})",
                f"{old['seconds']:.2f} ({old['sql_s']:.2f})",
                f"{new['seconds'] / old['seconds']:.2f}x",
                f"{scan['seconds']:.2f}",
                f"{new['peak_mb']:,.0f}",
                f"{old['peak_mb']:,.0f}",
            )
            path.unlink()
    console.print(table)
    bytes_table = Table(title="BigQuery bytes scanned per week, 1M homes, one reading per 5 min")
    bytes_table.add_column("reading")
    bytes_table.add_column("GB", justify="right")
    for what, size in bigquery_bytes().items():
        bytes_table.add_row(what, f"{size / 1e9:,.0f}")
    console.print(bytes_table)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        _case(sys.argv[2], sys.argv[3])
    else:
        main()
