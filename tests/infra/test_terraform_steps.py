"""`make destroy` and `make deploy` around terraform: no half destroy, CI's pool kept.

Runs against: infra/terraform.py on the real synthesized dev and prod stacks. terraform
cannot run here (no provider download), so it is replaced at the process boundary by a
recording script: it logs each call, answers `state list ADDRESS` as if the address were in
the state (unless told otherwise), and fails `import` when told the object does not exist.
Every call the steps make, and their order, is asserted.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from infra import terraform
from tests.infra.synth import Synth

FAKE = """#!/usr/bin/env bash
# A recording stand-in for terraform (see the module docstring).
echo "$*" >> "$FAKE_TERRAFORM_LOG"
args=("$@")
if [ "${args[1]}" = state ] && [ "${args[2]}" = list ]; then
  [ -n "$FAKE_NOT_IN_STATE" ] && exit 0
  echo "${args[3]}"
fi
if [ "${args[1]}" = import ] && [ -n "$FAKE_IMPORT_FAILS" ]; then exit 1; fi
exit 0
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    script = tmp_path / "terraform"
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_TERRAFORM_LOG", str(log))
    return str(script), log


def calls(log: Path, stack: Path) -> list[str]:
    if not log.is_file():
        return []
    return [line.removeprefix(f"-chdir={stack} ") for line in log.read_text().splitlines()]


def test_destroy_keeps_the_identity_pool_and_destroys_the_rest(
    synthesized: dict[str, Synth], fake: tuple[str, Path]
) -> None:
    script, log = fake
    stack = synthesized["dev"].path
    pool, provider = terraform.kept(stack)
    assert pool.import_id == (
        "projects/livability-dev/locations/global/workloadIdentityPools/lvb-dev-github"
    )
    assert provider.import_id == pool.import_id + "/providers/github"

    assert terraform.destroy(stack, script) == [pool, provider]

    assert calls(log, stack) == [
        f"state list {pool.address}",
        f"state rm {pool.address}",
        f"state list {provider.address}",
        f"state rm {provider.address}",
        "destroy -input=false",
    ]


def test_destroy_refuses_protected_data_before_calling_terraform(
    synthesized: dict[str, Synth], fake: tuple[str, Path]
) -> None:
    script, log = fake
    stack = synthesized["prod"].path
    with pytest.raises(terraform.StackError) as refused:
        terraform.destroy(stack, script)
    message = str(refused.value)
    assert message.startswith("prod protects its data (deletion_protection = true): ")
    assert "Nothing was destroyed" in message
    assert "set deletion_protection = false" in message
    assert calls(log, stack) == []
    protected = terraform.protected(stack)
    assert any(p.startswith("google_bigquery_table.") for p in protected)
    assert any(p.startswith("google_storage_bucket.") for p in protected)
    assert not any("_dedup" in p for p in protected), "views are never protected"


def test_deploy_adopts_a_kept_pool_and_skips_what_does_not_exist(
    synthesized: dict[str, Synth], fake: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    script, log = fake
    stack = synthesized["dev"].path
    pool, provider = terraform.kept(stack)
    # In the state already: nothing to import.
    assert terraform.adopt(stack, script) == []
    assert calls(log, stack) == [f"state list {pool.address}", f"state list {provider.address}"]
    log.unlink()
    # After a destroy: the state lacks them, the project has them.
    monkeypatch.setenv("FAKE_NOT_IN_STATE", "1")
    assert terraform.adopt(stack, script) == [pool, provider]
    assert calls(log, stack)[1] == f"import -input=false {pool.address} {pool.import_id}"
    # A first deploy: they do not exist, the apply creates them.
    monkeypatch.setenv("FAKE_IMPORT_FAILS", "1")
    assert terraform.adopt(stack, script) == []


def test_the_cli_says_what_it_kept(
    synthesized: dict[str, Synth], fake: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    script, _ = fake
    stack = synthesized["dev"].path
    assert terraform.main(["destroy", str(stack), "--terraform", script]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("kept projects/livability-dev/locations/global/workloadIdentityPools/")
    assert terraform.main(["check", str(synthesized["prod"].path)]) == 1
    assert capsys.readouterr().err.startswith("error: prod protects its data")
