"""Cloud Audit Logs: Data Access logs for Cloud Storage, on the project.

Who read or wrote which object of the archive, the data bucket (score vectors, the poller's
state) and the function sources is recorded in Cloud Logging, instead of a usage-log bucket
per bucket (checkov CKV_GCP_62). BigQuery writes its Data Access logs always (they cannot be
turned off), so the dataset needs no entry. Pub/Sub is left out on purpose: a Data Access
entry per published message would cost more than the messages (docs/deploy.md).
"""

from __future__ import annotations

from cdktn_provider_google.project_iam_audit_config import (
    ProjectIamAuditConfig,
    ProjectIamAuditConfigAuditLogConfig,
)

from infra.constructs import Part

AUDITED = {"storage.googleapis.com": ("ADMIN_READ", "DATA_READ", "DATA_WRITE")}


class AuditLogs(Part):
    """Out: `configs` by service."""

    def declare(self) -> None:
        self.configs = {
            service: ProjectIamAuditConfig(
                self,
                service.split(".")[0],
                service=service,
                audit_log_config=[ProjectIamAuditConfigAuditLogConfig(log_type=t) for t in types],
                **self.placed(),
            )
            for service, types in AUDITED.items()
        }
