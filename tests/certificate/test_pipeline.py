"""Certificates from a scored warehouse: the CLI, the weekly function, the bucket.

Everything real: simulated homes scored by the model on the embedded DuckDB (conftest),
`livability certificate` run through its `main`, the weekly function through
functions-framework's WSGI app with a file:// bucket (LocalBucket).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import functions_framework
import pytest

from livability.adapters.local_bucket import LocalBucket
from livability.certificate import publish
from livability.cli.app import main
from livability.settings import shared_warehouse
from tests.certificate.conftest import WEEKS, Portfolio
from tests.support.paths import ROOT

LAST = WEEKS[-1]


@pytest.fixture
def env(portfolio: Portfolio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The portfolio's warehouse, copied so that nothing a test does reaches another."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(portfolio.path, copy)
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LIVABILITY_WAREHOUSE", f"duckdb://{copy}")
    monkeypatch.setenv("LIVABILITY_BUCKET", f"file://{tmp_path / 'bucket'}")
    monkeypatch.delenv("LIVABILITY_DATASET", raising=False)
    shared_warehouse.cache_clear()
    return tmp_path


def private_forms(portfolio: Portfolio) -> list[str]:
    """What must never appear on a page: each sensor's MAC and each site's coordinates."""
    forms = []
    for home in portfolio.homes:
        forms += [str(home.mac), f"{home.mac:012x}", ":".join(re.findall("..", f"{home.mac:012x}"))]
        for value in (home.site.latitude, home.site.longitude):
            forms += [f"{value:.2f}", f"{value:.3f}", repr(value)]
    return forms


def test_cli_writes_every_home_and_the_portfolio(
    env: Path, portfolio: Portfolio, capsys: pytest.CaptureFixture[str]
) -> None:
    out = env / "pages"
    assert main(["certificate", "--week", LAST.isoformat(), "--out", str(out)]) == 0
    folder = out / LAST.isoformat()
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*(f"{h.home_id}.html" for h in portfolio.homes), "index.html"])
    assert f"portfolio: {folder / 'index.html'}" in capsys.readouterr().out.replace("\n", "")
    index = (folder / "index.html").read_text()
    assert re.findall(r'<a href="(\d+)\.html">', index).__len__() == len(portfolio.homes)
    forbidden = private_forms(portfolio)
    for path in folder.iterdir():
        page = path.read_text().lower()
        leaked = [form for form in forbidden if form.lower() in page]
        assert leaked == [], f"{path.name} shows {leaked}"
    first = (folder / f"{portfolio.homes[0].home_id}.html").read_text()
    # Two weeks scored: the trend has both, and no certificate grade yet (it needs 8).
    assert "Trend, last 2 week(s)" in first
    assert "No certificate grade yet" in first
    zone = re.search(r"Area \(time zone\)</th><td>([^<]+)</td>", first)
    assert zone is not None
    assert re.fullmatch(r"[A-Za-z_]+/[A-Za-z_]+", zone.group(1))


def test_same_warehouse_gives_byte_identical_pages(env: Path) -> None:
    for name in ("a", "b"):
        assert main(["certificate", "--week", LAST.isoformat(), "--out", str(env / name)]) == 0
    a, b = env / "a" / LAST.isoformat(), env / "b" / LAST.isoformat()
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for path in a.iterdir():
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name


def test_one_home_and_a_home_without_a_vector(
    env: Path, portfolio: Portfolio, capsys: pytest.CaptureFixture[str]
) -> None:
    home = portfolio.homes[2].home_id
    argv = ["certificate", "--week", LAST.isoformat(), "--out", str(env / "one")]
    assert main([*argv, "--home", str(home)]) == 0
    assert sorted(p.name for p in (env / "one" / LAST.isoformat()).iterdir()) == [
        f"{home}.html",
        "index.html",
    ]
    assert main([*argv, "--home", "999"]) == 1
    assert f"home: 999 has no vector in the week of {LAST}" in capsys.readouterr().err


def test_share_needs_a_cloud_bucket(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["certificate", "--week", LAST.isoformat(), "--share"]
    assert main(argv) == 1
    assert "--share: name the certificate to share with --home ID" in capsys.readouterr().err
    assert main([*argv, "--home", "1"]) == 1
    assert "needs a gs://BUCKET" in capsys.readouterr().err


def test_weekly_function_writes_certificates_to_the_bucket(env: Path, portfolio: Portfolio) -> None:
    app = functions_framework.create_app(
        target="weekly_score",
        source=str(ROOT / "functions" / "weekly_score.py"),
        signature_type="http",
    )
    response = app.test_client().post("/", json={"week": LAST.isoformat()})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    folder = env / "bucket" / publish.PREFIX / LAST.isoformat()
    assert body["certificates"] == (folder / "index.html").resolve().as_uri()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"{h.home_id}.html" for h in portfolio.homes), "index.html"]
    )


def test_the_bucket_gets_the_same_pages_a_chunk_of_homes_at_a_time(
    env: Path, portfolio: Portfolio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "CHUNK_HOMES", 3)  # 7 homes: chunks of 3, 3 and 1
    warehouse = portfolio.warehouse()
    try:
        in_memory = publish.week_pages(warehouse, LAST)
        uri = publish.publish_week(warehouse, LocalBucket(env / "chunked"), LAST)
    finally:
        warehouse.close()
    folder = env / "chunked" / publish.PREFIX / LAST.isoformat()
    assert uri == (folder / publish.INDEX).resolve().as_uri()
    written = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert written == dict(in_memory.files)


def test_the_weekly_run_checks_the_fleet_for_its_portfolio_page(portfolio: Portfolio) -> None:
    """The scheduled run (no week asked for) passes the fleet as it is now to the portfolio
    page; a check that fails leaves the page without it (a warning), never the run."""
    from datetime import UTC, datetime, time, timedelta

    from functions import weekly_score
    from livability.ports import BackendError

    end = datetime.combine(LAST + timedelta(days=7), time(), UTC)
    warehouse = portfolio.warehouse()
    try:
        state = weekly_score._fleet_state(warehouse, end)
        # Three days on, every gateway has been silent since the data ended.
        later = weekly_score._fleet_state(warehouse, end + timedelta(days=3))
    finally:
        warehouse.close()
    homes = len(portfolio.homes)
    assert state is not None
    assert state.summary.startswith(f"{homes} home(s); silent gateways (> 3 h): 0")
    assert later is not None
    assert f"silent gateways (> 3 h): {homes}" in later.summary
    assert len(later.problems) == homes
    assert all(p.startswith("gateway silent since") for p in later.problems.values())

    class Down:
        dialect, dataset = "duckdb", "sensor_data"

        def query(self, *_: object, **__: object) -> None:
            raise BackendError("warehouse unavailable")

    assert weekly_score._fleet_state(Down(), end) is None  # type: ignore[arg-type]
