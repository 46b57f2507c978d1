"""Units and rounding the FinOps model counts in: bytes, a 30-day month, cents.

Money and quantities are `Decimal` throughout and rounded to cents only for display.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

KIB, MIB, GIB, TIB = 2**10, 2**20, 2**30, 2**40
MONTH_DAYS = 30  # a billing month as the reference and Google's own pricing examples count it
WEEKS_PER_MONTH = Decimal(MONTH_DAYS) / 7
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def as_decimal(value: float | int | str | Decimal) -> Decimal:
    """`value` exactly as written (a float through its shortest repr, not its binary value)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
