"""Model 3 as main held it before the daily rollup: the scoring benchmark's "before".

`git show BEFORE_COMMIT:scoring/<module>.py` reads that commit's scoring modules, which are
imported as a package of their own (`main_baseline_code`) with their `from scoring ...` lines
pointed at each other, so the benchmark runs the former SQL (through the `_dedup` views, one
pass per reference to the readings) beside the new code in the same run on the same rows. The
vectors are the same model's (3.0.0): only how the warehouse reads differs. Needs the
repository's history; it says so otherwise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
# main before issue 18: "CI green again: report cells inert, ..."
BEFORE_COMMIT = "ae6106262d5aa243f4cd5c1bf2fc28cefce79d20"
PACKAGE = "main_baseline_code"
MODULES = (  # in import order
    "thresholds",
    "sql_parts",
    "dialects",
    "sql",
    "zones",
    "hazards",
    "interval",
    "vector",
    "model",
)


def _show(path: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{BEFORE_COMMIT}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(
            f"cannot read the former scoring from commit {BEFORE_COMMIT[:12]} ({path}): the "
            "benchmark needs the repository's history (git fetch --unshallow)"
        ) from error


@cache
def load() -> ModuleType:
    """The former `scoring.model`: its `daily_aggregates` and `vectors`."""
    package = ModuleType(PACKAGE)
    package.__path__ = []
    sys.modules[PACKAGE] = package
    module = package
    for name in MODULES:
        source = (
            _show(f"scoring/{name}.py")
            .replace("from scoring import", f"from {PACKAGE} import")
            .replace("from scoring.", f"from {PACKAGE}.")
        )
        spec = importlib.util.spec_from_loader(f"{PACKAGE}.{name}", loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        exec(compile(source, f"{BEFORE_COMMIT[:12]}:scoring/{name}.py", "exec"), module.__dict__)
        setattr(package, name, module)
    return module
