"""The one settings mechanism (`livability.config`): environments and documents into typed
dataclasses, every error one line naming the key and the value, in the caller's error class.

Runs the mechanism on small dataclasses written here, valid and invalid values side by side,
and checks that the README's Configuration table names every variable the platform reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pytest

from livability import config
from livability.config import ConfigError, env, group
from livability.settings import Settings
from livability.weather.settings import WeatherSettings
from tests.support.paths import ROOT


class PartError(ConfigError):
    """A part's own error class, as each package keeps one."""


_NAME = re.compile(r"^[a-z]+$")


def _strict(text: str) -> str:
    raise PartError(f"STRICT: {text!r} is refused by the parser itself")


@dataclass(frozen=True)
class Inner:
    host: str | None = field(
        default=None, metadata=env("PART_HOST", config.pattern(_NAME, "a name"))
    )


@dataclass(frozen=True)
class Part:
    name: str = field(default="base", metadata=env("PART_NAME", config.pattern(_NAME, "a name")))
    size: int = field(default=1, metadata=env("PART_SIZE", config.integer(1, 10)))
    ratio: float = field(default=0.5, metadata=env("PART_RATIO", config.number(0, 1)))
    strict: str = field(default="", metadata=env("PART_STRICT", _strict))
    derived: str = "not read from the environment"
    inner: Inner = field(default_factory=Inner, metadata=group(Inner))


def test_variables_are_read_by_their_fields_and_empty_ones_keep_defaults() -> None:
    environ = {"PART_NAME": "gateway", "PART_SIZE": "7", "PART_RATIO": "0.25", "PART_HOST": "x"}
    assert config.from_env(Part, environ, PartError) == Part(
        name="gateway", size=7, ratio=0.25, inner=Inner(host="x")
    )
    assert config.from_env(Part, {"PART_NAME": "", "derived": "y"}, PartError) == Part()
    assert config.variables(Part) == (
        "PART_NAME",
        "PART_SIZE",
        "PART_RATIO",
        "PART_STRICT",
        "PART_HOST",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PART_NAME": "Gate way"}, "PART_NAME: 'Gate way' is not a name"),
        ({"PART_SIZE": "11"}, "PART_SIZE: '11' is not an integer from 1 to 10"),
        ({"PART_SIZE": "-1"}, "PART_SIZE: '-1' is not an integer from 1 to 10"),
        ({"PART_SIZE": "٣"}, "PART_SIZE: '٣' is not an integer from 1 to 10"),  # Arabic-Indic 3
        ({"PART_RATIO": "nan"}, "PART_RATIO: 'nan' is not a number from 0 to 1"),
        ({"PART_RATIO": "inf"}, "PART_RATIO: 'inf' is not a number from 0 to 1"),
        ({"PART_RATIO": "half"}, "PART_RATIO: 'half' is not a number from 0 to 1"),
        ({"PART_HOST": "A"}, "PART_HOST: 'A' is not a name"),
        ({"PART_STRICT": "x"}, "STRICT: 'x' is refused by the parser itself"),
    ],
)
def test_a_bad_variable_is_one_line_in_the_callers_error_class(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(PartError) as caught:
        config.from_env(Part, environ, PartError)
    assert str(caught.value) == message


# --- Documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    low: int
    high: float = 10.0

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError(f"low: {self.low} is above high ({self.high})")


@dataclass(frozen=True)
class Document:
    title: str
    mode: Literal["fast", "safe"] = "safe"
    enabled: bool = True
    tags: tuple[str, ...] = ()
    limits: Limits = field(default_factory=lambda: Limits(low=0))
    groups: tuple[Limits, ...] = ()


def test_a_document_becomes_nested_dataclasses() -> None:
    raw = {"title": "t", "mode": "fast", "tags": ["a"], "limits": {"low": 1, "high": 2}}
    assert config.from_mapping(Document, raw, PartError) == Document(
        title="t", mode="fast", tags=("a",), limits=Limits(low=1, high=2.0)
    )
    assert config.from_mapping(Document, {"title": "t"}, PartError) == Document(title="t")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"title": "t", "titel": "u"}, "f.toml: titel: unknown key (known: enabled, groups, "),
        ({"title": "t", "enabeld": True}, "did you mean 'enabled'?"),
        ({}, "f.toml: title: missing (required)"),
        ({"title": 1}, "f.toml: title: expected str, got 1"),
        ({"title": "t", "enabled": "yes"}, "f.toml: enabled: expected bool, got 'yes'"),
        ({"title": "t", "limits": {"low": True}}, "f.toml: limits.low: expected int, got True"),
        ({"title": "t", "limits": {"low": 5, "high": 1}}, "f.toml: limits.low: 5 is above"),
        ({"title": "t", "limits": 3}, "f.toml: limits: expected a table"),
        ({"title": "t", "mode": "slow"}, "f.toml: mode: 'slow' is not one of 'fast' | 'safe'"),
        ({"title": "t", "tags": "a"}, "f.toml: tags: expected a list, got 'a'"),
        ({"title": "t", "tags": ["a", 2]}, "f.toml: tags[1]: expected str, got 2"),
        ({"title": "t", "groups": [{"low": 0}, {"lo": 1}]}, "f.toml: groups[1].lo: unknown key"),
    ],
)
def test_a_bad_document_names_the_file_the_key_path_and_the_value(
    raw: dict[str, object], message: str
) -> None:
    with pytest.raises(PartError) as caught:
        config.from_mapping(Document, raw, PartError, where="f.toml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_document_that_is_not_a_table_is_named() -> None:
    with pytest.raises(PartError, match=r"^<document>: document: expected a table$"):
        config.from_mapping(Document, ["title"], PartError)


# --- The variables the platform reads ----------------------------------------------------------


def test_the_readme_names_every_variable_the_platform_reads() -> None:
    """The Configuration table documents what the mechanism reads (two variables, the
    warehouse and its dataset, are read together by `Settings.from_env`)."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ")[0]
    read = {*config.variables(Settings), *config.variables(WeatherSettings)}
    read |= {"LIVABILITY_WAREHOUSE", "LIVABILITY_DATASET"}
    assert {v for v in read if f"`{v}`" not in section} == set()
