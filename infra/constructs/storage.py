"""Buckets: the COLDLINE archive, the function sources, and the data bucket (scores/, state/).

Uniform bucket-level access everywhere; public access prevention enforced, except on the
archive when the environment sets `public_archive = true` (then `access.py` grants allUsers
read on it, and on nothing else).

Versions: an overwritten or deleted object stays restorable for NONCURRENT_DAYS. COLDLINE
bills every object for at least COLDLINE_MIN_DAYS from its creation, so on the archive a
noncurrent version is deleted only once it is also that old: no early-deletion fee.

Where the environment protects its data (prod), the buckets carry `prevent_destroy`: a plan
that would delete one fails before anything changes. Elsewhere a destroy empties them
(`force_destroy`: versioning leaves noncurrent versions a plain delete would trip over).
"""

from __future__ import annotations

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.storage_bucket import (
    StorageBucket,
    StorageBucketLifecycleRule,
    StorageBucketLifecycleRuleAction,
    StorageBucketLifecycleRuleCondition,
    StorageBucketSoftDeletePolicy,
    StorageBucketVersioning,
)

from infra.constructs import Part

NONCURRENT_DAYS = 30  # an overwritten or deleted object can be restored for this long
COLDLINE_MIN_DAYS = 90  # cloud.google.com/storage/pricing: COLDLINE's minimum storage duration
ARCHIVE_TO_ARCHIVE_CLASS_DAYS = 365  # a year-old weekly export moves to ARCHIVE class


def _rule(action: str, storage_class: str | None = None, **condition: object) -> object:
    return StorageBucketLifecycleRule(
        action=StorageBucketLifecycleRuleAction(type=action, storage_class=storage_class),
        condition=StorageBucketLifecycleRuleCondition(**condition),  # type: ignore[arg-type]
    )


class Storage(Part):
    """Out: `archive`, `source`, `data` buckets (their `.name`)."""

    def declare(self) -> None:
        abort = _rule("AbortIncompleteMultipartUpload", age=1)
        cleanup = [_rule("Delete", days_since_noncurrent_time=NONCURRENT_DAYS), abort]
        self.archive = self._bucket(
            "archive",
            storage_class="COLDLINE",
            public=self.env.public_archive,
            rules=[
                _rule(
                    "SetStorageClass",
                    "ARCHIVE",
                    age=ARCHIVE_TO_ARCHIVE_CLASS_DAYS,
                    matches_storage_class=["COLDLINE"],
                ),
                # Both conditions: noncurrent for 30 days and past COLDLINE's 90-day minimum.
                _rule(
                    "Delete",
                    days_since_noncurrent_time=NONCURRENT_DAYS,
                    age=COLDLINE_MIN_DAYS,
                    with_state="ARCHIVED",
                ),
                abort,
            ],
        )
        self.source = self._bucket("functions", rules=cleanup)
        self.data = self._bucket("data", rules=cleanup)

    def _bucket(
        self,
        purpose: str,
        *,
        rules: list[object],
        storage_class: str = "STANDARD",
        public: bool = False,
    ) -> StorageBucket:
        env = self.env
        return StorageBucket(
            self,
            purpose,
            name=env.bucket_name(purpose),
            location=env.location,
            storage_class=storage_class,
            uniform_bucket_level_access=True,
            public_access_prevention="inherited" if public else "enforced",
            versioning=StorageBucketVersioning(enabled=True),
            soft_delete_policy=StorageBucketSoftDeletePolicy(retention_duration_seconds=604800),
            lifecycle_rule=rules,  # type: ignore[arg-type]
            force_destroy=not env.deletion_protection,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=env.deletion_protection),
            **self.placed(f"{purpose}-bucket"),
        )
