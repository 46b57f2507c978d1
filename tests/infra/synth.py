"""Every environment synthesized once per test session, and the stack as the tests read it.

Runs against: cdktn 0.24 + cdktn-provider-google (google provider 8.x) through jsii and
node, writing the same `cdk.tf.json` files `python infra/main.py` writes. No terraform.
Besides `dev` and `prod` as their files say, two variants of dev are synthesized in the same
App: `dev-public` (public_archive = true) and `dev-bqsub` (ingest mode
bigquery_subscription), so both sides of each switch are checked.

The fixtures `synthesized` and `synth` are in this folder's conftest; the synthesis is cached
per process.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra import config
from infra.config import Environment
from infra.stack import LivabilityStack, build_app

ENVIRONMENTS = ("dev", "prod")


@dataclass
class Synth:
    """One synthesized stack: its environment, construct tree, JSON and folder."""

    env: Environment
    stack: LivabilityStack
    path: Path  # cdktf.out/stacks/<env>

    @cached_property
    def text(self) -> str:
        return (self.path / "cdk.tf.json").read_text()

    @cached_property
    def json(self) -> dict[str, Any]:
        return json.loads(self.text)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.json["resource"].get(type_, {})

    def one(self, type_: str, **match: Any) -> dict[str, Any]:
        found = [r for r in self.resources(type_).values() if _matches(r, match)]
        assert len(found) == 1, f"expected one {type_} with {match}, found {len(found)}"
        return found[0]

    def ref(self, type_: str, **match: Any) -> str:
        """`${type.id}` of the one resource matching, as references to it read."""
        for key, value in self.resources(type_).items():
            if _matches(value, match):
                return f"${{{type_}.{key}"
        raise AssertionError(f"no {type_} with {match}")


def _matches(resource: dict[str, Any], match: dict[str, Any]) -> bool:
    return all(resource.get(k) == v for k, v in match.items())


@cache
def synthesize_all() -> dict[str, Synth]:
    """dev, prod, dev-public and dev-bqsub, synthesized once in one App per process."""
    envs = [config.load(name) for name in ENVIRONMENTS]
    dev = envs[0]
    envs += [
        dataclasses.replace(dev, name="dev-public", public_archive=True),
        dataclasses.replace(dev, name="dev-bqsub", ingest_mode="bigquery_subscription"),
    ]
    outdir = Path(tempfile.mkdtemp(prefix="cdktf.out-"))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    app, stacks = build_app(envs, outdir)
    app.synth()
    return {
        name: Synth(stack.env, stack, outdir / "stacks" / name) for name, stack in stacks.items()
    }
