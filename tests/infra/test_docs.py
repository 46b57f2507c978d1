"""docs/deploy.md's security table is the stack's: a grant added in code must be documented.

Runs against: the prod stack as synthesized (its construct tree's grant rows) and the
markdown table in docs/deploy.md.
"""

from __future__ import annotations

from infra_synth import Synth, synthesized_fixture  # noqa: F401 - fixture

from infra.constructs.access import markdown_rows
from infra.entrypoints import REPO

HEADER = "| who | role | on | why |"


def documented_rows() -> list[str]:
    lines = (REPO / "docs" / "deploy.md").read_text().splitlines()
    start = lines.index(HEADER) + 2  # the header and its separator
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_security_table_matches_the_prod_stack(synthesized: dict[str, Synth]) -> None:
    in_code = markdown_rows(synthesized["prod"].stack.grants)
    in_docs = documented_rows()
    assert in_docs == in_code, (
        "docs/deploy.md's workload grants differ from infra/constructs/access.py; "
        f"missing from the docs: {sorted(set(in_code) - set(in_docs))}, "
        f"not in the stack: {sorted(set(in_docs) - set(in_code))}"
    )
