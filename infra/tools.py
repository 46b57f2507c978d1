"""Tool venvs the infra checks need apart from the project's: checkov (make infra-tools).

checkov pins old `packaging` and more, which conflict with the dev group, so it gets its own
venv under `.infra-cache/checkov/`, built from `infra/checkov-requirements.txt` (checkov and
its resolved closure, installed without resolving again) by the project's one venv builder
(`tools/venvs.py`): a stamp holds the hash of the pins and the interpreter, so the second run
costs nothing.

    python -m infra.tools build     # what `make infra-tools` runs
"""

from __future__ import annotations

import sys
from pathlib import Path

from tools.venvs import build_command, pinned_venv

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".infra-cache"
CHECKOV_REQUIREMENTS = Path(__file__).parent / "checkov-requirements.txt"


def cache_root(root: Path = CACHE) -> Path:
    """The cache folder, made to ignore itself in git (as .pytest_cache does)."""
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("# Built by infra/tools.py; never committed.\n*\n")
    return root


def checkov_venv(root: Path = CACHE) -> Path:
    """The checkov venv's folder (built if needed)."""
    venv = cache_root(root) / "checkov" / "venv"
    pinned_venv(venv, CHECKOV_REQUIREMENTS.read_text(), what="checkov")
    return venv


def checkov_binary(root: Path = CACHE) -> Path:
    return checkov_venv(root) / "bin" / "checkov"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["build"]:
        print("usage: python -m infra.tools build", file=sys.stderr)
        return 2
    return build_command("checkov", checkov_binary)


if __name__ == "__main__":
    sys.exit(main())
