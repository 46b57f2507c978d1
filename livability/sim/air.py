"""Moist air: how much water vapour air holds at saturation (outdoor humidity, indoor
condensation)."""

from __future__ import annotations

import math

__all__ = ["saturation_absolute_humidity", "saturation_vapour_pressure"]


def saturation_vapour_pressure(temp_c: float) -> float:
    """Magnus formula over water (WMO-No. 8, 2018 edition), hPa."""
    return 6.112 * math.exp(17.62 * temp_c / (243.12 + temp_c))


def saturation_absolute_humidity(temp_c: float) -> float:
    """Water vapour density at saturation, g/m3 (ideal gas: 216.7 g K / (hPa m3))."""
    return 216.7 * saturation_vapour_pressure(temp_c) / (273.15 + temp_c)
