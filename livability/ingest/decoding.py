"""The platform's one JSON decoder: every byte that may become a row goes through `decode_json`.

The event processor (a push body, a message's data), `dead-letter replay` and `load-archive`
all decode with it, so none of them is looser than another. Strict JSON, as BigQuery reads it:
UTF-8 only, no NaN or Infinity, no key twice in one object (which value would be meant?), an
integer of at most `sys.get_int_max_str_digits()` digits, at most `MAX_JSON_DEPTH` levels and
at most `MAX_JSON_CONTAINERS` objects and arrays and `MAX_JSON_VALUES` values. Total: every
refusal is a `PoisonMessageError` naming what was refused, never another exception.

The counts are taken on the text before parsing (a `{`, `[` or `,` inside a string counts
too, so they over-count, never under-count): what a 10 MB message of `[{},{},...]` would cost
as Python objects (about 200 MB) is refused before a single one is built. The largest valid
message (`MAX_ROWS` rows of about 20 values) has 20,000 containers and 200,000 values.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.validation import shown

# The contract's rows nest 2 levels (row, `data`), a message 3 (its list). Anything far
# deeper is no row; refusing it early keeps every later encoder away from the recursion limit.
MAX_JSON_DEPTH = 32
# Typical messages hold 1-100 rows; a 10 MB message of `{}` would be 3 million dead letters.
MAX_ROWS = 10_000
# Objects and arrays, and values (separators + 1), in one JSON text: 10x the largest valid
# message, so only a body built to exhaust memory reaches them.
MAX_JSON_CONTAINERS = 200_000
MAX_JSON_VALUES = 2_000_000


class PoisonMessageError(ValueError):
    """A message that no retry can make valid."""


def _no_constant(where: str) -> Any:
    def refuse(name: str) -> Any:
        raise PoisonMessageError(f"{where}{name} is not valid JSON (JSON has no NaN or Infinity)")

    return refuse


def _unique_keys(where: str) -> Any:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise PoisonMessageError(
                        f"{where}key {shown(key)} appears twice in one object (ambiguous JSON)"
                    )
                seen.add(key)
        return out

    return build


def _too_deep(body: Any, limit: int) -> bool:
    """Whether `body` nests deeper than `limit`; iterative, so itself safe from recursion."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def decode_json(
    raw: bytes | str, where: str | None = "message.data", *, columns: bool = False
) -> Any:
    """`raw` as strict JSON, or a `PoisonMessageError` whose text starts with `where: `.

    `columns` words a bad byte's place as a 1-based column (a line of a file) rather than a
    0-based offset (a message).
    """
    prefix = f"{where}: " if where else ""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            place = f"column {err.start + 1}" if columns else f"offset {err.start}"
            raise PoisonMessageError(
                f"{prefix}not UTF-8 (byte 0x{raw[err.start]:02x} at {place})"
            ) from None
    else:
        text = raw
    containers = text.count("{") + text.count("[")
    values = text.count(",") + 1
    if containers > MAX_JSON_CONTAINERS or values > MAX_JSON_VALUES:
        raise PoisonMessageError(
            f"{prefix}not JSON this platform reads ({containers:,} objects/arrays and "
            f"{values:,} values; at most {MAX_JSON_CONTAINERS:,} and {MAX_JSON_VALUES:,})"
        )
    too_deep = PoisonMessageError(
        f"{prefix}not JSON this platform reads (nested deeper than {MAX_JSON_DEPTH} levels)"
    )
    try:
        body = json.loads(
            text, parse_constant=_no_constant(prefix), object_pairs_hook=_unique_keys(prefix)
        )
    except PoisonMessageError:
        raise
    except json.JSONDecodeError as err:
        raise PoisonMessageError(f"{prefix}not JSON ({err})") from None
    except RecursionError:
        raise too_deep from None
    except ValueError as err:  # int() of more than sys.get_int_max_str_digits() digits
        raise PoisonMessageError(f"{prefix}not JSON this platform reads ({err})") from None
    if isinstance(body, (dict, list)) and _too_deep(body, MAX_JSON_DEPTH):
        raise too_deep
    return body


def decode_rows(raw: bytes) -> list[Any]:
    """A message body: one JSON row object or a non-empty JSON array of at most `MAX_ROWS`."""
    if not raw:
        raise PoisonMessageError("message.data: empty, with no row to store")
    body = decode_json(raw)
    if isinstance(body, dict):
        return [body]
    if not isinstance(body, list):
        raise PoisonMessageError(f"message.data: {shown(body)} is neither a row nor a list")
    if not body:
        raise PoisonMessageError("message.data: [] is an empty list, with no row to store")
    if len(body) > MAX_ROWS:
        raise PoisonMessageError(
            f"message.data: {len(body)} rows, more than the {MAX_ROWS} one message may hold"
        )
    return body
