"""docs/deploy.md follows the stack: its security and GitHub tables, the first-deploy steps.

Runs against: the prod stack as synthesized (its construct tree's grant rows) and the
markdown table in docs/deploy.md.
"""

from __future__ import annotations

from infra.constructs.access import markdown_rows
from infra.constructs.ci import subjects
from infra.entrypoints import REPO
from tests.infra.synth import Synth

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


def test_the_github_table_names_every_subject_the_stack_accepts(
    synthesized: dict[str, Synth],
) -> None:
    """docs/deploy.md's GitHub table lists each environment the provider accepts, with the
    account it is bound to and its ref."""
    text = (REPO / "docs" / "deploy.md").read_text()
    for name in ("dev", "prod"):
        env = synthesized[name].env
        ref = env.github.deploy_ref.replace("*", "")
        for subject, account in subjects(env).items():
            if subject == "pull_request":
                assert f"| (pull request) | `{account}` |" in text
                continue
            environment = subject.removeprefix("environment:")
            row = next(
                (line for line in text.splitlines() if line.startswith(f"| `{environment}` |")),
                None,
            )
            assert row is not None, f"docs/deploy.md: no row for the environment {environment}"
            assert f"`{account}`" in row, row
            assert ref in row, row


def test_the_first_deploy_steps_the_review_asked_for_are_documented() -> None:
    text = (REPO / "docs" / "deploy.md").read_text()
    for needed in (
        "gcloud auth application-default set-quota-project",
        "--role=roles/billing.viewer",
        "--role=roles/billing.costsManager",
        "make providers-lock",
        "gcloud iam workload-identity-pools undelete",
        "make smoke ENV=dev",
        "What is checked without a cloud, and what stays unproven",
    ):
        assert needed in text, needed
