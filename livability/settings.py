"""Settings: one typed object, built once at an entry point from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from livability.bucket import LocalBucket
from livability.warehouse import DuckDBWarehouse
from schemas import Registry, registry

DEFAULT_HOME = Path(".livability")
DEFAULT_DATASET = "sensor_data"
_DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


class SettingsError(ValueError):
    """A setting has a value the platform cannot use."""


@dataclass(frozen=True)
class Settings:
    """Where the platform keeps its data.

    home     local state folder: the DuckDB warehouse and the bucket folder
             (LIVABILITY_HOME, default `.livability/` in the working directory)
    dataset  the one dataset the event processor writes to (LIVABILITY_DATASET)
    """

    home: Path = DEFAULT_HOME
    dataset: str = DEFAULT_DATASET

    def __post_init__(self) -> None:
        if not _DATASET.match(self.dataset):
            raise SettingsError(
                f"LIVABILITY_DATASET: {self.dataset!r} is not a valid dataset name "
                "(letters, digits and underscores)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            home=Path(environ.get("LIVABILITY_HOME") or DEFAULT_HOME),
            dataset=environ.get("LIVABILITY_DATASET") or DEFAULT_DATASET,
        )

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def bucket_path(self) -> Path:
        return self.home / "bucket"

    def open_warehouse(self, schemas: Registry | None = None) -> DuckDBWarehouse:
        return DuckDBWarehouse(self.warehouse_path, schemas or registry(), self.dataset)

    def open_bucket(self) -> LocalBucket:
        return LocalBucket(self.bucket_path)


@cache
def shared_warehouse(settings: Settings) -> DuckDBWarehouse:
    """One open warehouse per settings and process, shared by its threads and callers.

    DuckDB lets one process at a time write a file; a long-lived process (the function
    runtime, the demo) keeps it open rather than paying for an open per message.
    """
    return settings.open_warehouse()
