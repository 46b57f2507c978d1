"""Model 3 as main held it before the daily rollup: the scoring benchmark's "before".

`git show BEFORE_COMMIT:scoring/<module>.py` reads that commit's scoring modules, which are
imported as a package of their own (`main_baseline_code`) with their `from scoring ...` lines
pointed at each other, so the benchmark runs the former SQL (through the `_dedup` views, one
pass per reference to the readings) beside the new code in the same run on the same rows. The
vectors are the same model's (3.0.0): only how the warehouse reads differs. Needs the
repository's history; it says so otherwise.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from benchmarks import former

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


@cache
def load() -> ModuleType:
    """The former `scoring.model`: its `daily_aggregates` and `vectors`."""
    return former.scoring_package(BEFORE_COMMIT, PACKAGE, MODULES)["model"]
