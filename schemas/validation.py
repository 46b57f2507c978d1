"""Row validation derived from the schema files: types, required fields, physical ranges.

A valid row comes back normalised to Python values (`date`, `datetime` in UTC, `int`,
`float`, `str`, WKT), with its derived columns filled and its idempotency key in `row_id`,
ready for any warehouse. An invalid row raises `RowError`, whose
message names every offending field and its value.

Accepted input is what BigQuery's streaming API accepts from JSON plus the quirks of its
JSON export (see ../shared/data/README.md): INTEGER as a decimal string, TIMESTAMP with a
`Z` or `+00:00` offset and 0-6 fraction digits, GEOGRAPHY as WKT, NULL columns omitted.
Fields that the schema does not declare are dropped: sensors may send technical fields
that have no business value (seed.md, "Sensors").
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from schemas import ROW_ID, Field, Table
from schemas.geo import PointError, parse_point, point_wkt

_INT64 = (-(2**63), 2**63 - 1)
# ASCII digits only: `\d` would take other scripts' digits, and int() takes "1_000".
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What BigQuery's JSON import takes: date and time with `T` or a space, 0-6 fraction digits,
# optional `Z` or offset (none means UTC).
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?",
    re.IGNORECASE,
)
# WKT point, longitude first: `POINT(-0.41472 51.87833)`.
_MAX_SHOWN = 60


class RowError(ValueError):
    """A row that breaks the contract; `problems` holds one `field: value ...` per issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _FieldError(ValueError):
    pass


def shown(value: Any) -> str:
    """A value as it appears in an error message: JSON-like, ASCII and bounded in length.

    Total: whatever a hostile sender built (an integer of 5,000 digits, a list nested
    beyond the recursion limit, a lone surrogate) gives a message, never an exception.
    """
    try:
        # ensure_ascii (the default) escapes lone surrogates, so the text is always storable.
        text = json.dumps(value, default=str, allow_nan=True)
    except ValueError:  # an int beyond int_max_str_digits, or a circular structure
        text = (
            f"<integer of {value.bit_length()} bits>"
            if isinstance(value, int)
            else f"<{type(value).__name__}>"
        )
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply to show>"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def validate_row(table: Table, row: Any) -> dict[str, Any]:
    """Check `row` against `table` and return it normalised, or raise `RowError`."""
    if not isinstance(row, Mapping):
        raise RowError([f"row: expected a JSON object, got {shown(row)}"])
    problems: list[str] = []
    out = _record(_plan(table), row, problems)
    if not problems:
        _check_partition(table, out, problems)
        _derive(table, out, problems)
    if problems:
        raise RowError(problems)
    if table.keyed:
        # Computed here, never taken from the sender: the key must follow from the content.
        out[ROW_ID] = row_id(table, out)
    return out


def _derive(table: Table, row: dict[str, Any], problems: list[str]) -> None:
    """Fill each derived column from its source; a sender's copy must agree with it."""
    for name, source in table.derived.items():
        value: Any = row
        for part in source.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if row.get(name) is not None and row[name] != value:
            problems.append(f"{name}: {shown(row[name])} differs from {source} {shown(value)}")
        row[name] = value


@dataclass(frozen=True)
class _Column:
    """A column's checks, resolved once per table: what `_record` does for each value."""

    name: str
    path: str
    required: bool
    convert: Callable[[Any], Any] | None  # None for a RECORD
    bounds: tuple[Any, Any] | None
    kind: str  # "physical" or "plausible", for the range message
    children: tuple[_Column, ...] = ()
    length: int | None = None  # most characters of a STRING
    values: tuple[str, ...] = ()  # the allowed values of a STRING column; () for any


_PLANS: dict[int, tuple[Table, tuple[_Column, ...]]] = {}


def _plan(table: Table) -> tuple[_Column, ...]:
    """The table's columns as `_Column`s; cached per table object (tables are immutable)."""
    cached = _PLANS.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]

    def columns(fields: tuple[Field, ...], prefix: str) -> tuple[_Column, ...]:
        out = []
        for f in fields:
            path = f"{prefix}{f.name}"
            if not prefix and f.name == ROW_ID:
                continue  # recomputed from the content by validate_row
            out.append(
                _Column(
                    name=f.name,
                    path=path,
                    required=f.required,
                    convert=None if f.type == "RECORD" else _CONVERTERS[f.type],
                    bounds=table.ranges.get(path),
                    kind="physical" if f.type in ("FLOAT", "INTEGER") else "plausible",
                    children=columns(f.fields, f"{path}.") if f.type == "RECORD" else (),
                    length=table.lengths.get(path),
                    values=tuple(table.values.get(path, ())),
                )
            )
        return tuple(out)

    plan = columns(table.fields, "")
    _PLANS[id(table)] = (table, plan)
    return plan


def _record(
    columns: tuple[_Column, ...], raw: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in columns:
        value = raw.get(c.name)
        if value is None:
            if c.required:
                problems.append(f"{c.path}: required field is missing")
            out[c.name] = None
            continue
        if c.convert is None:
            if not isinstance(value, Mapping):
                problems.append(f"{c.path}: expected a JSON object, got {shown(value)}")
                out[c.name] = None
            else:
                out[c.name] = _record(c.children, value, problems)
            continue
        try:
            converted = out[c.name] = c.convert(value)
        except _FieldError as err:
            problems.append(f"{c.path}: {shown(value)} {err}")
            continue
        if c.length is not None and len(converted) > c.length:
            problems.append(f"{c.path}: {shown(value)} is longer than {c.length} characters")
        if c.values and converted not in c.values:
            problems.append(f"{c.path}: {shown(value)} is not one of {', '.join(c.values)}")
            continue
        if c.bounds is not None and not c.bounds[0] <= converted <= c.bounds[1]:
            problems.append(
                f"{c.path}: {shown(value)} is outside the {c.kind} range {_bounds(c.bounds)}"
            )
    return out


def _bounds(bounds: tuple[Any, Any]) -> str:
    low, high = (_text(b) for b in bounds)
    return f"{low}..{high}"


def _text(bound: Any) -> str:
    if isinstance(bound, datetime):
        return bound.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(bound, date):
        return bound.isoformat()
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _string(value: Any) -> str:
    if type(value) is not str:
        raise _FieldError("is not a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800": no warehouse stores it
            raise _FieldError("is not valid Unicode (lone surrogate)") from None
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _FieldError("is not a boolean")


def _unsupported(value: Any) -> Any:
    raise _FieldError("has a type the validator does not support")


def _integer(value: Any) -> int:
    if type(value) is int and _INT64[0] <= value <= _INT64[1]:
        return value  # the common case, first
    if isinstance(value, bool):
        raise _FieldError("is not an integer")
    if isinstance(value, int):
        number = value
    elif (isinstance(value, str) and _INTEGER.fullmatch(value)) or (
        isinstance(value, float) and value.is_integer() and abs(value) <= 2**63
    ):
        number = int(value)
    else:
        raise _FieldError("is not an integer")
    if not _INT64[0] <= number <= _INT64[1]:
        raise _FieldError("does not fit in INT64")
    return number


def _float(value: Any) -> float:
    if type(value) is float and value != 0 and math.isfinite(value):
        return value  # the common case, first
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _FieldError("is not a number")
    if isinstance(value, str) and not _FLOAT.fullmatch(value):
        raise _FieldError("is not a number")  # float() would take "1_000", " 1" and "nan"
    try:
        number = float(value)
    except ValueError:
        raise _FieldError("is not a number") from None
    except OverflowError:  # float() of an integer beyond 1.8e308
        raise _FieldError("is not a finite number") from None
    if not math.isfinite(number):
        raise _FieldError("is not a finite number")
    # -0.0 == 0.0, but they serialise apart: one value must give one row id.
    return number + 0.0 if number == 0 else number


def _date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _FieldError("is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _FieldError("is not a valid calendar date") from None


def _timestamp(value: Any) -> datetime:
    """ISO 8601; a timestamp without offset is UTC, as BigQuery reads it."""
    if not isinstance(value, str):
        raise _FieldError("is not an ISO 8601 timestamp string")
    if not _TIMESTAMP.fullmatch(value):
        raise _FieldError("is not an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.upper())  # the pattern allows `t` and `z`
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        raise _FieldError("is not a valid calendar time") from None
    except OverflowError:  # an offset that moves it past year 1 or 9999
        raise _FieldError("is outside the years 0001-9999 in UTC") from None
    return parsed


def _point(value: Any) -> str:
    try:
        return point_wkt(*parse_point(value))
    except PointError as err:
        raise _FieldError(str(err)) from None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "STRING": _string,
    "INTEGER": _integer,
    "FLOAT": _float,
    "BOOLEAN": _boolean,
    "DATE": _date,
    "TIMESTAMP": _timestamp,
    "GEOGRAPHY": _point,
    "BYTES": _unsupported,
}


def _check_partition(table: Table, row: dict[str, Any], problems: list[str]) -> None:
    """A row's `day` must be the UTC date of its `timestamp`, or partition pruning lies."""
    if table.partition != "day" or not isinstance(row.get("timestamp"), datetime):
        return
    expected = row["timestamp"].date()
    if row["day"] != expected:
        problems.append(
            f"day: {shown(row['day'].isoformat())} is not the UTC date of timestamp "
            f"{shown(row['timestamp'].isoformat())} (expected {expected.isoformat()})"
        )


def _json_value(value: Any) -> Any:
    """The JSON form of a normalised value that JSON has no type for."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised row as JSON-ready values (what BigQuery's insertAll takes)."""

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, date):  # datetime too
            return _json_value(value)
        return value

    return {k: convert(v) for k, v in row.items()}


def row_id(table: Table, row: Mapping[str, Any]) -> str:
    """Idempotency key of a normalised row: the hash of its table and canonical content.

    Content, not the Pub/Sub message id, so a redelivered message, a gateway that
    re-publishes after a timeout, and an archive loaded twice all map to the same key. The
    one function the edge, the event processor and the archive loader all use. Left out:
    the key itself, derived columns (copies of others) and the table's `identity` columns.
    The canonical text is `to_json`'s, produced by the C encoder in one pass.
    """
    skip = {ROW_ID, *table.derived, *table.identity_excludes}
    content = {k: v for k, v in row.items() if k not in skip}
    canonical = json.dumps(
        [table.name, content],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=_json_value,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
