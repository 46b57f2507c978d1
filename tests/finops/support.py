"""Helpers the FinOps tests share: a scenario to vary, and the real archived week's rows."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from livability import finops


def read_week(archive: Path, table: str) -> list[dict[str, Any]]:
    """The rows of the real archived week, as BigQuery exported them."""
    rows = []
    for path in sorted((archive / "2024-12-01" / table).glob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def scenario(**changes: object) -> finops.Scenario:
    base = finops.Scenario(
        homes=1_000_000,
        locations=100,
        reading_interval=timedelta(minutes=10),
        weather_interval=timedelta(minutes=10),
        rows_per_message=6,
        ingest_mode="function",
    )
    return replace(base, **changes)  # type: ignore[arg-type]
