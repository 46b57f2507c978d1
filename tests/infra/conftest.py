"""Fixtures of the infra tests: the synthesized stacks (tests/infra/synth.py)."""

from __future__ import annotations

import pytest

from tests.infra.synth import ENVIRONMENTS, Synth, synthesize_all


@pytest.fixture(name="synthesized")
def synthesized_fixture() -> dict[str, Synth]:
    return synthesize_all()


@pytest.fixture(name="synth", params=ENVIRONMENTS)
def synth_fixture(request: pytest.FixtureRequest) -> Synth:
    """Each real environment in turn."""
    return synthesize_all()[request.param]
