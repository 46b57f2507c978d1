"""What `make destroy` and `make deploy` do around terraform for the resources a destroy keeps.

A destroy must not stop half way, and must not take CI's way in with it:

- An environment that protects its data (`deletion_protection`, prod) has `prevent_destroy`
  on its dataset, tables and buckets. `destroy` refuses it before calling terraform at all,
  naming what is protected and how to lift the protection in a reviewed commit; terraform
  itself would refuse the plan too, so nothing is ever destroyed half way.
- The Workload Identity pool and provider (`prevent_destroy` everywhere) are kept: a destroyed
  pool stays soft-deleted for 30 days under its id, and the next deploy could not create it.
  `destroy` removes them from the state (they stay in the project, bound to no account, since
  the accounts are destroyed) and then destroys everything else; `adopt`, run by
  `make deploy`, imports them back when they exist and the state lacks them.

    python -m infra.terraform check STACK_DIR       # refuses protected data, calls nothing
    python -m infra.terraform destroy STACK_DIR [--terraform terraform]
    python -m infra.terraform adopt STACK_DIR [--terraform terraform]

Runs against: the synthesized `cdk.tf.json` of STACK_DIR; terraform is called as a program.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Resources kept by a destroy, with the import id terraform takes for each.
KEPT = {
    "google_iam_workload_identity_pool": (
        "projects/{project}/locations/global/workloadIdentityPools/{pool}"
    ),
    "google_iam_workload_identity_pool_provider": (
        "projects/{project}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    ),
}


class StackError(RuntimeError):
    """The stack cannot be destroyed as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Kept:
    address: str  # type.name in the state
    import_id: str


def _resources(stack: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((stack / "cdk.tf.json").read_text(encoding="utf-8"))
    resources: dict[str, dict[str, Any]] = document.get("resource", {})
    return resources


def kept(stack: Path) -> list[Kept]:
    """The pool and provider of the stack, with their import ids."""
    resources = _resources(stack)
    pools = list(resources.get("google_iam_workload_identity_pool", {}).values())
    if len(pools) != 1:
        raise StackError(f"{stack}: expected one Workload Identity pool, found {len(pools)}")
    pool = pools[0]
    values = {"project": pool["project"], "pool": pool["workload_identity_pool_id"]}
    out = []
    for type_, template in KEPT.items():
        for name, resource in sorted(resources.get(type_, {}).items()):
            provider = resource.get("workload_identity_pool_provider_id", "")
            out.append(Kept(f"{type_}.{name}", template.format(**values, provider=provider)))
    return out


def protected(stack: Path) -> list[str]:
    """Addresses of resources a destroy must not touch that are not kept: protected data."""
    return sorted(
        f"{type_}.{name}"
        for type_, items in _resources(stack).items()
        if type_ not in KEPT
        for name, resource in items.items()
        if resource.get("lifecycle", {}).get("prevent_destroy") is True
    )


def _terraform(terraform: str, stack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform, f"-chdir={stack}", *args], text=True, capture_output=True, check=False
    )


def _in_state(terraform: str, stack: Path, address: str) -> bool:
    done = _terraform(terraform, stack, "state", "list", address)
    return done.returncode == 0 and address in done.stdout.split()


def check(stack: Path) -> None:
    """Raise StackError when the stack protects its data: it cannot be destroyed as it is."""
    locked = protected(stack)
    if locked:
        raise StackError(
            f"{stack.name} protects its data (deletion_protection = true): {len(locked)} "
            f"resources refuse to be destroyed ({', '.join(locked[:3])}, ...). Nothing was "
            "destroyed. To retire it: export what you keep, set deletion_protection = false "
            "in its environment file in a reviewed commit, deploy that, then destroy"
        )


def destroy(stack: Path, terraform: str = "terraform") -> list[Kept]:
    """Destroy everything of the (initialized) stack but the kept resources; returns those.

    Raises StackError, before any terraform call, when the stack protects its data.
    """
    check(stack)
    keep = kept(stack)
    for item in keep:
        if _in_state(terraform, stack, item.address):
            done = _terraform(terraform, stack, "state", "rm", item.address)
            if done.returncode != 0:
                raise StackError(f"terraform state rm {item.address} failed: {done.stderr}")
    done = subprocess.run(
        [terraform, f"-chdir={stack}", "destroy", "-input=false"], text=True, check=False
    )
    if done.returncode != 0:
        raise StackError(f"terraform destroy failed ({done.returncode}); see its output above")
    return keep


def adopt(stack: Path, terraform: str = "terraform") -> list[Kept]:
    """Import the kept resources the state lacks, where they exist; returns those adopted."""
    adopted = []
    for item in kept(stack):
        if _in_state(terraform, stack, item.address):
            continue
        # Absent on a first deploy: the import fails and the apply creates the resource.
        done = _terraform(terraform, stack, "import", "-input=false", item.address, item.import_id)
        if done.returncode == 0:
            adopted.append(item)
    return adopted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.terraform", description=__doc__)
    parser.add_argument("command", choices=("check", "destroy", "adopt"))
    parser.add_argument("stack", type=Path, help="cdktf.out/stacks/ENV")
    parser.add_argument("--terraform", default="terraform")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            check(args.stack)
        elif args.command == "destroy":
            for item in destroy(args.stack, args.terraform):
                print(
                    f"kept {item.import_id} (a destroyed pool is soft-deleted for 30 days); "
                    "the next `make deploy` adopts it"
                )
        else:
            for item in adopt(args.stack, args.terraform):
                print(f"adopted {item.import_id} into the state as {item.address}")
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
