"""checkov on the synthesized stacks: no failure outside the documented skip list.

Runs against: checkov 3.3.30 in its own venv (.infra-cache/checkov, built by
`make infra-tools` from infra/checkov-requirements.txt), offline (`--skip-download`), on
the `cdk.tf.json` of each environment (`--framework terraform_json`), with the skips of
infra/checkov.toml, each of which carries its reason.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra import tools
from tests.infra.synth import Synth

SKIPS = Path(tools.__file__).parent / "checkov.toml"


def skip_list(env: str) -> dict[str, str]:
    document = tomllib.loads(SKIPS.read_text())
    return {**document.get("all", {}), **document.get(env, {})}


def checkov(path: Path, skips: dict[str, str]) -> dict[str, Any]:
    command = [
        str(tools.checkov_binary()), "--directory", str(path), "--framework", "terraform_json",
        "--output", "json", "--quiet", "--compact", "--skip-download",
    ]  # fmt: skip
    if skips:
        command += ["--skip-check", ",".join(sorted(skips))]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), f"checkov failed to run: {done.stderr[-2000:]}"
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report


def failures(report: dict[str, Any]) -> list[str]:
    return sorted(
        f"{c['check_id']} {c['check_name']} on {c['resource']}"
        for c in report["results"]["failed_checks"]
    )


def test_every_skip_has_a_reason() -> None:
    document = tomllib.loads(SKIPS.read_text())
    assert set(document) <= {"all", "dev", "prod"}
    for section, checks in document.items():
        for check, reason in checks.items():
            assert check.startswith("CKV_"), f"[{section}] {check}"
            assert len(reason.split()) >= 8, f"[{section}] {check}: give the reason"


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_no_checkov_failure_outside_the_skip_list(synthesized: dict[str, Synth], name: str) -> None:
    report = checkov(synthesized[name].path, skip_list(name))
    assert failures(report) == [], f"{name}: checkov failures not in infra/checkov.toml"
    assert report["summary"]["passed"] > 100, report["summary"]


def test_public_archive_is_what_checkov_flags(synthesized: dict[str, Synth]) -> None:
    """The public variant fails exactly the public-bucket checks: the scan sees the grant."""
    report = checkov(synthesized["dev-public"].path, skip_list("dev"))
    flagged = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert flagged, "a public archive must not pass unnoticed"
    resources = {c["resource"] for c in report["results"]["failed_checks"]}
    assert all("archive" in r for r in resources), resources
    assert "CKV_GCP_28" in flagged, flagged  # bucket anonymously or publicly accessible
