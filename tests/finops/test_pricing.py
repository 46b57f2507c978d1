"""Usage priced: a free tier shared by the lines of its price.

Runs against the real price file. No cloud: arithmetic on usage.
"""

from __future__ import annotations

from decimal import Decimal

from livability import finops


def test_a_free_tier_is_shared_by_the_lines_of_its_price(book: finops.PriceBook) -> None:
    """Two query lines of 0.75 TiB each: 1 TiB free, 0.5 TiB billed at $6.25, split evenly."""
    half = Decimal("0.75") * finops.TIB
    lines = finops.price(
        [
            finops.Usage("BigQuery", "a", "bigquery.on_demand_query", half),
            finops.Usage("BigQuery", "b", "bigquery.on_demand_query", half),
        ],
        book,
    )
    assert [x.cost for x in lines] == [Decimal("1.5625"), Decimal("1.5625")]
    assert [x.quantity for x in lines] == [Decimal("0.75"), Decimal("0.75")]
