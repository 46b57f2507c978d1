"""One construct per concern: typed configuration in, ids (names, emails, URLs) out.

`infra/stack.py` composes them in dependency order; each module says what it declares.
Every construct is declared with the stack's `Inputs` (the environment, the project's
number, the schema registry, the enabled APIs). Those that need nothing else derive from
`Part`: it takes the inputs, calls `declare()`, and gives each resource the keywords every
resource of the stack carries (`placed`): its project, its labels, and the APIs to wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdktn import ITerraformDependable
from constructs import Construct

from infra.config import Environment
from schemas import Registry


def labels(env: Environment, component: str) -> dict[str, str]:
    """The labels every labelled resource carries: which environment, which part."""
    return {"env": env.name, "component": component}


@dataclass(frozen=True)
class Inputs:
    """What the stack declares its constructs with."""

    env: Environment
    project_number: str  # the project's number (a token until apply)
    registry: Registry  # the table contract of schemas/
    apis: Sequence[ITerraformDependable]  # the enabled APIs: a resource is created after them


class Part(Construct):
    """A construct made from the stack's inputs alone; a subclass declares its resources in
    `declare()`, run once the construct exists."""

    def __init__(self, scope: Construct, id_: str, inputs: Inputs) -> None:
        super().__init__(scope, id_)
        self.inputs = inputs
        self.env = inputs.env
        self.declare()

    def declare(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} declares no resources")

    def after_apis(self) -> dict[str, Any]:
        """`depends_on` for a resource that needs the project's APIs enabled first."""
        return {"depends_on": list(self.inputs.apis)}

    def placed(self, component: str | None = None, *, after_apis: bool = True) -> dict[str, Any]:
        """The keywords of a resource in the project: `project`, the labels of `component`
        (None: the resource takes no labels), and `depends_on` the APIs (unless told not)."""
        out: dict[str, Any] = {"project": self.env.project}
        if component is not None:
            out["labels"] = labels(self.env, component)
        if after_apis:
            out.update(self.after_apis())
        return out
