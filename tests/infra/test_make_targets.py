"""The deploy targets' guards: a missing terraform and an unconfirmed destroy stop at once.

Runs against: GNU make on the repository's Makefile, with TERRAFORM pointing at a command
that does not exist (or at `true`, so nothing could reach a cloud), and typed answers on
stdin. The paths that need terraform and credentials (plan, apply) run in GitHub Actions.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra.entrypoints import REPO

# Under `make test` these are set by the outer make; a user types `make plan` at a shell.
OUTER_MAKE = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}


def make(*args: str, answer: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in OUTER_MAKE}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO, input=answer, capture_output=True, text=True, check=False, timeout=60, env=env,
    )  # fmt: skip


def test_plan_and_deploy_name_how_to_get_terraform() -> None:
    for target in ("plan", "deploy"):
        done = make(target, "ENV=dev", "TERRAFORM=no-such-terraform-here")
        assert done.returncode != 0
        lines = [line for line in done.stderr.splitlines() if not line.startswith("make:")]
        assert lines == [
            "error: no-such-terraform-here not found: install Terraform >= 1.5 "
            "(developer.hashicorp.com/terraform/install) or OpenTofu and pass TERRAFORM=tofu"
        ], done.stderr
        assert "synthesized" not in done.stdout, "synth ran before the check"


def test_destroy_refuses_prod_without_force() -> None:
    done = make("destroy", "ENV=prod", "TERRAFORM=true", answer="prod\n")
    assert done.returncode != 0
    assert "refusing to destroy prod; pass FORCE_PROD=yes" in done.stderr
    assert "Type the environment name" not in done.stdout + done.stderr


def test_destroy_needs_the_typed_environment_name() -> None:
    for answer in ("prod\n", "yes\n", "\n", None):
        done = make("destroy", "ENV=dev", "TERRAFORM=true", answer=answer)
        assert done.returncode != 0, answer
        assert "not confirmed, nothing destroyed" in done.stderr, (answer, done.stderr)
        assert "destroy -input=false" not in done.stdout
    forced = make("destroy", "ENV=prod", "FORCE_PROD=yes", "TERRAFORM=true", answer="dev\n")
    assert forced.returncode != 0
    assert "not confirmed" in forced.stderr


def test_plan_and_deploy_need_the_committed_provider_hashes(tmp_path: Path) -> None:
    """init installs exactly the committed hashes (-lockfile=readonly); without them,
    nothing is synthesized or planned."""
    missing = tmp_path / "no.terraform.lock.hcl"
    for target in ("plan", "deploy", "apply-plan"):
        done = make(target, "ENV=dev", "TERRAFORM=true", f"PROVIDER_LOCK={missing}")
        assert done.returncode != 0, target
        lines = [line for line in done.stderr.splitlines() if not line.startswith("make:")]
        assert lines == [
            f"error: {missing} is missing: run 'make providers-lock' where "
            "registry.terraform.io is reachable and commit the file (docs/deploy.md)"
        ], done.stderr
        assert "synthesized" not in done.stdout, target


def test_apply_plan_needs_a_saved_plan(tmp_path: Path) -> None:
    lock = tmp_path / "lock.hcl"
    lock.write_text("# hashes\n")
    done = make(
        "apply-plan", "ENV=dev", "TERRAFORM=true", f"PROVIDER_LOCK={lock}",
        f"OUTDIR={tmp_path}", "PLAN_OUT=tfplan",
    )  # fmt: skip
    assert done.returncode != 0
    assert f"error: no saved plan {tmp_path}/stacks/dev/tfplan (make plan PLAN_OUT=...)" in (
        done.stderr
    )
