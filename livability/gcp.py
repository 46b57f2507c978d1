"""What Google Cloud accepts as names, and how Pub/Sub may reach the warehouse.

One rule per cloud name, for the settings (URLs in environment variables) and the infra's
environment files alike:
- project id: 6-30 lowercase letters, digits and hyphens, starting with a letter, not ending
  with a hyphen (cloud.google.com/resource-manager/docs/creating-managing-projects);
- dataset id: letters, digits and underscores, at most 1,024
  (cloud.google.com/bigquery/docs/datasets);
- bucket name: 3-63 characters, or up to 222 with dots where each dot-separated part has at
  most 63; lowercase letters, digits, `-`, `_` and `.`; starting and ending with a letter or a
  digit; no `..`; not an IP address; not starting with `goog` nor containing `google`
  (cloud.google.com/storage/docs/buckets#naming).
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

PROJECT_ID: Final = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
DATASET_ID: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
BUCKET_NAME: Final = re.compile(
    r"^(?=[^.]{3,63}$|(?=[^.]*\.).{3,222}$)"  # 3-63, or up to 222 with a dot
    r"(?!.*[^.]{64})"  # no dot-separated part over 63
    r"(?!.*\.\.)(?![0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$)(?!goog)(?!.*google)"
    r"[a-z0-9][a-z0-9._-]*[a-z0-9]$"
)

# How rows reach BigQuery from Pub/Sub: push subscriptions to the event processor, which
# validates and dead-letters (`function`), or BigQuery subscriptions with the topic's schema.
IngestMode = Literal["function", "bigquery_subscription"]
INGEST_MODES: Final[tuple[str, ...]] = get_args(IngestMode)
