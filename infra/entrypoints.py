"""The Cloud Functions the stack deploys: the entry-point table of the project, as data.

Each entry names its module and function, how it is triggered, the dependency groups of
`pyproject.toml` its bundle installs and the environment it runs with (templates filled per
environment by the functions construct). The bundle builder (`infra/bundles.py`) and the
tests iterate over `FUNCTIONS`; nothing else lists the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[1]

# Modules another change of this session is still writing. A function whose module is
# listed here and absent is left out of the stack with a synth warning; any other missing
# module is an error. Empty this set once every module has landed.
PENDING_MODULES: frozenset[str] = frozenset()
DEFAULT_MEMORY = "512Mi"
DEFAULT_TIMEOUT = 60  # seconds
Schedule = Literal["weather", "scoring", "archive", "fleet", "rollup"]


@dataclass(frozen=True)
class FunctionSpec:
    """One gen2 Cloud Function."""

    key: str  # resource ids and names: `<prefix>-<key with - for _>`
    title: str
    module: str  # path from the repository root
    entry: str
    trigger: Literal["pubsub", "http"]
    groups: tuple[str, ...]  # dependency groups of pyproject.toml
    # Environment variables; `{project}`, `{dataset}`, `{data_bucket}`, `{archive_bucket}`,
    # `{weather_locations}`, `{rows_per_message}`, `{processor_threads}` are filled per
    # environment. An empty value leaves the variable out.
    environment: tuple[tuple[str, str], ...]
    schedule: Schedule | None = None  # Environment.schedules
    memory: str = DEFAULT_MEMORY
    timeout_seconds: int = DEFAULT_TIMEOUT

    @property
    def module_name(self) -> str:
        return self.module.removesuffix(".py").replace("/", ".")

    @property
    def path(self) -> Path:
        return REPO / self.module

    @property
    def pending(self) -> bool:
        """Still being written elsewhere and not there yet: skipped, with a warning."""
        return self.module in PENDING_MODULES and not self.path.is_file()

    @property
    def resource_name(self) -> str:
        return self.key.replace("_", "-")


WAREHOUSE = ("LIVABILITY_WAREHOUSE", "bigquery://{project}/{dataset}")
# A weekly job may run as long as Cloud Scheduler waits for an HTTP target: 30 minutes.
WEEKLY_TIMEOUT = 1800
# The hourly fleet check: one query of 7 days of four columns; well inside its hour.
FLEET_TIMEOUT = 300


def _scheduled(
    key: str,
    title: str,
    schedule: Schedule,
    groups: tuple[str, ...],
    environment: tuple[tuple[str, str], ...],
    *,
    entry: str | None = None,
    memory: str = DEFAULT_MEMORY,
    timeout_seconds: int = DEFAULT_TIMEOUT,
) -> FunctionSpec:
    """A function its Cloud Scheduler job calls over HTTP: module `functions/<key>.py`,
    entry point `key` unless `entry` names another."""
    return FunctionSpec(
        key=key,
        title=title,
        module=f"functions/{key}.py",
        entry=entry or key,
        trigger="http",
        groups=groups,
        environment=environment,
        schedule=schedule,
        memory=memory,
        timeout_seconds=timeout_seconds,
    )


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        key="event_processor",
        title="event processor",
        module="functions/main.py",
        entry="event_processor",
        trigger="pubsub",
        groups=("functions",),
        # functions-framework serves THREADS requests at once (its default is 4 per CPU): as
        # many as the instance is sized to take (infra/sizing.py).
        # The data bucket keeps a dead letter's whole payload when it is over the table's 1 MB.
        environment=(
            WAREHOUSE,
            ("LIVABILITY_BUCKET", "gs://{data_bucket}"),
            ("THREADS", "{processor_threads}"),
        ),
    ),
    _scheduled(
        "weather",
        "weather poller",
        "weather",
        ("weather",),
        (
            ("LIVABILITY_TOPIC", "projects/{project}/topics/meteo_data"),
            ("LIVABILITY_ROWS_PER_MESSAGE", "{rows_per_message}"),
            (
                "OPENWEATHER_API_KEY_SECRET",
                "projects/{project}/secrets/OPENWEATHER_API_KEY/versions/latest",
            ),
            ("LIVABILITY_WEATHER_LOCATIONS", "{weather_locations}"),
            WAREHOUSE,
            ("LIVABILITY_BUCKET", "gs://{data_bucket}"),
        ),
        entry="meteodata_event",
    ),
    _scheduled(
        "weekly_score",
        "weekly scoring",
        "scoring",
        ("scoring", "functions", "certificate"),
        (WAREHOUSE, ("LIVABILITY_BUCKET", "gs://{data_bucket}")),
        memory="2Gi",
        timeout_seconds=WEEKLY_TIMEOUT,
    ),
    _scheduled(
        "weekly_archive",
        "weekly archive",
        "archive",
        ("functions",),
        (WAREHOUSE, ("LIVABILITY_ARCHIVE", "gs://{archive_bucket}")),
        timeout_seconds=WEEKLY_TIMEOUT,
    ),
    # The fleet query's SQL is transpiled by SQLGlot (the scoring group); no bucket.
    _scheduled(
        "fleet_health",
        "fleet check",
        "fleet",
        ("scoring", "functions"),
        (WAREHOUSE,),
        timeout_seconds=FLEET_TIMEOUT,
    ),
    # The daily rollup (scoring/daily.py): the days' SQL runs in BigQuery, the function waits
    # (about a minute a day at 1M homes: 2 days and the odd missing one fit its 30 minutes).
    _scheduled(
        "daily_rollup",
        "daily rollup",
        "rollup",
        ("scoring", "functions"),
        (WAREHOUSE,),
        timeout_seconds=WEEKLY_TIMEOUT,
    ),
)


def by_key(key: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.key == key:
            return spec
    raise KeyError(f"no function {key!r} (known: {', '.join(f.key for f in FUNCTIONS)})")
