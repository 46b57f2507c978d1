"""Tool venvs the infra checks need apart from the project's: checkov (make infra-tools).

checkov pins old `packaging` and more, which conflict with the dev group, so it gets its own
venv under `.infra-cache/checkov/`, built from `infra/checkov-requirements.txt` (checkov and
its resolved closure, installed without resolving again). A stamp holds the hash of the pins
and the interpreter: the second run costs nothing.

    python -m infra.tools build     # what `make infra-tools` runs
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".infra-cache"
CHECKOV_REQUIREMENTS = Path(__file__).parent / "checkov-requirements.txt"


class ToolError(RuntimeError):
    """A tool venv could not be built."""


def cache_root(root: Path = CACHE) -> Path:
    """The cache folder, made to ignore itself in git (as .pytest_cache does)."""
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("# Built by infra/tools.py; never committed.\n*\n")
    return root


def stamp_of(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def build_venv(venv: Path, requirements: str, *, python: str = sys.executable, what: str) -> Path:
    """A venv at `venv` with exactly `requirements` (pinned, installed --no-deps).

    Rebuilt only when the pins or the interpreter changed. Returns the venv's python.
    """
    stamp = stamp_of(requirements.encode(), python.encode())
    stamp_file = venv.with_name(f"{venv.name}.stamp")
    interpreter = venv / "bin" / "python"
    if stamp_file.is_file() and stamp_file.read_text() == stamp and interpreter.is_file():
        return interpreter
    shutil.rmtree(venv, ignore_errors=True)
    stamp_file.unlink(missing_ok=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([python, "-m", "venv", "--without-pip", str(venv)], f"creating the {what} venv")
    pins = venv.with_name(f"{venv.name}.requirements.txt")
    pins.write_text(requirements)
    # The project's pip installs into the new venv: no pip of its own to bootstrap.
    _run(
        [
            sys.executable, "-m", "pip", "--python", str(interpreter), "install", "--quiet",
            "--no-deps", "--disable-pip-version-check", "--requirement", str(pins),
        ],
        f"installing the {what} pins",
    )  # fmt: skip
    stamp_file.write_text(stamp)
    return interpreter


def runtime_python(version: str) -> Path | None:
    """An interpreter of the functions' runtime `version` (e.g. 3.13): pyenv's, else
    `python<version>` on PATH (what actions/setup-python provides in CI), else None."""
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        found = subprocess.run(
            [pyenv, "prefix", f"{version}.0"], capture_output=True, text=True, check=False
        )
        candidate = Path(found.stdout.strip()) / "bin" / f"python{version}"
        if found.returncode == 0 and candidate.is_file():
            return candidate
    on_path = shutil.which(f"python{version}")
    if on_path is None:
        return None
    # A pyenv shim exists even when that version is not installed: ask it.
    probe = subprocess.run(
        [on_path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(on_path) if probe.stdout.strip() == version else None


def checkov_venv(root: Path = CACHE) -> Path:
    """The checkov venv's folder (built if needed)."""
    venv = cache_root(root) / "checkov" / "venv"
    build_venv(venv, CHECKOV_REQUIREMENTS.read_text(), what="checkov")
    return venv


def checkov_binary(root: Path = CACHE) -> Path:
    return checkov_venv(root) / "bin" / "checkov"


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolError(
            f"{what} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}"
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["build"]:
        print("usage: python -m infra.tools build", file=sys.stderr)
        return 2
    try:
        binary = checkov_binary()
    except ToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"checkov ready: {binary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
