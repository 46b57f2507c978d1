"""Code as an earlier commit held it, imported beside today's: the benchmarks' named baselines.

`git show COMMIT:<path>` reads each module as it was; they are imported as a package of their
own with their `from scoring ...` lines pointed at each other, so an earlier model runs in the
same process, on the same rows, as the current one. Needs the repository's history (not a
shallow clone without that commit): it says so otherwise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def show(commit: str, path: str) -> str:
    """The text of `path` at `commit`."""
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(
            f"cannot read {path} from commit {commit[:12]}: the benchmark needs the "
            "repository's history (git fetch --unshallow)"
        ) from error


def scoring_package(commit: str, package: str, modules: tuple[str, ...]) -> dict[str, ModuleType]:
    """`scoring/<name>.py` of `commit` for each name of `modules` (in import order), imported
    as `<package>.<name>`; by name."""
    root = ModuleType(package)
    root.__path__ = []
    sys.modules[package] = root
    loaded: dict[str, ModuleType] = {}
    for name in modules:
        source = (
            show(commit, f"scoring/{name}.py")
            .replace("from scoring import", f"from {package} import")
            .replace("from scoring.", f"from {package}.")
        )
        spec = importlib.util.spec_from_loader(f"{package}.{name}", loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        exec(compile(source, f"{commit[:12]}:scoring/{name}.py", "exec"), module.__dict__)
        setattr(root, name, module)
        loaded[name] = module
    return loaded
