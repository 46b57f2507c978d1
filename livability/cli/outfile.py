"""Where a command writes the file its `--out` names (issue 16 #3): `export` and `report`.

The rules, the same for both commands:
- `-` writes to stdout, on purpose (a binary format only when stdout is not a terminal);
- an existing folder gets the command's default file name inside it, and the command says
  the path it wrote;
- an existing target that is not a regular file (a symbolic link, a device such as
  /dev/full, a FIFO, a socket) is refused: it is never replaced, never written through;
- the file appears whole or not at all: it is written beside the target and renamed over it,
  after the target is checked again (a link or device put there meanwhile is not replaced).
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from livability.cli.common import CliError, inert

STDOUT = "-"


@dataclass(frozen=True)
class Target:
    """A checked `--out`: a file path, or stdout (`path` None)."""

    path: Path | None
    option: str = "--out"

    @property
    def shown(self) -> str:
        return "stdout" if self.path is None else inert(self.path)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_target(path: Path, option: str = "--out") -> None:
    """`CliError` unless `path` is absent or an existing regular file (links not followed)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise CliError(f"{option} {inert(path)}: cannot check ({err.strerror or err})") from None
    if not stat.S_ISREG(mode):
        raise CliError(
            f"{option} {inert(path)}: {_kind(mode)}, not a regular file: not replaced; give a "
            f"file name (or {STDOUT} for stdout)"
        )


def resolve(
    text: str,
    default_name: str,
    *,
    suffixes: tuple[str, ...] = (),
    binary: bool = False,
    option: str = "--out",
) -> Target:
    """The target `--out TEXT` names, checked; `default_name` is used inside a folder.

    `suffixes`, if given, are the name endings the file's format allows (`x.txt` for a PNG
    is refused rather than written as a PNG under a misleading name).
    """
    if text == STDOUT:
        if binary and sys.stdout.isatty():
            raise CliError(f"{option} {STDOUT}: stdout is a terminal; redirect it to a file")
        return Target(None, option)
    if not text:
        raise CliError(f"{option} is empty: give a file name (or {STDOUT} for stdout)")
    path = Path(text)
    if text.endswith("/") or (path.is_dir() and not path.is_symlink()):
        path = path / default_name
    if suffixes and path.suffix.lower() not in suffixes:
        raise CliError(
            f"{option} {inert(text)}: the file is {' or '.join(suffixes)}; give a name ending "
            f"so, a folder, or {STDOUT} for stdout"
        )
    check_target(path, option)
    return Target(path, option)


@contextmanager
def writing(target: Target) -> Iterator[IO[bytes]]:
    """A binary stream for `target`: stdout, or a temporary file renamed over the target."""
    if target.path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    out = target.path
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as err:
        raise CliError(
            f"{target.option} {target.shown}: cannot write there ({err.strerror or err})"
        ) from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
        check_target(out, target.option)  # again: nothing but a regular file is replaced
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
