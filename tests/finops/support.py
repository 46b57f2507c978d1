"""The real archived week's rows, as BigQuery exported them, for the FinOps size checks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def read_week(archive: Path, table: str) -> list[dict[str, Any]]:
    """The rows of the real archived week, as BigQuery exported them."""
    rows = []
    for path in sorted((archive / "2024-12-01" / table).glob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows
