"""Synthesize the stacks: `python infra/main.py [ENV ...] [--outdir DIR]`.

Writes `cdktf.out/stacks/<env>/cdk.tf.json` (and the function bundles beside it) for each
environment named, or for every file in `infra/environments/`. Needs only node (jsii);
`terraform` runs on the result (`make plan|deploy ENV=...`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: the repository root, not infra/, leads the path, so `constructs`
    # is the jsii library and `infra` the package.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from infra import config
from infra.stack import build_app

DEFAULT_OUTDIR = Path("cdktf.out")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/main.py", description=__doc__.splitlines()[0])
    parser.add_argument("envs", nargs="*", help=f"environments (default: {config.names()})")
    parser.add_argument("--outdir", type=Path, default=DEFAULT_OUTDIR)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        environments = [config.load(name) for name in args.envs or config.names()]
    except config.ConfigError as err:
        print(f"infra: error: {err}", file=sys.stderr)
        return 2
    # Bundles of earlier synths would pile up beside the new ones: start those folders empty
    # (the stack folder itself keeps terraform's .terraform/ between plans).
    shutil.rmtree(args.outdir / "bundles", ignore_errors=True)
    for env in environments:
        shutil.rmtree(args.outdir / "stacks" / env.name / "assets", ignore_errors=True)
    app, stacks = build_app(environments, args.outdir)
    app.synth()
    elapsed = time.perf_counter() - started
    for name, stack in stacks.items():
        skipped = ", ".join(stack.functions.skipped)
        note = f" (not deployed, module missing: {skipped})" if skipped else ""
        print(f"synthesized {args.outdir / 'stacks' / name / 'cdk.tf.json'}{note}")
    print(f"{len(stacks)} stack(s) in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
