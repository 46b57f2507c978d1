"""The price file: every price dated and sourced, and a malformed file naming the price.

Runs against the real price file and price files written here with one mistake each.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from livability import finops
from tests.finops.support import scenario


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


def _fake_measurements() -> finops.Measurements:
    """Round numbers: which prices the model uses does not depend on the sizes."""
    one = Decimal(100)
    columns = dict.fromkeys({*finops.VIEW_COLUMNS, *finops.LOCATION_QUERY_COLUMNS}, one)
    sample = finops.TableSample("t", 1, one, columns, one, 10, one, 10, one)
    return finops.Measurements(sample, sample, one, one, 1000)
