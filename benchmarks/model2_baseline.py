"""Model 2, the scoring benchmark's named baseline, loaded from the commit that last held it.

`git show MODEL_2_COMMIT:<file>` reads model 2's `scoring/sql.py`, `scoring/thresholds.py`
and `scoring/model.py` as they were, and they are imported as a package of their own
(`model2_baseline_code`) with their `from scoring import ...` lines pointed at each other,
so the benchmark runs model 2's own SQL and polars beside model 3 in the same run on the
same rows. Its vectors take model 2's columns (the contract file of the same commit). Needs
the repository's history (not a shallow clone without that commit): it says so otherwise.
"""

from __future__ import annotations

import json
from functools import cache
from types import ModuleType
from typing import Any

from benchmarks import former

# main's last commit with model 2 (2.0.0): "One local-server helper ..." before issue 14.
MODEL_2_COMMIT = "b9dc2e4424a8ac32c69a550e08a4fddce4fae3ae"
PACKAGE = "model2_baseline_code"
MODULES = ("thresholds", "sql", "model")  # in import order


@cache
def load() -> ModuleType:
    """Model 2's `model` module; its `vectors` and `daily_aggregates` as they were."""
    modules = former.scoring_package(MODEL_2_COMMIT, PACKAGE, MODULES)
    model = modules["model"]
    fields: list[dict[str, Any]] = json.loads(
        former.show(MODEL_2_COMMIT, "schemas/livability_scores.json")
    )
    types = model._POLARS_TYPES
    schema = {f["name"]: types[f["type"]] for f in fields if f["name"] not in model._ADDED_BY_JOB}
    model.output_schema = lambda: schema
    return model
