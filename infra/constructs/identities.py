"""Service accounts: one per workload, per device group and per scheduler job; no roles here.

What each may do is declared in `access.py`, on the one resource it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_google.service_account import ServiceAccount

from infra.constructs import Part


@dataclass(frozen=True)
class Workload:
    key: str  # account id suffix
    title: str


WORKLOADS = (
    Workload("ingest", "Event processor: writes rows and dead letters to the dataset"),
    Workload("push", "Pub/Sub push: invokes the event processor"),
    Workload("weather", "Weather poller: publishes to meteo_data"),
    Workload("scoring", "Weekly scoring job"),
    Workload("archive", "Weekly archive job"),
    Workload("fleet", "Hourly fleet check: reads readings and dead letters"),
    Workload("rollup", "Daily rollup: writes sensor_hours from the readings"),
    Workload("sched-weather", "Cloud Scheduler: invokes the weather poller"),
    Workload("sched-scoring", "Cloud Scheduler: invokes the weekly scoring"),
    Workload("sched-archive", "Cloud Scheduler: invokes the weekly archive"),
    Workload("sched-fleet", "Cloud Scheduler: invokes the hourly fleet check"),
    Workload("sched-rollup", "Cloud Scheduler: invokes the daily rollup"),
    Workload("build", "Cloud Build: builds the functions from their bundles"),
    Workload("ci-plan", "GitHub Actions on pull requests: terraform plan (read-only)"),
    Workload("ci-deploy", "GitHub Actions in the environment: terraform apply"),
    Workload("edge-push", "GitHub Actions in the edge environment: push the gateway image"),
)


class Identities(Part):
    """Out: `accounts` (workload key -> account), `devices` (group name -> account)."""

    def declare(self) -> None:
        env = self.env
        self.accounts: dict[str, ServiceAccount] = {
            w.key: ServiceAccount(
                self,
                w.key,
                account_id=f"{env.name_prefix}-{w.key}",
                display_name=f"{env.name_prefix} {w.key}",
                description=w.title,
                **self.placed(),
            )
            for w in WORKLOADS
        }
        self.devices: dict[str, ServiceAccount] = {
            group.name: ServiceAccount(
                self,
                f"device-{group.name}",
                account_id=env.device_account_id(group),
                display_name=f"{env.name_prefix} devices {group.name}",
                description=(
                    f"Gateways of device group {group.name}: publish to sensor_data. "
                    f"{group.description}"
                ).strip(),
                **self.placed(),
            )
            for group in env.device_groups
        }

    def member(self, key: str) -> str:
        return f"serviceAccount:{self.accounts[key].email}"

    def email(self, key: str) -> str:
        return self.accounts[key].email
