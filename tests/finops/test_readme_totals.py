"""The monthly totals the README and docs/finops.md print are the ones `livability finops`
computes today: each scenario row's services and total, to the cent, from the model (the
measured row sizes, `livability/finops/prices.toml`). A change in what the platform runs (a
Scheduler job, a query) that moves a figure fails here until the tables follow.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from livability import finops
from livability.finops.units import cents
from tests.finops.support import scenario
from tests.support.paths import ROOT

SERVICES = ("BigQuery", "Pub/Sub", "Cloud Run functions", "Cloud Scheduler", "Cloud Storage")
# Each table row's label (its first cell starts so) and the scenarios of its `a / b` cells.
ROWS = {
    "README.md": {
        "1 M homes, event processor, hourly 6-row": [{}],
        "1 M homes, event processor, 100-row": [{"rows_per_message": 100}],
        "1 M homes, BigQuery subscription": [{"ingest_mode": "bigquery_subscription"}],
        "1,000 homes (10 weather points)": [
            {"homes": 1000, "locations": 10},
            {"homes": 1000, "locations": 10, "ingest_mode": "bigquery_subscription"},
        ],
    },
    "docs/finops.md": {
        "1,000,000 homes, function, 6 rows": [{}],
        "1,000,000 homes, function, 100 rows": [{"rows_per_message": 100}],
        "1,000,000 homes, BigQuery subscription": [{"ingest_mode": "bigquery_subscription"}],
        "1,000 homes, 10 locations, function": [{"homes": 1000, "locations": 10}],
        "1,000 homes, 10 locations, BigQuery subscription": [
            {"homes": 1000, "locations": 10, "ingest_mode": "bigquery_subscription"}
        ],
    },
}


def _dollars(cell: str) -> list[Decimal]:
    """`$1,462.31`, `**$0.47 / $0.33**`, `$0` -> amounts; a dash -> none."""
    return [Decimal(m.replace(",", "")) for m in re.findall(r"\$([\d,]+(?:\.\d+)?)", cell)]


def _row(document: str, label: str) -> list[str]:
    for line in (ROOT / document).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(label):
            return cells[1:]
    raise AssertionError(f"{document}: no table row starting {label!r}")


@pytest.mark.parametrize(
    ("document", "label"), [(d, label) for d, rows in ROWS.items() for label in rows]
)
def test_the_documented_totals_are_the_models(
    document: str, label: str, measured: finops.Measurements, book: finops.PriceBook
) -> None:
    estimates = [finops.estimate(scenario(**c), measured, book) for c in ROWS[document][label]]
    cells = _row(document, label)
    assert len(cells) == len(SERVICES) + 1, f"{document}: {label}: columns {cells}"
    for service, cell in zip((*SERVICES, "total"), cells, strict=True):
        wanted = [
            cents(e.total if service == "total" else e.by_service().get(service, Decimal(0)))
            for e in estimates
        ]
        shown = _dollars(cell)
        # A cell shows one amount when every scenario of the row has it (`$0`, `$0.20`).
        assert shown in (wanted, wanted[:1] * (len(set(wanted)) == 1)), (
            f"{document}: {label}: {service} shows {cell}, the model gives {wanted}"
        )
