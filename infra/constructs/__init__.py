"""One construct per concern: typed configuration in, ids (names, emails, URLs) out.

`infra/stack.py` composes them in dependency order; each module says what it declares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cdktn import ITerraformDependable

from infra.config import Environment


def labels(env: Environment, component: str) -> dict[str, str]:
    """The labels every labelled resource carries: which environment, which part."""
    return {"env": env.name, "component": component}


def after(apis: Sequence[ITerraformDependable]) -> dict[str, Any]:
    """`depends_on` for a resource that needs the project's APIs enabled first."""
    return {"depends_on": list(apis)}


def merged(*parts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out
