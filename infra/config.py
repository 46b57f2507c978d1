"""Environments as data: `infra/environments/<env>.toml` loaded into typed, frozen objects.

The loader is the platform's one settings mechanism (`livability.config.from_mapping`), and
strict: an unknown key (a typo), a missing key or a value of the wrong type is a `ConfigError`
naming the file and the key (`dev.toml: schedules.weathr: unknown key (known: archive,
scoring, time_zone, weather)`). What a type cannot say (ids, patterns, ranges) the classes
check in `__post_init__`. Nothing else in `infra/` reads the files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livability import config as loader
from livability.gcp import BUCKET_NAME, DATASET_ID, PROJECT_ID, IngestMode

ENVIRONMENTS = Path(__file__).parent / "environments"

# cloud.google.com/resource-manager/docs/creating-managing-projects
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]$")
# Every resource name starts with the prefix; service account ids are the tightest limit
# (6-30 characters, lowercase letters, digits and hyphens), hence the short prefix.
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,10}[a-z0-9]$")
_GROUP = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_SERVICE_ACCOUNT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_MEMBER = re.compile(r"^(group|user|serviceAccount|domain):[^\s]+$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# One branch, or tags by a prefix: what the Workload Identity condition can state exactly.
_DEPLOY_REF = re.compile(r"^refs/(heads/[A-Za-z0-9._/-]+|tags/[A-Za-z0-9._/-]+\*?)$")
_BILLING = re.compile(r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_CRON_FIELD = re.compile(r"^[0-9*/,\-]+$")
# "lat,lon;lat,lon" as the weather poller reads LIVABILITY_WEATHER_LOCATIONS.
_LOCATIONS = re.compile(r"^-?[0-9.]+,-?[0-9.]+(;-?[0-9.]+,-?[0-9.]+)*$")
# The longest service account suffix the stack adds to the prefix (`-sched-scoring`).
LONGEST_ROLE_SUFFIX = 14


class ConfigError(loader.ConfigError):
    """An environment file the stack cannot be built from; the message names the key."""


@dataclass(frozen=True)
class Schedules:
    """Cloud Scheduler cron expressions (unix-cron, 5 fields) and their time zone."""

    weather: str = "*/10 * * * *"
    scoring: str = "0 3 * * 1"
    archive: str = "0 4 * * 1"
    fleet: str = "0 * * * *"  # the fleet check, hourly
    rollup: str = "30 2 * * *"  # the daily rollup: yesterday closed, before Monday's scoring
    time_zone: str = "Etc/UTC"


@dataclass(frozen=True)
class DeviceGroup:
    """Gateways that share one service account key; a leaked key exposes only its group."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class Budget:
    """A monthly budget alert; declared only when `billing_account` is set."""

    amount: int
    currency: str = "EUR"
    thresholds: tuple[float, ...] = (0.5, 0.9, 1.0)
    billing_account: str | None = None


@dataclass(frozen=True)
class Alerts:
    """Who is told, and the two thresholds that depend on the fleet's size (docs/operations.md).

    `emails`: one email notification channel each; every alert policy and the budget notify
    them all. `dead_letters_per_hour`: more in an hour is a flood, not the odd bad reading.
    `silent_homes`: more silent gateways in one hourly check than this alerts."""

    emails: tuple[str, ...]
    dead_letters_per_hour: int = 60
    silent_homes: int = 0


@dataclass(frozen=True)
class GitHub:
    """The repository whose Actions may plan (pull requests) and deploy (its environments).

    Names can be renamed and re-registered by someone else; the numeric ids cannot, so the
    Workload Identity provider checks them (`gh api repos/OWNER/NAME --jq '.id, .owner.id'`).
    `deploy_ref` is the one git ref the environment's jobs may run from: `refs/heads/main`,
    or a tag pattern such as `refs/tags/v*` (a trailing `*` matches any suffix).
    """

    repository: str
    repository_id: int
    owner_id: int
    deploy_ref: str


@dataclass(frozen=True)
class Load:
    """What the event processor must absorb: sizes its CPU, concurrency and instances.

    Gateways send when their oldest reading has waited `rows_per_message` readings (an hour at
    the defaults) and their reading windows are aligned to the epoch, so each window's end
    brings `homes / rows_per_message` messages at once; `drain_seconds` is how long such a
    burst may take to drain (docs/deploy.md, "Sizing the event processor").
    """

    homes: int
    reading_minutes: int = 10  # the gateways' reading window
    rows_per_message: int = 6
    drain_seconds: int = 60


@dataclass(frozen=True)
class Environment:
    """One deployment: a project, its region and what runs there."""

    name: str  # the file's name, never a key in it
    project: str
    region: str
    name_prefix: str  # starts every resource name (see _PREFIX)
    state_bucket: str  # Terraform's state (the GCS backend)
    github: GitHub
    ingest_mode: IngestMode = "function"
    # BigQuery dataset and bucket location: a region or a multi-region (EU, US).
    location: str = "EU"
    dataset: str = "sensor_data"
    public_archive: bool = False
    # Members (group:..., user:...) who may read the archive bucket, and nothing else.
    archive_readers: tuple[str, ...] = ()
    # Members who may read the certificates (`certificates/` of the data bucket), nothing else.
    certificate_readers: tuple[str, ...] = ()
    deletion_protection: bool = True
    partition_expiration_days: int = 365
    load: Load = field(default_factory=lambda: Load(homes=100))
    weather_locations: str = ""
    schedules: Schedules = field(default_factory=Schedules)
    device_groups: tuple[DeviceGroup, ...] = ()
    budget: Budget | None = None
    alerts: Alerts | None = None

    def __post_init__(self) -> None:
        checks: list[tuple[str, Any, re.Pattern[str], str]] = [
            ("project", self.project, PROJECT_ID, "a project id"),
            ("region", self.region, _REGION, "a region like europe-west1"),
            ("name_prefix", self.name_prefix, _PREFIX, "3-12 lowercase letters, digits, -"),
            ("state_bucket", self.state_bucket, BUCKET_NAME, "a bucket name"),
            ("dataset", self.dataset, DATASET_ID, "a dataset name"),
            ("github.repository", self.github.repository, _REPOSITORY, "OWNER/NAME"),
        ]
        for i, member in enumerate(self.archive_readers):
            checks.append((f"archive_readers[{i}]", member, _MEMBER, "group:EMAIL or user:EMAIL"))
        for i, member in enumerate(self.certificate_readers):
            checks.append(
                (f"certificate_readers[{i}]", member, _MEMBER, "group:EMAIL or user:EMAIL")
            )
        if self.weather_locations:
            checks.append(
                ("weather_locations", self.weather_locations, _LOCATIONS, "'lat,lon;lat,lon'")
            )
        for key, value, pattern, what in checks:
            if not pattern.match(value):
                raise ConfigError(f"{key}: {value!r} is not {what}")
        for name in ("weather", "scoring", "archive", "fleet", "rollup"):
            cron = getattr(self.schedules, name)
            parts = cron.split()
            if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
                raise ConfigError(f"schedules.{name}: {cron!r} is not a 5-field cron expression")
        for key, number in (
            ("partition_expiration_days", self.partition_expiration_days),
            ("load.homes", self.load.homes),
            ("load.reading_minutes", self.load.reading_minutes),
            ("load.rows_per_message", self.load.rows_per_message),
            ("load.drain_seconds", self.load.drain_seconds),
            ("github.repository_id", self.github.repository_id),
            ("github.owner_id", self.github.owner_id),
        ):
            if number < 1:
                raise ConfigError(f"{key}: {number} must be at least 1")
        if not _DEPLOY_REF.match(self.github.deploy_ref):
            raise ConfigError(
                f"github.deploy_ref: {self.github.deploy_ref!r} is not refs/heads/BRANCH or "
                "refs/tags/PATTERN (a trailing * matches any suffix)"
            )
        self._check_groups()
        self._check_budget()
        self._check_alerts()

    def _check_groups(self) -> None:
        seen: set[str] = set()
        for i, group in enumerate(self.device_groups):
            account = self.device_account_id(group)
            if not _GROUP.match(group.name) or not _SERVICE_ACCOUNT.match(account):
                raise ConfigError(
                    f"device_groups[{i}].name: {group.name!r} must be lowercase letters, digits "
                    f"and -, short enough for the service account id {account!r} (<= 30)"
                )
            if group.name in seen:
                raise ConfigError(f"device_groups[{i}].name: {group.name!r} is declared twice")
            seen.add(group.name)

    def _check_budget(self) -> None:
        budget = self.budget
        if budget is None:
            return
        if budget.amount < 1:
            raise ConfigError(f"budget.amount: {budget.amount} must be at least 1")
        if budget.billing_account is not None and not _BILLING.match(budget.billing_account):
            raise ConfigError(
                f"budget.billing_account: {budget.billing_account!r} is not XXXXXX-XXXXXX-XXXXXX"
            )
        if not budget.thresholds or any(not 0 < t <= 2 for t in budget.thresholds):
            raise ConfigError(
                f"budget.thresholds: {list(budget.thresholds)} must be fractions in (0, 2]"
            )

    def _check_alerts(self) -> None:
        alerts = self.alerts
        if alerts is None:
            return
        if not alerts.emails:
            raise ConfigError("alerts.emails: give at least one address")
        for i, email in enumerate(alerts.emails):
            if not _EMAIL.match(email):
                raise ConfigError(f"alerts.emails[{i}]: {email!r} is not an email address")
        if alerts.dead_letters_per_hour < 1:
            raise ConfigError(
                f"alerts.dead_letters_per_hour: {alerts.dead_letters_per_hour} must be at least 1"
            )
        if alerts.silent_homes < 0:
            raise ConfigError(f"alerts.silent_homes: {alerts.silent_homes} must be at least 0")

    def device_account_id(self, group: DeviceGroup) -> str:
        return f"{self.name_prefix}-dev-{group.name}"

    def bucket_name(self, purpose: str) -> str:
        """Bucket names are global: the project id makes them unique, the prefix per env."""
        return f"{self.project}-{self.name_prefix}-{purpose}"

    @property
    def billing_account(self) -> str | None:
        return self.budget.billing_account if self.budget else None


def load(name: str, directory: Path = ENVIRONMENTS) -> Environment:
    """The environment `name` from `directory/<name>.toml`."""
    path = directory / f"{name}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(names(directory)) or "none"
        raise ConfigError(
            f"no environment {name!r}: {path} does not exist (known: {known})"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path.name}: {err}") from err
    return parse(name, raw, where=path.name)


def parse(name: str, raw: Mapping[str, Any], where: str = "<environment>") -> Environment:
    """An Environment from a TOML document; every error names `where` and the key."""
    if "name" in raw:
        raise ConfigError(f"{where}: name: the environment is named by its file, not a key")
    return loader.from_mapping(Environment, {**raw, "name": name}, ConfigError, where)


def names(directory: Path = ENVIRONMENTS) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))
