"""The BigQuery dataset, every table of `schemas/` and its de-duplicated view.

Nothing here names a column: each table's schema is its JSON file, its partitioning and
clustering come from `schemas/tables.toml`, and each `<table>_dedup` view's query is the
one the BigQuery adapter creates (`livability.adapters.bigquery`), so `livability init` and
a deploy produce the same view.

Where the environment protects its data (`deletion_protection`, prod), the dataset and the
tables carry BigQuery's deletion protection and Terraform's `prevent_destroy`: a plan that
would delete or replace one fails before anything changes (a destroy does not stop half
way). Views hold no data: they are never protected, and each is re-created when its table's
schema changes (a `SELECT *` view fixes its columns when it is created), and only then.
"""

from __future__ import annotations

import json

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.bigquery_dataset import BigqueryDataset
from cdktn_provider_google.bigquery_table import (
    BigqueryTable,
    BigqueryTableTimePartitioning,
    BigqueryTableView,
)

from infra.constructs import Part
from schemas import Registry, Table
from schemas.views import DEDUP_SUFFIX, dedup_view_sql

DAY_MS = 24 * 3600 * 1000
DAYS_FOREVER = 1 << 30  # a table without its own `expire_days` keeps the environment's


def schema_json(registry: Registry, table: Table) -> str:
    """The table's schema file as BigQuery reads it: the file's own JSON, not a restatement."""
    raw = json.loads((registry.directory / f"{table.name}.json").read_text(encoding="utf-8"))
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False)


def dedup_view(registry: Registry, table: Table, project: str, dataset: str) -> tuple[str, str]:
    """(view name, query) of the adapter's `<table>_dedup` view."""
    ref = f"{project}.{dataset}.{table.name}"
    return f"{table.name}{DEDUP_SUFFIX}", dedup_view_sql(table, ref)


class Warehouse(Part):
    """Out: `dataset` (its `.dataset_id`), `tables` and `views` by table name."""

    def declare(self) -> None:
        env, registry = self.env, self.inputs.registry
        keep = TerraformResourceLifecycle(prevent_destroy=env.deletion_protection)
        self.dataset = BigqueryDataset(
            self,
            "dataset",
            dataset_id=env.dataset,
            location=env.location,
            description="Livability Score: sensor rows, weather, scores and dead letters.",
            delete_contents_on_destroy=not env.deletion_protection,
            lifecycle=keep,
            **self.placed("warehouse"),
        )
        self.tables: dict[str, BigqueryTable] = {}
        self.views: dict[str, BigqueryTable] = {}
        for table in registry:
            days = min(env.partition_expiration_days, table.expire_days or DAYS_FOREVER)
            partitioning = (
                BigqueryTableTimePartitioning(
                    type="DAY", field=table.partition, expiration_ms=float(days * DAY_MS)
                )
                if table.partition
                else None
            )
            created = BigqueryTable(
                self,
                table.name,
                dataset_id=self.dataset.dataset_id,
                table_id=table.name,
                description=table.description or None,
                schema=schema_json(registry, table),
                time_partitioning=partitioning,
                require_partition_filter=True if table.partition else None,
                clustering=list(table.cluster) or None,
                deletion_protection=env.deletion_protection,
                lifecycle=keep,
                **self.placed("warehouse", after_apis=False),
            )
            self.tables[table.name] = created
            name, query = dedup_view(registry, table, env.project, env.dataset)
            self.views[table.name] = BigqueryTable(
                self,
                name,
                dataset_id=self.dataset.dataset_id,
                table_id=name,
                description=f"{table.name} with one row per row_id: what readers query.",
                view=BigqueryTableView(query=query, use_legacy_sql=False),
                # Replaced with its table's schema: protection would forbid that.
                deletion_protection=False,
                depends_on=[created],
                # A view's columns are fixed when it is created: re-create it when its
                # table's schema changes (a new column), as `livability init` does; not on
                # any other change of the table (a label, the expiry).
                lifecycle=TerraformResourceLifecycle(
                    replace_triggered_by=[
                        f"{created.terraform_resource_type}.{created.friendly_unique_id}.schema"
                    ]
                ),
                **self.placed("warehouse", after_apis=False),
            )
