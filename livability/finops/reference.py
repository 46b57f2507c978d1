"""Reproducing the reference PoC's estimate under its own (partly inconsistent) assumptions.

The reference states four lines per ingest mode (BigQuery storage and queries, 1st gen
functions' memory and CPU) and their totals; `reference_estimate` prices them its way (no free
tiers, queries per 1,000 GB), from its stated usage or from usage derived from its scenario,
and `compare_reference` sets the two side by side (docs/finops.md, "Reproducing the
reference").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from livability.finops.prices import UNITS, PriceBook
from livability.finops.pricing import Estimate, Method, Usage, price
from livability.finops.scenario import Scenario
from livability.finops.units import GIB
from livability.gcp import INGEST_MODES

# The reference priced queries per 1,000 GB while counting storage in 2^30-byte GB, and
# left every free tier out (docs/finops.md, "Reproducing the reference").
REFERENCE_METHOD = Method(free_tiers=False, tib_bytes=1000 * GIB)

REFERENCE_SCENARIOS: Mapping[str, Scenario] = {
    mode: Scenario(
        homes=1_000_000,
        locations=100,
        reading_interval=timedelta(minutes=10),
        weather_interval=timedelta(hours=3),
        rows_per_message=100,
        ingest_mode=mode,  # type: ignore[arg-type]
    )
    for mode in INGEST_MODES
}


@dataclass(frozen=True)
class StatedLine:
    """One line of the reference's estimate as it states it."""

    item: str
    price_key: str
    quantity: Decimal  # in the price's unit
    cost: Decimal


_STORAGE = ("BigQuery storage", "bigquery.active_storage")
_QUERIES = ("BigQuery queries", "bigquery.on_demand_query")
_MEMORY = ("Functions memory", "functions_gen1.memory")
_CPU = ("Functions CPU", "functions_gen1.cpu")


def _stated(rows: Iterable[tuple[tuple[str, str], str, str]]) -> tuple[StatedLine, ...]:
    return tuple(StatedLine(item, key, Decimal(q), Decimal(c)) for (item, key), q, c in rows)


# Issue 9, from the reference's cost section: usage and cost per line, and the totals.
REFERENCE_STATED: Mapping[str, tuple[StatedLine, ...]] = {
    "function": _stated(
        [
            (_STORAGE, "129", "2.58"),
            (_QUERIES, "129", "0.81"),
            (_MEMORY, "3863829", "9.65"),
            (_CPU, "6180855", "61.81"),
        ]
    ),
    "bigquery_subscription": _stated(
        [
            (_STORAGE, "129", "2.58"),
            (_QUERIES, "129", "0.81"),
            (_MEMORY, "2146.56", "0.005"),
            (_CPU, "3433.68", "0.03"),
        ]
    ),
}
REFERENCE_TOTALS: Mapping[str, Decimal] = {
    "function": Decimal("74.85"),
    "bigquery_subscription": Decimal("3.43"),
}
# What the reference counts in a row's 129 GB: four 8-byte values (its sample row has five,
# with `day`; its real rows seven and a POINT). docs/finops.md, "Reproducing the reference".
REFERENCE_ROW_COLUMNS = ("timestamp", "data.mac", "data.temperature", "data.humidity")
# The reference's functions: 1st gen at the default 256 MB, which comes with 400 MHz.
REFERENCE_MEMORY_GIB = Decimal("0.25")
REFERENCE_CPU_GHZ = Decimal("0.4")


@dataclass(frozen=True)
class ReferenceUsage:
    storage_bytes: Decimal
    query_bytes: Decimal
    invocations: Decimal
    duration_s: Decimal

    @property
    def gib_seconds(self) -> Decimal:
        return self.invocations * self.duration_s * REFERENCE_MEMORY_GIB

    @property
    def ghz_seconds(self) -> Decimal:
        return self.invocations * self.duration_s * REFERENCE_CPU_GHZ


def reference_duration_s() -> Decimal:
    """The reference's billed time per invocation, which it does not state: implied by its
    subscription-mode line, where the only function is the weather one (one invocation per
    location and poll). Its function-mode line then checks it independently."""
    sub = REFERENCE_SCENARIOS["bigquery_subscription"]
    gib_s = next(x for x in REFERENCE_STATED["bigquery_subscription"] if x.item == _MEMORY[0])
    return gib_s.quantity / (sub.weather_rows * REFERENCE_MEMORY_GIB)


def reference_usage(mode: str, reference_row_bytes: Decimal) -> ReferenceUsage:
    """The reference's usage derived from its scenario (one month of readings, stored once
    and scanned once; an invocation per 100-row message and per weather location and poll)."""
    s = REFERENCE_SCENARIOS[mode]
    stored = s.sensor_rows * reference_row_bytes
    invocations = s.weather_rows + (s.sensor_messages if mode == "function" else 0)
    return ReferenceUsage(stored, stored, invocations, reference_duration_s())


def reference_estimate(
    mode: str,
    *,
    derived: ReferenceUsage | None = None,
    book: PriceBook | None = None,
) -> Estimate:
    """The reference's four lines priced the reference's way: from its stated usage, or
    from `derived` usage when given."""
    book = book or PriceBook.load()
    if derived is None:
        amounts = {
            x.price_key: x.quantity * UNITS[book[x.price_key].unit] for x in REFERENCE_STATED[mode]
        }
        # The query line is in the reference's GB too, priced per 1,000 of them.
        amounts["bigquery.on_demand_query"] = (
            next(x.quantity for x in REFERENCE_STATED[mode] if x.item == _QUERIES[0]) * GIB
        )
    else:
        amounts = {
            _STORAGE[1]: derived.storage_bytes,
            _QUERIES[1]: derived.query_bytes,
            _MEMORY[1]: derived.gib_seconds,
            _CPU[1]: derived.ghz_seconds,
        }
    usages = [
        Usage("Reference", x.item, x.price_key, amounts[x.price_key])
        for x in REFERENCE_STATED[mode]
    ]
    label = f"reference, {mode}, {'stated' if derived is None else 'derived'} usage"
    return Estimate(
        price(usages, book, REFERENCE_METHOD), book.as_of, REFERENCE_SCENARIOS[mode], label
    )


@dataclass(frozen=True)
class Comparison:
    item: str
    unit: str
    stated: Decimal
    derived: Decimal
    stated_cost: Decimal
    cost_from_stated: Decimal

    @property
    def difference(self) -> Decimal:
        """Derived usage relative to the stated one."""
        return self.derived / self.stated - 1

    def as_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "unit": self.unit,
            "stated_usage": float(self.stated),
            "derived_usage": float(self.derived),
            "difference": float(self.difference),
            "stated_cost": float(self.stated_cost),
            "cost_from_stated_usage": str(self.cost_from_stated),
        }


def compare_reference(mode: str, reference_row_bytes: Decimal) -> list[Comparison]:
    book = PriceBook.load()
    derived = reference_estimate(
        mode, derived=reference_usage(mode, reference_row_bytes), book=book
    )
    from_stated = reference_estimate(mode, book=book)
    out = []
    for stated, got, line in zip(
        REFERENCE_STATED[mode], derived.lines, from_stated.lines, strict=True
    ):
        # Storage and queries are stated in the reference's GB (2^30 bytes).
        quantity = got.quantity * 1000 if got.price_key == _QUERIES[1] else got.quantity
        out.append(
            Comparison(stated.item, got.unit, stated.quantity, quantity, stated.cost, line.cost)
        )
    return out
