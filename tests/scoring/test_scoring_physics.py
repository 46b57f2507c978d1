"""The warehouse SQL's physics against pythermalcomfort, an independent implementation.

Runs the model's hourly SQL on the real embedded DuckDB for a hand-built week, then checks
saturation vapour pressure and surface RH (pythermalcomfort.utilities.p_sat), the running-mean
outdoor temperature (running_mean_outdoor_temperature, alpha 0.8) and the EN 16798-1 category
II limits (pythermalcomfort.models.adaptive_en) hour by hour.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from pythermalcomfort.environment import running_mean_outdoor_temperature
from pythermalcomfort.models import adaptive_en
from pythermalcomfort.psychrometrics import p_sat

from scoring import thresholds as th
from scoring.model import hourly_series
from tests.scoring.weeks import WEEK, steady, store, weather

# Daily outdoor means over the week before and the week scored: 2, 3, ..., 15 C.
OUTDOOR = [2.0 + (h // 24) for h in range(-168, 168)]


@pytest.fixture(scope="module")
def hours(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    rows = weather([0.0] * 168)
    for row, t in zip(rows, OUTDOOR, strict=True):
        row["data"]["temperature"] = t
    indoor = steady([17.0 + (h % 24) / 4 for h in range(168)], [55.0 + h % 20 for h in range(168)])
    warehouse = store(tmp_path_factory.mktemp("physics") / "w.duckdb", indoor, rows)
    try:
        return hourly_series(warehouse, WEEK, 1)
    finally:
        warehouse.close()


def test_surface_rh_matches_pythermalcomfort_psychrometrics(hours: pl.DataFrame) -> None:
    for row in hours.iter_rows(named=True):
        pv = row["rh_in"] / 100 * p_sat(row["t_in"])
        tsi = row["t_damped"] + th.DEFAULT_FRSI * (row["t_in"] - row["t_damped"])
        expected = min(100.0, 100 * pv / p_sat(tsi))
        # Magnus (WMO) and pythermalcomfort's ASHRAE formula agree within 0.2 %.
        assert row["rh_si"] == pytest.approx(expected, rel=2e-3)


def test_the_surface_sees_outdoor_swings_damped_over_24_hours(hours: pl.DataFrame) -> None:
    # An exponentially weighted mean with a 24 h time constant, from the week before on.
    weight, damped, total = math.exp(-1 / th.SURFACE_TIME_CONSTANT_H), 0.0, 0.0
    expected = []
    for t in OUTDOOR:
        damped, total = weight * damped + t, weight * total + 1
        expected.append(damped / total)
    for row in hours.filter(pl.col("mac") == 11).iter_rows(named=True):
        assert row["t_damped"] == pytest.approx(expected[168 + row["hour"]], abs=0.02)


def test_running_mean_matches_en_16798_1(hours: pl.DataFrame) -> None:
    for day in range(7):
        previous = [OUTDOOR[(day + 7 - k) * 24] for k in range(1, 8)]  # day-1 first
        expected = running_mean_outdoor_temperature(previous, alpha=0.8)
        found = hours.filter(pl.col("hour") // 24 == day)["trm"].unique().to_list()
        assert found == [pytest.approx(expected, abs=0.05)]


def test_adaptive_limits_match_pythermalcomfort(hours: pl.DataFrame) -> None:
    for trm in sorted(set(hours["trm"].to_list())):
        row = hours.filter(pl.col("trm") == trm).row(0, named=True)
        limits = adaptive_en(tdb=22, tr=22, t_running_mean=max(trm, 15.0), v=0.1)
        assert row["comfort_low"] == pytest.approx(limits.tmp_cmf_cat_ii_low, abs=0.06)
        upper = adaptive_en(tdb=22, tr=22, t_running_mean=max(trm, 10.0), v=0.1)
        assert row["comfort_high"] == pytest.approx(upper.tmp_cmf_cat_ii_up, abs=0.06)
        # TM52's theta_max is EN 16798-1's category II upper limit.
        assert row["theta_max"] == pytest.approx(upper.tmp_cmf_cat_ii_up, abs=0.06)
