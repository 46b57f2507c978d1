"""The SQL building blocks of the model's queries (`scoring/sql.py`), GoogleSQL text.

Physics as expressions (saturation vapour pressure, vapour density, piecewise linear ramps),
distances, WKT points and the cells that map them to time-zone classes, and the checked
dataset name every query reads from.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Final

from scoring import thresholds as th

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEGREES_TO_RADIANS: Final = 0.017453292519943295


def psat(t: str) -> str:
    """Saturation vapour pressure over water, hPa (Magnus, WMO-No. 8)."""
    return f"({th.MAGNUS_HPA} * EXP({th.MAGNUS_B} * ({t}) / ({th.MAGNUS_C} + ({t}))))"


def clamp(value: str, low: float, high: float) -> str:
    return f"LEAST({high}, GREATEST({low}, {value}))"


def ramp(x: str, knots: Sequence[tuple[float, float]]) -> str:
    """Piecewise linear through `knots` (x, severity from 0 up to 1), flat beyond the ends.

    The severities rise ever more slowly (a concave ramp), so the ramp is the least of its
    segments' lines, clamped to [0, 1]: one LEAST and one GREATEST per hour, not one clamp
    per segment."""
    lines = []
    for (x0, v0), (x1, v1) in itertools.pairwise(knots):
        slope = (v1 - v0) / (x1 - x0)
        lines.append(f"{v0} + {slope} * (({x}) - {x0})")
    slopes = [abs((v1 - v0) / (x1 - x0)) for (x0, v0), (x1, v1) in itertools.pairwise(knots)]
    if slopes != sorted(slopes, reverse=True) or knots[0][1] != 0 or knots[-1][1] != 1:
        raise ValueError(f"knots {knots} are not a concave ramp from 0 to 1")
    least = lines[0] if len(lines) == 1 else f"LEAST({', '.join(lines)})"
    return f"GREATEST(0, LEAST(1, {least}))"


def vapour_density(t: str, rh: str) -> str:
    """Water vapour density, g/m3, from temperature (C) and RH (%)."""
    return f"({th.VAPOUR_DENSITY_FACTOR} * ({rh}) / 100 * {psat(t)} / ({th.KELVIN} + ({t})))"


def haversine_km(lon1: str, lat1: str, lon2: str, lat2: str) -> str:
    r = DEGREES_TO_RADIANS
    a = (
        f"POW(SIN(({lat2} - {lat1}) * {r / 2}), 2) + COS({lat1} * {r}) * COS({lat2} * {r}) "
        f"* POW(SIN(({lon2} - {lon1}) * {r / 2}), 2)"
    )
    return f"(2 * {th.EARTH_RADIUS_KM} * ASIN(SQRT(LEAST(1, {a}))))"


def points(source: str) -> str:
    """Distinct WKT `wkt` of `source` with lon, lat; NULL when not a valid point."""
    valid = "lon0 BETWEEN -180 AND 180 AND lat0 BETWEEN -90 AND 90"
    return f"""
  SELECT wkt, IF({valid}, lon0, NULL) AS lon, IF({valid}, lat0, NULL) AS lat
  FROM (
    SELECT wkt, ST_X(ST_GEOGFROMTEXT(wkt)) AS lon0, ST_Y(ST_GEOGFROMTEXT(wkt)) AS lat0
    FROM (SELECT DISTINCT wkt FROM {source} WHERE wkt IS NOT NULL)
  )"""  # noqa: S608 - names are constants of this module


def cell(level: int, lon: str = "lon", lat: str = "lat") -> str:
    """The integer key of the 10^-level degree cell holding (lon, lat)."""
    scale = 10**level
    return (
        f"CAST(FLOOR(({lat} + 90) * {scale}) AS INT64) * {360 * scale + 1} "
        f"+ CAST(FLOOR(({lon} + 180) * {scale}) AS INT64)"
    )


def checked(dataset: str) -> str:
    if not _IDENTIFIER.match(dataset):
        raise ValueError(f"dataset {dataset!r} is not a valid dataset name")
    return dataset
