"""Function bundles: only a function's own code and dependency group, zipped deterministically.

A bundle holds
- `main.py`, generated: Cloud Functions loads it and calls the entry it re-exports;
- the modules of our packages the entry module imports, found by walking the imports
  (top-level and lazy ones; `if TYPE_CHECKING:` blocks never run and are not followed),
  minus local-only code (`livability.cli`, `livability.sim`: CLI, demo, simulator) and the
  DuckDB adapter;
- the data files of the packages it touches (`schemas/*.json`, `schemas/tables.toml`);
- `requirements.txt`: the transitive closure of the function's dependency groups (plus the
  project's own dependencies), each pinned to the version `pylock.toml` locks. `pylock.toml`
  carries no per-group information, so the closure is resolved from the installed
  distributions' metadata, with markers evaluated for the Cloud Functions runtime.

The zip is a function of the content only (sorted entries, fixed timestamps and
permissions), and the stack stores it under its SHA-256: a code change redeploys that
function and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.entrypoints import REPO, FunctionSpec

# The packages a function may ship, as `pyproject.toml` builds them.
PACKAGES = ("livability", "schemas", "functions", "scoring", "edge")
# Never shipped in a function, whoever imports them (lazily): local-only code and DuckDB.
EXCLUDED = (
    "livability.cli",
    "livability.sim",
    "livability.adapters.duckdb_warehouse",
    "livability.adapters.duckdb_schema",
)
# The newest runtime every bundle is verified to install and import on: tests/infra/
# test_bundles.py installs each requirements.txt into a Python 3.13 venv and imports the bundle.
# (python314 is also offered, and every pin has a cp314 or pure wheel, but no 3.14 interpreter
# exists here to import the bundles with; docs/deploy.md says how to move.)
RUNTIME = "python313"
RUNTIME_VERSION = "3.13"
# The Cloud Functions runtime, for environment markers (`python_version < "3.12"`, ...).
TARGET_MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": f"{RUNTIME_VERSION}.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": f"{RUNTIME_VERSION}.0",
    "python_version": RUNTIME_VERSION,
    "sys_platform": "linux",
}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
ZIP_MODE = 0o100644 << 16  # a regular file, rw-r--r--


class BundleError(RuntimeError):
    """A bundle cannot be built; the message names the function and the cause."""


@dataclass(frozen=True)
class Bundle:
    spec: FunctionSpec
    modules: tuple[str, ...]
    files: Mapping[str, bytes]  # archive path -> content, requirements.txt and main.py included
    requirements: tuple[str, ...]

    @cached_property
    def zip_bytes(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name in sorted(self.files):
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.external_attr = ZIP_MODE
                info.create_system = 3  # unix, so the mode above is read as such
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, self.files[name], compresslevel=9)
        return out.getvalue()

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.zip_bytes).hexdigest()

    @property
    def object_name(self) -> str:
        """Where the bundle lives in the function-source bucket: named by its content."""
        return f"functions/{self.spec.key}/{self.sha256}.zip"

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.spec.key}-{self.sha256[:16]}.zip"
        if not path.is_file() or path.read_bytes() != self.zip_bytes:
            path.write_bytes(self.zip_bytes)
        return path


def build(spec: FunctionSpec, repo: Path = REPO) -> Bundle:
    """The bundle of `spec`, from the working tree at `repo`."""
    if not (repo / spec.module).is_file():
        raise BundleError(f"{spec.title}: module {spec.module} does not exist")
    modules = imported_modules(spec.module_name, repo)
    files: dict[str, bytes] = {}
    for name in modules:
        path = _module_file(name, repo)
        assert path is not None  # imported_modules only returns modules it found
        files[path.relative_to(repo).as_posix()] = path.read_bytes()
    for package_dir in sorted({_module_file(m, repo).parent for m in modules}):  # type: ignore[union-attr]
        for path in data_files(package_dir):
            files[path.relative_to(repo).as_posix()] = path.read_bytes()
    if "main.py" in files:
        raise BundleError(f"{spec.title}: a module named main.py at the root clashes")
    files["main.py"] = entry_module_text(spec).encode()
    requirements = pinned_requirements(spec.groups, repo)
    files["requirements.txt"] = requirements_text(spec, requirements).encode()
    return Bundle(spec, modules, files, requirements)


@cache
def build_cached(spec: FunctionSpec) -> Bundle:
    """`build(spec)` once per process: every environment ships the same bundle."""
    return build(spec)


def entry_module_text(spec: FunctionSpec) -> str:
    return (
        f'"""Generated by infra/bundles.py: the entry point of the {spec.title}.\n\n'
        f"Cloud Functions loads this file and calls `{spec.entry}` "
        f"({spec.module}::{spec.entry}).\n"
        '"""\n\n'
        f"from {spec.module_name} import {spec.entry}\n\n"
        f'__all__ = ["{spec.entry}"]\n'
    )


def requirements_text(spec: FunctionSpec, requirements: Iterable[str]) -> str:
    groups = ", ".join(spec.groups)
    header = (
        f"# Generated by infra/bundles.py from pylock.toml: the {spec.title}'s dependency "
        f"group(s) {groups} and their transitive closure, pinned.\n"
    )
    return header + "".join(f"{line}\n" for line in requirements)


# --- imports ---


# Why a module is never shipped (None: it may be), given its name and file.
Exclusion = Callable[[str, Path], str | None]


def imported_modules(
    entry: str, repo: Path = REPO, never: Exclusion | None = None
) -> tuple[str, ...]:
    """`entry` and every module of PACKAGES it reaches through imports, with their packages.

    `never` says which modules are never shipped (for a function: EXCLUDED). One imported at
    the top of a shipped module is an error (the artifact could not import); imported lazily,
    it is left out and fails only if that code path runs.
    """
    never = never or _never_in_a_function
    if _module_file(entry, repo) is None:
        raise BundleError(f"module {entry} does not exist under {repo}")
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name, repo)
        assert path is not None
        for target, top_level in _imports(name, path, repo):
            reason = never(target, module_file(target, repo))
            if reason is not None:
                if top_level:
                    raise BundleError(
                        f"{name} imports {target} at module level, which is never shipped {reason}"
                    )
                continue
            todo.append(target)
    with_packages = set(seen)
    for name in seen:
        parts = name.split(".")
        with_packages.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return tuple(sorted(with_packages))


def _never_in_a_function(name: str, _path: Path) -> str | None:
    if any(name == e or name.startswith(f"{e}.") for e in EXCLUDED):
        return f"in a function ({', '.join(EXCLUDED)})"
    return None


def module_file(name: str, repo: Path = REPO) -> Path:
    """The file of module `name` of ours under `repo`."""
    path = _module_file(name, repo)
    if path is None:
        raise BundleError(f"module {name} does not exist under {repo}")
    return path


def external_imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(name not of ours, whether at module level) for each import in `path`: `a.b` for
    `import a.b`, `a.b.c` for `from a.b import c` (`c` may be a module or a name in `a.b`:
    the caller knows which modules exist)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node, top_level in _walk(tree.body, top_level=True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _ours(alias.name):
                    yield alias.name, top_level
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if _ours(node.module) or node.module == "__future__":
                continue
            for alias in node.names:
                yield f"{node.module}.{alias.name}", top_level


def _ours(name: str) -> bool:
    return name.split(".", maxsplit=1)[0] in PACKAGES


def _module_file(name: str, repo: Path) -> Path | None:
    base = repo.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str, path: Path, repo: Path) -> Iterator[tuple[str, bool]]:
    """(module of ours imported, whether at module level) for each import in `path`."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node, top_level in _walk(tree.body, top_level=True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    yield _existing(alias.name, repo, path), top_level
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if not _ours(base):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if _module_file(sub, repo) is not None:
                    yield sub, top_level
                else:
                    yield _existing(base, repo, path), top_level


def _existing(name: str, repo: Path, where: Path) -> str:
    if _module_file(name, repo) is None:
        raise BundleError(f"{where.relative_to(repo)} imports {name}, which does not exist")
    return name


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    if node.level > 1:
        parts = parts[: -(node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _walk(nodes: Iterable[ast.AST], *, top_level: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every import statement under `nodes`; top_level is False inside a def or lambda."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _walk(node.orelse, top_level=top_level)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, top_level
        else:
            nested = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from _walk(ast.iter_child_nodes(node), top_level=top_level and not nested)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def data_files(package_dir: Path) -> Iterator[Path]:
    """Files beside a package's modules that it reads at run time (not code, not caches, not
    documentation or build recipes such as edge/README.md and edge/Dockerfile)."""
    for path in sorted(package_dir.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__" or _not_data(path.name):
            continue
        if path.is_file() and path.suffix not in (".py", ".pyc", ".pyi"):
            yield path
        elif path.is_dir() and not (path / "__init__.py").exists():
            yield from (
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )


def _not_data(name: str) -> bool:
    return name.endswith(".md") or name.startswith("Dockerfile")


# --- requirements ---


@cache
def _pyproject(repo: Path) -> dict[str, Any]:
    return tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))


@cache
def locked_versions(repo: Path = REPO) -> dict[str, str]:
    """Distribution name (canonical) -> the version `pylock.toml` pins."""
    lock = tomllib.loads((repo / "pylock.toml").read_text(encoding="utf-8"))
    return {canonicalize_name(p["name"]): p["version"] for p in lock["packages"] if "version" in p}


def group_requirements(
    groups: Iterable[str], repo: Path = REPO, *, with_project: bool = True
) -> list[Requirement]:
    """The direct requirements of the groups (include-group expanded) and, `with_project`, of
    the project (a function installs the project; the edge image only its group)."""
    project = _pyproject(repo)
    declared: dict[str, list[Any]] = project.get("dependency-groups", {})
    dependencies = project["project"].get("dependencies", []) if with_project else []
    out = [Requirement(r) for r in dependencies]
    seen: set[str] = set()

    def expand(group: str) -> None:
        if group in seen:
            return
        seen.add(group)
        if group not in declared:
            raise BundleError(f"dependency group {group!r} is not in pyproject.toml")
        for item in declared[group]:
            if isinstance(item, dict):
                expand(str(item["include-group"]))
            else:
                out.append(Requirement(str(item)))

    for group in groups:
        expand(group)
    return out


def pinned_requirements(
    groups: Iterable[str],
    repo: Path = REPO,
    *,
    markers: Mapping[str, str] = TARGET_MARKERS,
    with_project: bool = True,
) -> tuple[str, ...]:
    """`name==version` for the closure of `groups`, sorted, every version from the lock;
    environment markers evaluated for `markers` (the Cloud Functions runtime by default)."""
    locked = locked_versions(repo)
    environment: dict[str, str] = {**cast(dict[str, str], default_environment()), **markers}
    closure: dict[str, set[str]] = {}  # canonical name -> extras requested
    requested = group_requirements(groups, repo, with_project=with_project)
    todo = [r for r in requested if _applies(r, environment, "")]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        known = closure.get(name)
        if known is not None and extras <= known:
            continue
        closure[name] = (known or set()) | extras
        for dependency in _dependencies(name, closure[name], environment, locked):
            todo.append(dependency)
    missing = sorted(n for n in closure if n not in locked)
    if missing:
        raise BundleError(f"{', '.join(missing)} not pinned in pylock.toml (run `make lock`)")
    return tuple(f"{name}=={locked[name]}" for name in sorted(closure))


def _applies(requirement: Requirement, environment: dict[str, str], extra: str) -> bool:
    if requirement.marker is None:
        return True
    return requirement.marker.evaluate({**environment, "extra": extra})


def _dependencies(
    name: str, extras: set[str], environment: dict[str, str], locked: Mapping[str, str]
) -> Iterator[Requirement]:
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise BundleError(
            f"{name} is not installed, so its dependencies are unknown: install the function "
            "groups first (`make synth` does)"
        ) from None
    installed = distribution.version
    if name in locked and installed != locked[name]:
        raise BundleError(
            f"{name} {installed} is installed but pylock.toml pins {locked[name]}: the "
            "closure would be read from the wrong metadata (re-run make)"
        )
    for text in distribution.requires or ():
        requirement = Requirement(text)
        if any(_applies(requirement, environment, e) for e in ("", *sorted(extras))):
            yield requirement
