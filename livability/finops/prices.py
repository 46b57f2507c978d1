"""Unit prices: the dated price file `prices.toml` as a `PriceBook`.

Every price has its unit, its monthly free tier and the Google page it comes from; `as_of` is
the day they were checked. A malformed file or price is a `PriceError` naming it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from livability.finops.units import GIB, MIB, TIB, as_decimal

PRICES_FILE = Path(__file__).with_name("prices.toml")

# What one of each price unit is in base units: bytes (x months), seconds x GiB/GHz/vCPU,
# or a count. Google's price pages write GB/TB for 2^30/2^40 bytes.
UNITS: Mapping[str, int] = {
    "GiB-month": GIB,
    "GiB": GIB,
    "TiB": TIB,
    "200 MiB": 200 * MIB,
    "GiB-second": 1,
    "GHz-second": 1,
    "vCPU-second": 1,
    "million": 10**6,
    "1,000 operations": 1000,
    "job-month": 1,
}


class PriceError(ValueError):
    """The price file is unreadable or a price in it is malformed; the message names it."""


@dataclass(frozen=True)
class Price:
    """USD per `unit`, with `free` units a month per billing account."""

    key: str  # "<service>.<name>", as the file's table and key
    price: Decimal
    unit: str  # one of UNITS
    free: Decimal
    source: str  # the cloud.google.com page the price is read from
    note: str = ""


@dataclass(frozen=True)
class PriceBook:
    """The price file: when its prices were checked, their currency and region, the prices."""

    as_of: date
    currency: str  # USD
    region: str
    prices: Mapping[str, Price]
    path: Path = PRICES_FILE

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise PriceError(f"{self.path.name}: no price {key!r}") from None

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceBook:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise PriceError(f"{path}: {err}") from err
        where = path.name
        as_of = raw.pop("as_of", None)
        if not isinstance(as_of, date):
            raise PriceError(f"{where}: as_of: {as_of!r} is not a date (YYYY-MM-DD)")
        currency, region = raw.pop("currency", None), raw.pop("region", None)
        if currency != "USD" or not isinstance(region, str):
            raise PriceError(f"{where}: currency must be 'USD' and region a string")
        prices: dict[str, Price] = {}
        for service, entries in raw.items():
            if not isinstance(entries, dict):
                raise PriceError(f"{where}: {service}: expected a table of prices")
            for name, entry in entries.items():
                key = f"{service}.{name}"
                prices[key] = _price(where, key, entry)
        return cls(as_of, currency, region, prices, path)


def _price(where: str, key: str, entry: Any) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{where}: {key}: expected a table with price, unit, free, source")
    values: dict[str, Decimal] = {}
    for name in ("price", "free"):
        value = entry.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise PriceError(f"{where}: {key}.{name}: {value!r} is not a non-negative number")
        values[name] = as_decimal(value)
    unit, source = entry.get("unit"), entry.get("source")
    if not isinstance(unit, str) or unit not in UNITS:
        raise PriceError(f"{where}: {key}.unit: {unit!r} is not one of {', '.join(UNITS)}")
    if not isinstance(source, str) or not source.startswith("https://cloud.google.com/"):
        raise PriceError(f"{where}: {key}.source: {source!r} is not a cloud.google.com page")
    extra = set(entry) - {"price", "unit", "free", "source", "note"}
    if extra:
        raise PriceError(f"{where}: {key}: unknown keys {sorted(extra)}")
    return Price(key, values["price"], unit, values["free"], source, str(entry.get("note", "")))
