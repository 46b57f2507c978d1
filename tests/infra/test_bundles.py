"""Function bundles: only the function's code and group, deterministic, importable alone.

Runs against: infra/bundles.py on the working tree and pylock.toml; the zips the real synth
stored in the stacks; two synths in two separate processes (`python infra/main.py`); and a
fresh venv of the functions' runtime (Python 3.13: pyenv's, or setup-python's in CI) per
distinct requirements.txt (pip, --no-deps, cached under .infra-cache/bundle-venvs/ keyed by
the requirements' hash and the runtime), where the unpacked
bundle is imported in an isolated interpreter (`-I`: no user site, no PYTHONPATH, no repo).
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra import bundles, tools
from infra.entrypoints import FUNCTIONS, REPO, FunctionSpec
from tests.infra.synth import Synth
from tools.venvs import pinned_venv, python_of

# What the function needs at run time beyond its entry module, by the settings it is given.
RUNTIME_IMPORTS = {
    "LIVABILITY_WAREHOUSE": "livability.adapters.bigquery",
    "LIVABILITY_BUCKET": "livability.adapters.gcs",
    "LIVABILITY_ARCHIVE": "livability.adapters.gcs",
    "LIVABILITY_TOPIC": "livability.adapters.pubsub",
    "OPENWEATHER_API_KEY_SECRET": "google.cloud.secretmanager",
}


def specs() -> list[Any]:
    out = []
    for spec in FUNCTIONS:
        marks = []
        if spec.pending:
            marks.append(
                pytest.mark.skip(reason=f"{spec.module} ({spec.title}) has not landed yet")
            )
        out.append(pytest.param(spec, id=spec.key, marks=marks))
    return out


@pytest.fixture(scope="module")
def built() -> dict[str, bundles.Bundle]:
    return {s.key: bundles.build(s) for s in FUNCTIONS if not s.pending}


@pytest.mark.parametrize("spec", specs())
def test_bundle_holds_only_its_code(spec: FunctionSpec, built: dict[str, bundles.Bundle]) -> None:
    bundle = built[spec.key]
    names = set(bundle.files)
    assert spec.module in names
    assert "main.py" in names
    assert "requirements.txt" in names
    forbidden = [
        n for n in names
        if n.startswith(
            ("tests/", "benchmarks/", "livability/cli/", "livability/sim/", "infra/", "edge/")
        )
        or "duckdb" in n or "simulator" in n or n.endswith((".pyc", ".duckdb"))
    ]  # fmt: skip
    assert not forbidden, f"{spec.key}: shipped {forbidden}"
    for name, content in bundle.files.items():
        if name.endswith(".py"):
            imported = _imported_roots(content)
            assert "duckdb" not in imported, f"{name} imports duckdb"
            assert not {"tests", "benchmarks", "infra"} & imported, f"{name} imports test code"
    assert {f"schemas/{t}" for t in ("tables.toml",)} <= names
    assert all(
        f"{m.replace('.', '/')}" in {n.removesuffix(".py").removesuffix("/__init__") for n in names}
        for m in bundle.modules
    )


def test_weekly_scoring_ships_the_certificates_and_only_it(
    built: dict[str, bundles.Bundle],
) -> None:
    templates = {f"livability/certificate/templates/{n}" for n in
                 ("home.html.j2", "index.html.j2", "style.css.j2")}  # fmt: skip
    for key, bundle in built.items():
        assert (templates <= set(bundle.files)) == (key == "weekly_score"), key
    assert "jinja2==3.1.6" in built["weekly_score"].requirements


def _imported_roots(source: bytes) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("spec", specs())
def test_generated_entry_module(spec: FunctionSpec, built: dict[str, bundles.Bundle]) -> None:
    text = built[spec.key].files["main.py"].decode()
    tree = ast.parse(text)
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert [(i.module, [a.name for a in i.names]) for i in imports] == [
        (spec.module_name, [spec.entry])
    ]


@pytest.mark.parametrize("spec", specs())
def test_requirements_pin_the_group_closure_from_the_lock(
    spec: FunctionSpec, built: dict[str, bundles.Bundle]
) -> None:
    lines = [
        line
        for line in built[spec.key].files["requirements.txt"].decode().splitlines()
        if line and not line.startswith("#")
    ]
    locked = bundles.locked_versions()
    pins = {}
    for line in lines:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        name = canonicalize_name(requirement.name)
        assert locked[name] == specifier.version, f"{line}: the lock pins {locked[name]}"
        pins[name] = specifier.version
    assert list(pins) == sorted(pins), "requirements sorted by name"
    direct = {canonicalize_name(r.name) for r in bundles.group_requirements(spec.groups)}
    assert direct <= set(pins), f"direct requirements missing: {direct - set(pins)}"
    assert "duckdb" not in pins
    assert "livability-score" not in pins
    assert ("polars" in pins) == ("scoring" in spec.groups), "polars only with the scoring group"


def test_an_unlocked_dependency_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = []\n'
        '[dependency-groups]\nfunctions = ["pytest==9.2.0"]\n'
    )
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\n[[packages]]\nname = "pytest"\nversion = "9.2.0"\n'
    )
    with pytest.raises(bundles.BundleError, match=r"not pinned in pylock\.toml"):
        bundles.pinned_requirements(("functions",), tmp_path)


def test_an_excluded_module_imported_at_top_level_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "__init__.py").write_text("")
    (tmp_path / "functions" / "bad.py").write_text("from livability.cli import app\n")
    (tmp_path / "livability" / "cli").mkdir(parents=True)
    for name in (
        "livability/__init__.py",
        "livability/cli/__init__.py",
        "livability/cli/app.py",
    ):
        (tmp_path / name).write_text("")
    with pytest.raises(bundles.BundleError, match=r"imports livability\.cli\.app at module level"):
        bundles.imported_modules("functions.bad", tmp_path)
    (tmp_path / "functions" / "lazy.py").write_text(
        "def f():\n    from livability.cli import app\n"
    )
    assert bundles.imported_modules("functions.lazy", tmp_path) == ("functions", "functions.lazy")


def test_zip_is_deterministic(built: dict[str, bundles.Bundle]) -> None:
    for key, bundle in built.items():
        again = bundles.build(bundle.spec)
        assert again.zip_bytes == bundle.zip_bytes, key
        with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes)) as archive:
            infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(bundle.files)
        assert {i.date_time for i in infos} == {bundles.ZIP_TIME}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert (
            bundle.object_name
            == f"functions/{key}/{hashlib.sha256(bundle.zip_bytes).hexdigest()}.zip"
        )


def test_two_synths_are_byte_identical(synthesized: dict[str, Synth], tmp_path: Path) -> None:
    """A second synth in another process: same stack JSON, same bundle bytes."""
    done = subprocess.run(
        [sys.executable, "infra/main.py", "dev", "prod", "--outdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, check=False,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("dev", "prod"):
        first = synthesized[name].path
        second = tmp_path / "stacks" / name
        assert (second / "cdk.tf.json").read_bytes() == (first / "cdk.tf.json").read_bytes()
        assets = sorted(p.relative_to(first) for p in first.rglob("*.zip"))
        assert assets, f"{name}: no bundles in the stack"
        assert assets == sorted(p.relative_to(second) for p in second.rglob("*.zip"))
        for asset in assets:
            assert (first / asset).read_bytes() == (second / asset).read_bytes(), asset


def _pins(bundle: bundles.Bundle) -> str:
    text = bundle.files["requirements.txt"].decode()
    return "".join(f"{line}\n" for line in text.splitlines() if line and not line.startswith("#"))


def _venv_key(bundle: bundles.Bundle) -> str:
    return hashlib.sha256(_pins(bundle).encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def venvs(built: dict[str, bundles.Bundle]) -> Path:
    """The bundle venvs' folder, without the venvs of requirements no bundle has any more."""
    root = tools.cache_root() / "bundle-venvs"
    root.mkdir(exist_ok=True)
    current = {f"{_venv_key(b)}-py{bundles.RUNTIME_VERSION}" for b in built.values()}
    for stale in root.iterdir():
        if stale.name not in current:
            shutil.rmtree(stale, ignore_errors=True)
    return root


@pytest.fixture(scope="module")
def runtime() -> Path:
    """An interpreter of the Cloud Functions runtime the stack deploys (bundles.RUNTIME)."""
    python = python_of(bundles.RUNTIME_VERSION)
    if python is None:
        pytest.skip(f"no Python {bundles.RUNTIME_VERSION} interpreter (pyenv or PATH)")
    return python


def _bundle_venv(bundle: bundles.Bundle, root: Path, python: Path) -> Path:
    venv = root / f"{_venv_key(bundle)}-py{bundles.RUNTIME_VERSION}" / "venv"
    return pinned_venv(venv, _pins(bundle), python=str(python), what=f"{bundle.spec.key} bundle")


def test_the_runtime_is_the_interpreter_the_bundles_are_checked_on(runtime: Path) -> None:
    done = subprocess.run(
        [str(runtime), "-c", "import sys; print('python%d%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == bundles.RUNTIME


@pytest.mark.parametrize("spec", specs())
def test_bundle_imports_alone(
    spec: FunctionSpec,
    built: dict[str, bundles.Bundle],
    venvs: Path,
    runtime: Path,
    tmp_path: Path,
) -> None:
    bundle = built[spec.key]
    with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes)) as archive:
        archive.extractall(tmp_path)
    python = _bundle_venv(bundle, venvs, runtime)
    needed = sorted({RUNTIME_IMPORTS[n] for n, _ in spec.environment if n in RUNTIME_IMPORTS})
    probe = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "import main\n"
        f"assert callable(main.{spec.entry}), 'entry is not callable'\n"
        f"for name in {needed!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'duckdb' not in sys.modules\n"
        "ours = [m for n, m in list(sys.modules.items())\n"
        f"        if n.split('.')[0] in {bundles.PACKAGES!r}]\n"
        f"assert ours, 'none of our modules imported'\n"
        f"assert all(m.__file__.startswith({str(tmp_path)!r}) for m in ours), 'repo code used'\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [str(python), "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    failure = f"{spec.key}: importing the bundle with only its requirements failed"
    assert done.returncode == 0, f"{failure}:\n{done.stderr[-3000:]}"
    assert done.stdout.strip() == "ok", f"{failure}: {done.stdout}"
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, (
        f"{spec.key}: requirements.txt is not a closed set:\n{check.stdout}"
    )
