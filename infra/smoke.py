"""What `make smoke ENV=...` gives `livability smoke`: the deployed environment's names.

    eval "$(python -m infra.smoke dev)"     # exports the settings, then:
    livability smoke --scheduler "$LIVABILITY_SMOKE_SCHEDULER"

Reads only the environment file (infra/config.py): no cdktn, so it runs in the CLI's venv.
tests/infra/test_smoke_env.py checks every name against the synthesized stack.
"""

from __future__ import annotations

import shlex
import sys

from infra import config
from infra.config import Environment

SENSOR_TOPIC = "sensor_data"  # infra/constructs/messaging.py TOPICS: the readings' topic


def settings(env: Environment) -> dict[str, str]:
    """The variables `livability smoke` reads, for `env` as the stack deploys it."""
    return {
        "LIVABILITY_WAREHOUSE": f"bigquery://{env.project}/{env.dataset}",
        "LIVABILITY_TOPIC": f"projects/{env.project}/topics/{SENSOR_TOPIC}",
        # A topic with the generated schema takes one row a message; without, an array.
        "LIVABILITY_ROWS_PER_MESSAGE": "100" if env.ingest_mode == "function" else "1",
        "LIVABILITY_ARCHIVE": f"gs://{env.bucket_name('archive')}",
        "LIVABILITY_SMOKE_SCHEDULER": (
            f"projects/{env.project}/locations/{env.region}/jobs/{env.name_prefix}"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m infra.smoke ENV", file=sys.stderr)
        return 2
    try:
        env = config.load(args[0])
    except config.ConfigError as err:
        print(f"infra: error: {err}", file=sys.stderr)
        return 2
    for name, value in settings(env).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
