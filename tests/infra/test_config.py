"""Environment files: typed, strict, every error naming the file and the key.

Runs against: infra/config.py on the real infra/environments/*.toml and on TOML documents
written here with one mistake each.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra import config
from infra.config import ConfigError, Environment

ENVIRONMENTS = Path(config.__file__).parent / "environments"


def raw(name: str = "dev") -> dict[str, Any]:
    return tomllib.loads((ENVIRONMENTS / f"{name}.toml").read_text())


def test_shipped_environments_load() -> None:
    assert config.names() == ["dev", "prod"]
    dev, prod = config.load("dev"), config.load("prod")
    assert isinstance(dev, Environment)
    assert (dev.name, dev.ingest_mode, dev.public_archive) == ("dev", "function", False)
    assert prod.deletion_protection is True
    assert dev.deletion_protection is False
    assert prod.billing_account is not None
    assert dev.billing_account is None
    assert [g.name for g in prod.device_groups] == ["north", "south"]
    assert prod.schedules.weather == "*/10 * * * *"
    assert dev.project != prod.project
    assert dev.state_bucket != prod.state_bucket


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(projct="x"), "dev.toml: projct: unknown key"),
        (
            lambda d: d["schedules"].update(weathr="* * * * *"),
            "dev.toml: schedules.weathr: unknown key",
        ),
        (lambda d: d["budget"].update(ammount=1), "dev.toml: budget.ammount: unknown key"),
        (
            lambda d: d["device_groups"][0].update(nme="x"),
            "dev.toml: device_groups[0].nme: unknown key",
        ),
        (lambda d: d["github"].update(repo="a/b"), "dev.toml: github.repo: unknown key"),
    ],
)
def test_a_typo_is_an_error_naming_the_key(edit: Any, message: str) -> None:
    document = raw()
    edit(document)
    with pytest.raises(ConfigError) as caught:
        config.parse("dev", document, where="dev.toml")
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_typo_suggests_the_key_meant() -> None:
    document = raw()
    document["public_archiv"] = True
    with pytest.raises(ConfigError, match="did you mean 'public_archive'"):
        config.parse("dev", document)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("public_archive", "yes", "public_archive: expected bool, got 'yes'"),
        ("load", {"homes": True}, "load.homes: expected int, got True"),
        ("load", {"homes": 0}, "load.homes: 0 must be at least 1"),
        (
            "github",
            {**raw()["github"], "deploy_ref": "main"},
            "github.deploy_ref: 'main' is not refs/heads/BRANCH or refs/tags/PATTERN",
        ),
        (
            "github",
            {**raw()["github"], "deploy_ref": "refs/heads/*"},
            "github.deploy_ref: 'refs/heads/*' is not refs/heads/BRANCH",
        ),
        (
            "github",
            {**raw()["github"], "repository_id": 0},
            "github.repository_id: 0 must be at least 1",
        ),
        (
            "github",
            {k: v for k, v in raw()["github"].items() if k != "owner_id"},
            "github.owner_id: missing (required)",
        ),
        (
            "ingest_mode",
            "pull",
            "ingest_mode: 'pull' is not one of 'function' | 'bigquery_subscription'",
        ),
        ("project", "Livability_Dev", "project: 'Livability_Dev' is not a project id"),
        ("archive_readers", ["data@example.org"], "archive_readers[0]: 'data@example.org' is not"),
        ("archive_readers", "group:x@y.z", "archive_readers: expected a list"),
        ("name_prefix", "a-very-long-prefix", "name_prefix: 'a-very-long-prefix' is not"),
        ("weather_locations", "52.3;4.9", "weather_locations: '52.3;4.9' is not"),
        ("partition_expiration_days", 0, "partition_expiration_days: 0 must be at least 1"),
    ],
)
def test_a_bad_value_is_an_error_naming_key_and_value(key: str, value: Any, message: str) -> None:
    document = raw()
    document[key] = value
    with pytest.raises(ConfigError) as caught:
        config.parse("dev", document, where="dev.toml")
    assert f"dev.toml: {message}" in str(caught.value)


def test_nested_values_are_checked() -> None:
    document = raw("prod")
    document["schedules"]["scoring"] = "every monday"
    with pytest.raises(ConfigError, match=r"schedules.scoring: 'every monday' is not a 5-field"):
        config.parse("prod", document)
    document = raw("prod")
    document["budget"]["billing_account"] = "1234"
    with pytest.raises(ConfigError, match=r"budget.billing_account: '1234' is not"):
        config.parse("prod", document)
    document = raw("prod")
    document["device_groups"].append({"name": "north"})
    with pytest.raises(ConfigError, match=r"device_groups\[2\].name: 'north' is declared twice"):
        config.parse("prod", document)
    document = raw("prod")
    document["device_groups"][0]["name"] = "a-group-name-far-too-long"
    with pytest.raises(ConfigError, match=r"device_groups\[0\].name: .* service account id"):
        config.parse("prod", document)


def test_missing_required_key_and_missing_file(tmp_path: Path) -> None:
    document = raw()
    del document["project"]
    with pytest.raises(ConfigError, match=r"^dev.toml: project: missing \(required\)"):
        config.parse("dev", document, where="dev.toml")
    with pytest.raises(ConfigError, match=r"no environment 'staging'.*known: dev, prod"):
        config.load("staging")
    broken = tmp_path / "bad.toml"
    broken.write_text("project = \n")
    with pytest.raises(ConfigError, match=r"^bad.toml: "):
        config.load("bad", tmp_path)


def test_optional_budget_and_defaults() -> None:
    document = raw()
    del document["budget"], document["schedules"], document["device_groups"]
    env = config.parse("dev", document)
    assert env.budget is None
    assert env.billing_account is None
    assert env.schedules == config.Schedules()
    assert env.device_groups == ()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("emails", [], "alerts.emails: give at least one address"),
        ("emails", ["ops"], "alerts.emails[0]: 'ops' is not an email address"),
        ("dead_letters_per_hour", 0, "alerts.dead_letters_per_hour: 0 must be at least 1"),
        ("silent_homes", -1, "alerts.silent_homes: -1 must be at least 0"),
    ],
)
def test_alerts_are_checked(key: str, value: Any, message: str) -> None:
    document = raw("prod")
    document["alerts"][key] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.parse("prod", document)


def test_alerts_and_the_fleet_and_rollup_schedules_as_shipped() -> None:
    dev, prod = config.load("dev"), config.load("prod")
    assert dev.alerts == config.Alerts(("livability-dev-alerts@example.org",), 60, 0)
    assert prod.alerts is not None
    assert (prod.alerts.dead_letters_per_hour, prod.alerts.silent_homes) == (600, 50)
    assert dev.schedules.fleet == prod.schedules.fleet == "0 * * * *"
    # Daily, after the UTC day closed, and before the Monday 03:00 scoring.
    assert dev.schedules.rollup == prod.schedules.rollup == "30 2 * * *"
    document = raw()
    del document["alerts"]
    assert config.parse("dev", document).alerts is None
    document["schedules"]["fleet"] = "hourly"
    with pytest.raises(ConfigError, match=r"schedules.fleet: 'hourly' is not a 5-field"):
        config.parse("dev", document)
    document["schedules"]["fleet"] = "0 * * * *"
    document["schedules"]["rollup"] = "daily"
    with pytest.raises(ConfigError, match=r"schedules.rollup: 'daily' is not a 5-field"):
        config.parse("dev", document)
