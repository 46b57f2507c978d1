"""Local stand-ins for Google Cloud, built and run for the integration tests (local only).

BigQuery: `local-bigquery` (PyPI) needs Python >= 3.13, so it gets its own venv under
`.emulators/bigquery/`, pinned by `tools/emulator-pins/bigquery-*.txt`, with a private `$HOME`
that holds the DuckDB extensions it loads (DuckDB cannot download them on this network;
../shared/EMULATORS.md). Never shipped to a function.

    python -m tools.emulators build [ROOT]   # what `make emulators` runs
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from livability.net import answers, free_ports
from tools.venvs import VenvError, build_command, cached_venv, python_of, run, stamp_of

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "tools" / "emulator-pins" / "bigquery-requirements.txt"
# Installed with --no-deps: it asks for a DuckDB whose extensions cannot be downloaded here.
SERVER = REPO / "tools" / "emulator-pins" / "bigquery-server.txt"
DEFAULT_ROOT = REPO / ".emulators"
PYTHON_VERSION = "3.13"
PROJECT = "test-proj"
START_TIMEOUT = 60.0  # seconds for the stand-in to answer; it starts in about 2 s
STOP_TIMEOUT = 10.0
SERVER_ENTRY = "bin/local-bigquery"  # in the venv: there once the venv is complete


class EmulatorError(VenvError):
    """A stand-in could not be built or started."""


def bigquery_emulator_python() -> Path | None:
    """A Python 3.13 interpreter for local-bigquery: pyenv's, else `python3.13` on PATH."""
    return python_of(PYTHON_VERSION)


def _bigquery_dir(root: Path) -> Path:
    return root / "bigquery"


def build_bigquery_emulator(root: Path = DEFAULT_ROOT, python: Path | None = None) -> Path:
    """The stand-in's venv under `root/bigquery/venv`, built if missing or out of date.

    Idempotent: a stamp holds the hash of the pins it was built from. About a minute the
    first time (pip, no compilation). Returns the venv folder.
    """
    python = python or bigquery_emulator_python()
    if python is None:
        raise EmulatorError(f"no Python {PYTHON_VERSION} interpreter for local-bigquery")
    home = _bigquery_dir(root) / "home"

    def make(venv: Path) -> None:
        run([str(python), "-m", "venv", str(venv)], "creating the local-bigquery venv")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        run([*pip, "--requirement", str(REQUIREMENTS)], "installing the local-bigquery pins")
        run([*pip, "--no-deps", "--requirement", str(SERVER)], "installing local-bigquery")
        _install_duckdb_extensions(venv, home)

    stamp = stamp_of(REQUIREMENTS.read_bytes(), SERVER.read_bytes(), str(python).encode())
    return cached_venv(_bigquery_dir(root) / "venv", stamp, make, ready=SERVER_ENTRY)


def _install_duckdb_extensions(venv: Path, home: Path) -> None:
    """Copy the extension wheels' files to where DuckDB looks: $HOME/.duckdb/extensions."""
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import duckdb; print(duckdb.__version__, duckdb.sql('PRAGMA platform').fetchone()[0])",
        ],
        "asking the emulator's DuckDB for its version",
    ).split()
    version, platform = where[0], where[1]
    target = home / ".duckdb" / "extensions" / f"v{version}" / platform
    target.mkdir(parents=True, exist_ok=True)
    found = sorted(venv.glob("lib/python*/site-packages/duckdb_extension_*/**/*.duckdb_extension"))
    if not found:
        raise EmulatorError(f"no DuckDB extension files in {venv}")
    for extension in found:
        shutil.copy2(extension, target / extension.name)


# local-bigquery's own entry point, plus a thread that ends the server when its stdin closes:
# the pipe closes when the process that started it dies, even by SIGKILL, so a test run
# that is killed leaves no server behind.
_ORPHAN_GUARD = (
    "import os, sys, threading\n"
    "from local_bigquery.cli import main\n"
    "threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()\n"
    "main(sys.argv[1:])\n"
)


@contextmanager
def running_bigquery(root: Path, data_dir: Path) -> Iterator[str]:
    """Run local-bigquery on free ports with its data in `data_dir`; yields its endpoint.

    Builds the venv if needed, waits until the HTTP port answers (or the process dies, or
    `START_TIMEOUT` passes) and stops the server and its children on exit.
    """
    venv = build_bigquery_emulator(root)
    home = _bigquery_dir(root) / "home"
    data_dir.mkdir(parents=True, exist_ok=True)
    port, grpc_port = free_ports(2)
    endpoint = f"http://127.0.0.1:{port}"
    command = [
        str(venv / "bin" / "python"),
        "-c",
        _ORPHAN_GUARD,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--grpc-port",
        str(grpc_port),
        "--project",
        PROJECT,
        "--data-dir",
        str(data_dir),
    ]
    env = {**os.environ, "HOME": str(home)}
    env.pop("STORAGE_EMULATOR_HOST", None)  # the stand-in would export into it
    log_path = data_dir / "local-bigquery.log"
    with ExitStack() as stack:
        log = stack.enter_context(log_path.open("wb"))
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        stack.callback(_stop, process)
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(endpoint):
            try:
                code = process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise EmulatorError(
                        f"local-bigquery did not answer on {endpoint} within "
                        f"{START_TIMEOUT:.0f} s; see {log_path}"
                    ) from None
                continue
            raise EmulatorError(
                f"local-bigquery exited with {code}: {log_path.read_text(errors='replace')[-2000:]}"
            )
        yield endpoint


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and whatever it started (its own session)."""
    try:
        _signal_group(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()


def _signal_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()
    else:
        # The server is gone, but children in its group may linger.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "build" or len(args) > 2:
        print("usage: python -m tools.emulators build [ROOT]", file=sys.stderr)
        return 2
    root = Path(args[1]) if len(args) == 2 else DEFAULT_ROOT
    python = bigquery_emulator_python()
    if python is None:
        print(
            f"skipping the BigQuery stand-in: no Python {PYTHON_VERSION} interpreter "
            "(its tests will skip)"
        )
        return 0
    return build_command("BigQuery stand-in", lambda: build_bigquery_emulator(root, python))


if __name__ == "__main__":
    sys.exit(main())
