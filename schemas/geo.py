"""The contract's GEOGRAPHY values on the wire: a WKT point `POINT(longitude latitude)`.

One definition of what a point looks like, for the row validator, the weather poller's home
locations, the scoring SQL's DuckDB rewrite of ST_X/ST_Y and the FinOps size model.
"""

from __future__ import annotations

import re
from typing import Final

# A decimal number as WKT writes it; no `nan`, `inf`, `1_000` or hexadecimal (float() takes them).
NUMBER: Final = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER)
# Spaces only around the parts (a tab or newline is not a point the platform wrote).
_POINT = re.compile(rf"^ *POINT *\( *({NUMBER}) +({NUMBER}) *\) *$", re.IGNORECASE)
_POINT_SHAPE = re.compile(r"^ *POINT *\( *([^ ()]+) +([^ ()]+) *\) *$", re.IGNORECASE)

# The same point in a regular expression for SQL's REGEXP_EXTRACT: group 1 is the longitude
# (`SQL_LONGITUDE`) or the latitude (`SQL_LATITUDE`).
SQL_LONGITUDE: Final = rf"(?i)^\s*POINT\s*\(\s*({NUMBER})\s+{NUMBER}\s*\)\s*$"
SQL_LATITUDE: Final = rf"(?i)^\s*POINT\s*\(\s*{NUMBER}\s+({NUMBER})\s*\)\s*$"


class PointError(ValueError):
    """Not a WKT point on the globe; the message says which part is wrong."""


def parse_point(text: object) -> tuple[float, float]:
    """`POINT(lon lat)` → (longitude, latitude) in degrees, or `PointError` saying why not."""
    shape = _POINT_SHAPE.match(text) if isinstance(text, str) else None
    if shape is None:
        raise PointError("is not a WKT point 'POINT(longitude latitude)'")
    match = _POINT.match(text) if isinstance(text, str) else None
    if match is None:
        raise PointError("has non-numeric coordinates")
    lon, lat = float(match[1]) + 0.0, float(match[2]) + 0.0  # + 0.0: no negative zero
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise PointError("has longitude outside -180..180 or latitude outside -90..90")
    return lon, lat


def point_wkt(longitude: float, latitude: float) -> str:
    """The WKT the platform writes: longitude first, each coordinate as `repr` gives it."""
    return f"POINT({longitude!r} {latitude!r})"


def vertices(wkt: str) -> int:
    """Vertices of a 2-D WKT geography (a POINT has one): its coordinates come in pairs."""
    return len(_NUMBER.findall(wkt)) // 2
