"""The API key out of every string that came back from OpenWeatherMap.

OpenWeatherMap, a proxy before it or an impostor may echo the request (the URL, `appid=`
included) in any field, in any case, or only a piece of it, and a message is cut short to
be logged: a key cut at that point leaves a fragment that a plain search for the whole key
would miss. So `Scrubber` replaces every run of text that shares 8 or more characters in a
row with the key (ASCII case ignored, raw or as a URL or JSON string quotes it) by `***`,
and it runs before anything is cut. `scrub_value` does the same to every string of a parsed
JSON body (object keys too), so nothing downstream of the client ever holds the key.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_plus

SCRUBBED = "***"
WINDOW = 8  # the shortest piece of the key that is treated as the key
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Scrubber:
    """`scrubber(text)`: `text` without any piece of the key of `WINDOW` characters or more."""

    def __init__(self, key: str) -> None:
        forms = {key, quote(key, safe=""), quote_plus(key), json.dumps(key)[1:-1]}
        lowered = {form.translate(_ASCII_LOWER) for form in forms if form}
        self._width = min(WINDOW, *(len(form) for form in lowered))
        width = self._width
        self._pieces = frozenset(
            form[i : i + width] for form in lowered for i in range(len(form) - width + 1)
        )

    def __call__(self, text: str) -> str:
        lowered = text.translate(_ASCII_LOWER)  # the same length: only A-Z change
        width, pieces = self._width, self._pieces
        out: list[str] = []
        kept = i = 0
        while i <= len(lowered) - width:
            if lowered[i : i + width] not in pieces:
                i += 1
                continue
            end = i + width
            while end < len(lowered) and lowered[end - width + 1 : end + 1] in pieces:
                end += 1
            out += (text[kept:i], SCRUBBED)
            kept = i = end
        out.append(text[kept:])
        return "".join(out)

    def value(self, value: Any) -> Any:
        """A parsed JSON value with every string in it scrubbed (without recursion: a body
        may nest as deep as the JSON parser allowed)."""
        root: list[Any] = [value]
        stack: list[tuple[list[Any] | dict[str, Any], Any]] = [(root, 0)]
        while stack:
            parent, slot = stack.pop()
            item = parent[slot]
            if isinstance(item, str):
                parent[slot] = self(item)
            elif isinstance(item, list):
                copied = list(item)
                parent[slot] = copied
                stack.extend((copied, i) for i in range(len(copied)))
            elif isinstance(item, dict):
                renamed = {self(str(k)): v for k, v in item.items()}
                parent[slot] = renamed
                stack.extend((renamed, k) for k in renamed)
        return root[0]
