"""`make bench`: every benchmark suite, or the ones named (`python -m benchmarks ingest scoring`).

A suite is a module of this package with a `main()` and a `SUITE` docstring line; each measures
ours against a named baseline in the same run, on the same data, and prints ratios.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"__main__", "reference_handler", "former", "main_baseline", "model2_baseline"}  # helpers


def suites() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in SKIP and not m.ispkg
    )


def main(argv: list[str]) -> int:
    known = suites()
    chosen = argv or known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        print(f"benchmarks: unknown suite(s) {unknown}; known: {known}", file=sys.stderr)
        return 2
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        if hasattr(module, "main"):
            module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
