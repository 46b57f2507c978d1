"""How usage becomes money: `Usage` (a quantity of one priced thing) → priced `Line`s → an
`Estimate`, with Google's free tiers shared by all lines of a price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from livability.finops.prices import UNITS, PriceBook
from livability.finops.scenario import Scenario
from livability.finops.units import MONTH_DAYS, TIB, cents


@dataclass(frozen=True)
class Usage:
    """A quantity of one priced thing, in base units (bytes, unit-seconds, counts)."""

    service: str
    item: str
    price_key: str
    amount: Decimal
    note: str = ""


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    price_key: str
    quantity: Decimal  # in `unit`
    unit: str
    cost: Decimal  # USD, unrounded; the price's free tier shared across its lines
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "item": self.item,
            "price": self.price_key,
            "quantity": float(self.quantity),
            "unit": self.unit,
            "cost": float(cents(self.cost)),
            "cost_exact": str(self.cost),
            "note": self.note,
        }


@dataclass(frozen=True)
class Method:
    """How usage becomes money. Google's: free tiers applied, 1 TiB = 2^40 bytes."""

    free_tiers: bool = True
    tib_bytes: int = TIB


def price(usages: Iterable[Usage], book: PriceBook, method: Method = Method()) -> tuple[Line, ...]:
    """Lines with their cost; a free tier is shared by all lines of its price, pro rata."""
    usages = [u for u in usages if u.amount > 0]
    totals: dict[str, Decimal] = {}
    for usage in usages:
        totals[usage.price_key] = totals.get(usage.price_key, Decimal(0)) + usage.amount
    lines = []
    for usage in usages:
        unit_price = book[usage.price_key]
        size = method.tib_bytes if unit_price.unit == "TiB" else UNITS[unit_price.unit]
        quantity, total = usage.amount / size, totals[usage.price_key] / size
        billable = max(Decimal(0), total - unit_price.free) if method.free_tiers else total
        cost = billable * unit_price.price * quantity / total
        lines.append(
            Line(
                usage.service,
                usage.item,
                usage.price_key,
                quantity,
                unit_price.unit,
                cost,
                usage.note,
            )
        )
    return tuple(lines)


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    prices_as_of: date
    scenario: Scenario | None = None
    label: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.cost for line in self.lines), Decimal(0))

    def by_service(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, Decimal(0)) + line.cost
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "scenario": self.scenario.as_json() if self.scenario else None,
            "prices_as_of": self.prices_as_of.isoformat(),
            "currency": "USD",
            "month_days": MONTH_DAYS,
            "lines": [line.as_json() for line in self.lines],
            "services": {k: float(cents(v)) for k, v in self.by_service().items()},
            "total": float(cents(self.total)),
            "total_exact": str(self.total),
        }
