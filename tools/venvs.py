"""Cached venvs for the tools that cannot share the project's venv, and the interpreters
they run on: one builder for the BigQuery stand-in (`tools/emulators.py`) and for infra's
checkov and function-bundle checks (`infra/tools.py`).

A venv is rebuilt only when what it was built from changed: a stamp file beside it
(`<venv>.stamp`) holds the hash of its pins and interpreter. Standard library only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

TAIL = 2000  # characters of a failed command's output kept in the error


class VenvError(RuntimeError):
    """A venv could not be built, or a command in it failed."""


def stamp_of(*parts: bytes) -> str:
    """One hash of `parts`, each hashed apart (so no two splits of the same bytes collide)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def python_of(version: str) -> Path | None:
    """An interpreter of Python `version` (e.g. "3.13"): pyenv's, else `python<version>` on
    PATH (what actions/setup-python provides in CI), else None."""
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


def run(args: list[str], what: str, env: dict[str, str] | None = None) -> str:
    """`args`' standard output; a VenvError naming `what` and the output's tail on failure."""
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-TAIL:]
        raise VenvError(f"{what} failed ({done.returncode}): {tail}")
    return done.stdout


def cached_venv(venv: Path, stamp: str, make: Callable[[Path], None], *, ready: str) -> Path:
    """`venv`, made by `make(venv)` unless it was made from `stamp` and holds `ready` (a path
    inside it). A build that fails leaves no stamp: the next call starts again."""
    stamp_file = venv.with_name(f"{venv.name}.stamp")
    if stamp_file.is_file() and stamp_file.read_text() == stamp and (venv / ready).is_file():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    stamp_file.unlink(missing_ok=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    make(venv)
    stamp_file.write_text(stamp)
    return venv


def pinned_venv(venv: Path, requirements: str, *, python: str = sys.executable, what: str) -> Path:
    """A venv at `venv` with exactly `requirements` (pinned, installed --no-deps) on `python`.

    Rebuilt only when the pins or the interpreter changed. Returns the venv's python.
    """

    def make(venv: Path) -> None:
        run([python, "-m", "venv", "--without-pip", str(venv)], f"creating the {what} venv")
        pins = venv.with_name(f"{venv.name}.requirements.txt")
        pins.write_text(requirements)
        # The project's pip installs into the new venv: no pip of its own to bootstrap.
        run(
            [
                sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                "--quiet", "--no-deps", "--disable-pip-version-check", "--requirement", str(pins),
            ],
            f"installing the {what} pins",
        )  # fmt: skip

    stamp = stamp_of(requirements.encode(), python.encode())
    return cached_venv(venv, stamp, make, ready="bin/python") / "bin" / "python"


def build_command(what: str, build: Callable[[], Path]) -> int:
    """Run `build` for a `build` command: print where `what` is ready, or the error; the
    command's exit status (0, or 1 on a VenvError)."""
    try:
        built = build()
    except VenvError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{what} ready: {built}")
    return 0
