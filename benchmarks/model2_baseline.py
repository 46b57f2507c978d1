"""Model 2, the scoring benchmark's named baseline, loaded from the commit that last held it.

`git show MODEL_2_COMMIT:<file>` reads model 2's `scoring/sql.py`, `scoring/thresholds.py`
and `scoring/model.py` as they were, and they are imported as a package of their own
(`model2_baseline_code`) with their `from scoring import ...` lines pointed at each other,
so the benchmark runs model 2's own SQL and polars beside model 3 in the same run on the
same rows. Its vectors take model 2's columns (the contract file of the same commit). Needs
the repository's history (not a shallow clone without that commit): it says so otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# main's last commit with model 2 (2.0.0): "One local-server helper ..." before issue 14.
MODEL_2_COMMIT = "b9dc2e4424a8ac32c69a550e08a4fddce4fae3ae"
PACKAGE = "model2_baseline_code"
MODULES = ("thresholds", "sql", "model")  # in import order


def _show(path: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{MODEL_2_COMMIT}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(
            f"cannot read model 2 from commit {MODEL_2_COMMIT[:12]} ({path}): the benchmark "
            "needs the repository's history (git fetch --unshallow)"
        ) from error


@cache
def load() -> ModuleType:
    """Model 2's `model` module; its `vectors` and `daily_aggregates` as they were."""
    package = ModuleType(PACKAGE)
    package.__path__ = []
    sys.modules[PACKAGE] = package
    modules: dict[str, ModuleType] = {}
    for name in MODULES:
        source = _show(f"scoring/{name}.py").replace(
            "from scoring import", f"from {PACKAGE} import"
        )
        spec = importlib.util.spec_from_loader(f"{PACKAGE}.{name}", loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        exec(compile(source, f"{MODEL_2_COMMIT[:12]}:scoring/{name}.py", "exec"), module.__dict__)
        setattr(package, name, module)
        modules[name] = module
    model = modules["model"]
    fields: list[dict[str, Any]] = json.loads(_show("schemas/livability_scores.json"))
    types = model._POLARS_TYPES
    schema = {f["name"]: types[f["type"]] for f in fields if f["name"] not in model._ADDED_BY_JOB}
    model.output_schema = lambda: schema
    return model
