"""The embedded default bucket: a local folder, keys as relative paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from livability.ports import BucketError, ObjectNotFoundError, check_key

_TMP = ".tmp-"


class LocalBucket:
    """A folder standing in for a bucket; writes are atomic (write, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.resolve().as_uri()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        target = self.root / check_key(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_TMP)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            Path(tmp).replace(target)
        except OSError as err:
            raise BucketError(f"cannot write {key} to {self.root}: {err}") from err
        return target.resolve().as_uri()

    def get(self, key: str) -> bytes:
        path = self.root / check_key(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {key} in {self.url}") from None
        except OSError as err:
            raise BucketError(f"cannot read {key} from {self.root}: {err}") from err

    def list(self, prefix: str = "") -> list[str]:
        blocked = [p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()]
        if blocked:
            raise BucketError(f"cannot list {prefix!r} in {self.url}: {blocked[0]} is not a folder")
        if not self.root.exists():
            return []  # an empty bucket: nothing written yet
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(_TMP)
        )
        return sorted(k for k in keys if k.startswith(prefix))

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own files."""
