"""A field added to a schema file reaches the stack with no other edit.

Runs against: the real cdktn synth of the dev environment, built from a temporary copy of
`schemas/` with one NULLABLE field added to every table's JSON file (nothing else touched).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from infra import config
from infra.stack import build_app
from schemas import Registry, registry
from schemas.topic import avro_schema_json

NEW_FIELD = {
    "name": "added_by_test",
    "type": "STRING",
    "mode": "NULLABLE",
    "description": "A column a later change adds.",
}


def test_added_field_appears_in_tables_and_topic_schemas(tmp_path: Path) -> None:
    copy = tmp_path / "schemas"
    copy.mkdir()
    for path in registry().directory.iterdir():
        if path.suffix in (".json", ".toml"):
            shutil.copy(path, copy / path.name)
    for path in copy.glob("*.json"):
        fields = json.loads(path.read_text())
        path.write_text(json.dumps([*fields, NEW_FIELD], indent=2))
    evolved = Registry.load(copy)

    app, stacks = build_app([config.load("dev")], tmp_path / "out", schemas=evolved)
    app.synth()
    synthesized = json.loads((tmp_path / "out" / "stacks" / "dev" / "cdk.tf.json").read_text())
    resources = synthesized["resource"]

    tables = {t["table_id"]: t for t in resources["google_bigquery_table"].values()}
    for table in evolved:
        schema = json.loads(tables[table.name]["schema"])
        assert schema[-1] == NEW_FIELD, f"{table.name}: the new field is not in the stack"
        assert schema == json.loads((copy / f"{table.name}.json").read_text())
        assert f"{table.name}_dedup" in tables
    definitions = {s["name"]: s["definition"] for s in resources["google_pubsub_schema"].values()}
    for table in evolved.ingest_tables():
        definition = definitions[f"{table.name}_v{table.version}"]
        assert definition == avro_schema_json(table)
        names = [f["name"] for f in json.loads(definition)["fields"]]
        assert names[-1] == "added_by_test", f"{table.name}: topic schema lacks the new field"
    assert stacks["dev"].warehouse.tables.keys() == {t.name for t in evolved}
