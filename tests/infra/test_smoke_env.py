"""`make smoke`'s settings name what the stack deploys.

Runs against: infra/smoke.py on the real environment files, and the synthesized dev, prod and
dev-bqsub stacks (topic, archive bucket, Scheduler jobs, dataset).
"""

from __future__ import annotations

import subprocess
import sys

from infra import smoke
from infra.constructs.messaging import TOPICS
from infra.entrypoints import REPO
from livability.smoke.jobs import SCHEDULER_JOB
from tests.infra.synth import Synth


def test_every_name_is_one_the_stack_deploys(synthesized: dict[str, Synth]) -> None:
    assert TOPICS[smoke.SENSOR_TOPIC] == "sensor_thermo_beacon"
    for name in ("dev", "prod", "dev-bqsub"):
        synth = synthesized[name]
        env = synth.env
        values = smoke.settings(env)
        synth.one("google_pubsub_topic", name=smoke.SENSOR_TOPIC)
        assert values["LIVABILITY_TOPIC"] == f"projects/{env.project}/topics/sensor_data"
        bucket = values["LIVABILITY_ARCHIVE"].removeprefix("gs://")
        synth.one("google_storage_bucket", name=bucket, storage_class="COLDLINE")
        synth.one("google_bigquery_dataset", dataset_id=env.dataset)
        assert values["LIVABILITY_WAREHOUSE"] == f"bigquery://{env.project}/{env.dataset}"
        parent = values["LIVABILITY_SMOKE_SCHEDULER"]
        location, prefix = parent.rsplit("/jobs/", 1)
        assert location == f"projects/{env.project}/locations/{env.region}"
        for job in SCHEDULER_JOB.values():
            synth.one("google_cloud_scheduler_job", name=f"{prefix}-{job}", region=env.region)
    assert smoke.settings(synthesized["dev-bqsub"].env)["LIVABILITY_ROWS_PER_MESSAGE"] == "1"
    assert smoke.settings(synthesized["dev"].env)["LIVABILITY_ROWS_PER_MESSAGE"] == "100"


def test_the_exports_are_shell_and_an_unknown_environment_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.smoke", "dev"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.splitlines() == [
        "export LIVABILITY_WAREHOUSE=bigquery://livability-dev/sensor_data",
        "export LIVABILITY_TOPIC=projects/livability-dev/topics/sensor_data",
        "export LIVABILITY_ROWS_PER_MESSAGE=100",
        "export LIVABILITY_ARCHIVE=gs://livability-dev-lvb-dev-archive",
        "export LIVABILITY_SMOKE_SCHEDULER="
        "projects/livability-dev/locations/europe-west1/jobs/lvb-dev",
    ]
    refused = subprocess.run(
        [sys.executable, "-m", "infra.smoke", "staging"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.startswith("infra: error: no environment 'staging'")
