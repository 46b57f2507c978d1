"""The one settings mechanism: frozen dataclasses read from a mapping, every error naming a key.

Two sources, one set of rules:

- **The environment** (`from_env`). A field's metadata says which variable it reads and how
  its text becomes a value: `field(default=None, metadata=env("LIVABILITY_TOPIC", parse))`.
  An unset or empty variable keeps the field's default; a dataclass of settings nested with
  `metadata=group(...)` reads its own variables. `livability/settings.py` (URLs in, adapters
  out) and `livability/weather/settings.py` (the poller's own) are read this way.
- **A document** (`from_mapping`): a TOML file's tables. Keys are the field names, nested
  tables nested dataclasses, arrays tuples; each value must have its field's type (an int
  where a float is wanted is taken); an unknown key is an error listing the known ones and
  suggesting the closest (`did you mean 'public_archive'?`); a field without a default is
  required. `infra/config.py` (the environments) is read this way; the class's
  `__post_init__` checks what a type cannot say (patterns, ranges, cross-field rules).

Every error is one line, `KEY: VALUE reason`, raised as the caller's own subclass of
`ConfigError` so each part keeps its error type (`SettingsError`, `WeatherConfigError`, ...).
A parser raises `ValueError` with the reason only (`'x' is not HOST:PORT`); `parsed` adds
the key. A `ConfigError` raised inside a parser already names its key and passes through.

Why not pydantic-settings or msgspec: every rule here (URL forms, cloud ids, locations) would
still be our own validator, so a library would add a compiled dependency to the function
bundles and the gateway image (pydantic-settings brings pydantic-core, several MB; msgspec is
small but reads no environment) without removing code, and neither writes a one-line error
naming the value. This module is the standard library only, so every bundle and the Raspberry
Pi image can ship it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

T = TypeVar("T")
Parser = Callable[[str], Any]

_VARIABLE = "livability.config.variable"
_PARSE = "livability.config.parse"
_GROUP = "livability.config.group"


class ConfigError(ValueError):
    """A setting the platform cannot use; the message names the key and the value."""


def env(variable: str, parse: Parser = str) -> Mapping[str, Any]:
    """A dataclass field's metadata: read from the environment variable `variable` by `parse`.

    `topic: str | None = field(default=None, metadata=env("LIVABILITY_TOPIC", parse))`
    """
    return {_VARIABLE: variable, _PARSE: parse}


def group(cls: type[Any]) -> Mapping[str, Any]:
    """A dataclass field's metadata: settings of their own (`cls`), read from the same
    environment: `field(default_factory=Emulators, metadata=group(Emulators))`."""
    return {_GROUP: cls}


def parsed(key: str, text: str, parse: Callable[[str], T], error: type[ConfigError]) -> T:
    """`parse(text)`; its `ValueError` becomes `error` naming `key`."""
    try:
        return parse(text)
    except ConfigError:
        raise
    except ValueError as err:
        raise error(f"{key}: {err}") from None


def from_env(cls: type[T], environ: Mapping[str, str], error: type[ConfigError]) -> T:
    """`cls` from the variables its fields name; an unset or empty one keeps its default."""
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if _GROUP in spec.metadata:
            values[spec.name] = from_env(spec.metadata[_GROUP], environ, error)
        elif _VARIABLE in spec.metadata:
            text = environ.get(spec.metadata[_VARIABLE])
            if text:
                values[spec.name] = parsed(
                    spec.metadata[_VARIABLE], text, spec.metadata[_PARSE], error
                )
    return cls(**values)


def variables(cls: type[Any]) -> tuple[str, ...]:
    """The environment variables `from_env(cls, ...)` reads, in field order."""
    out: list[str] = []
    for spec in dataclasses.fields(cls):
        if _GROUP in spec.metadata:
            out += variables(spec.metadata[_GROUP])
        elif _VARIABLE in spec.metadata:
            out.append(spec.metadata[_VARIABLE])
    return tuple(out)


# --- Parsers: text in, a value or a ValueError naming the value out ----------------------------


def pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    """The text itself, when it matches `regex`; `what` says what it should be."""

    def parse(text: str) -> str:
        if not regex.match(text):
            raise ValueError(f"{text!r} is not {what}")
        return text

    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    """A decimal number from `low` to `high` (NaN and infinities are outside)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN fails too
            raise ValueError(f"{text!r} is not a number from {low:g} to {high:g}")
        return value

    return parse


def integer(low: int, high: int) -> Callable[[str], int]:
    """A whole number written in ASCII digits, from `low` to `high`."""

    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            raise ValueError(f"{text!r} is not an integer from {low} to {high}")
        return int(text)

    return parse


# --- Documents: a mapping (a TOML file's tables) into nested dataclasses -----------------------


def from_mapping(cls: type[T], raw: Any, error: type[ConfigError], where: str = "<document>") -> T:
    """`cls` from a document's table `raw`; every error names `where` and the key path."""
    try:
        built: T = _build(cls, raw, "")
    except ConfigError as err:
        raise error(f"{where}: {err}") from None
    return built


def _build(cls: type[Any], raw: Any, path: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path.rstrip('.') or 'document'}: expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{path}{key}: unknown key (known: {', '.join(sorted(fields))}){hint}"
            )
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in raw:
            values[name] = _value(hints[name], raw[name], f"{path}{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}{name}: missing (required)")
    try:
        return cls(**values)
    except ConfigError as err:  # the class's own checks name the key below `path`
        raise ConfigError(f"{path}{err}") from None


def _value(type_: Any, value: Any, key: str) -> Any:
    origin = get_origin(type_)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in get_args(type_) if a is not type(None)]
        return _value(options[0], value, key)
    if origin is Literal:
        if value not in get_args(type_):
            allowed = " | ".join(repr(a) for a in get_args(type_))
            raise ConfigError(f"{key}: {value!r} is not one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = get_args(type_)[0]
        return tuple(_value(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(type_, type) and dataclasses.is_dataclass(type_):
        return _build(type_, value, f"{key}.")
    if type_ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type_ in (str, int, float, bool):
        if not isinstance(value, type_) or (type_ is int and isinstance(value, bool)):
            raise ConfigError(f"{key}: expected {type_.__name__}, got {value!r}")
        return value
    raise ConfigError(f"{key}: the loader cannot read type {type_!r}")
