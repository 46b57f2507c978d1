"""pylock.toml → pip constraints: one `name==version` line per locked package.

The one export of the lock, for `make` (each dependency group installs with it) and the edge
image's build stage (which copies this file alone): `python tools/constraints.py pylock.toml`.
Standard library only.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def constraints(lock: Path) -> str:
    packages = tomllib.loads(lock.read_text(encoding="utf-8"))["packages"]
    return "\n".join(f"{p['name']}=={p['version']}" for p in packages if "version" in p)


if __name__ == "__main__":
    print(constraints(Path(sys.argv[1] if len(sys.argv) > 1 else "pylock.toml")))
