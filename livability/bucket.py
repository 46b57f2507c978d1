"""The object-store interface and its embedded default, a local folder.

Shaped like Cloud Storage (put/get/list by key, content type), so a GCS implementation
slots in beside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol


class Bucket(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Store `data` under `key` and return its URI."""
        ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys that start with `prefix`, sorted."""
        ...


def check_key(key: str) -> str:
    """An object key: relative, '/'-separated, no '.' or '..' segments."""
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or any(p in (".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"object key {key!r} must be a relative path without '.' or '..'")
    return key


class LocalBucket:
    """A folder standing in for a bucket; writes are atomic (write, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        target = self.root / check_key(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        Path(tmp).replace(target)
        return target.resolve().as_uri()

    def get(self, key: str) -> bytes:
        return (self.root / check_key(key)).read_bytes()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )
        return sorted(k for k in keys if k.startswith(prefix))
