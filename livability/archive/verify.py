"""Verifying an archived week against its manifest, and the record of the outcome
(`<week start>/verified.json`) that the expiry gate reads.

A week is verified when every file its manifest lists is present with the listed bytes,
SHA-256 and rows, and the files' rows add up to each table's total. The record names the
manifest it checked (its SHA-256), so a week whose manifest changed since is unverified.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from livability.archive.format import MANIFEST, VERIFIED, count_lines, week_name
from livability.archive.manifest import FileEntry, Manifest, ManifestError, read_manifest_if_any
from livability.ports import Bucket, ObjectNotFoundError


@dataclass
class Verification:
    week: date
    ok: bool
    tables: dict[str, int] = field(default_factory=dict)  # rows found per table
    problems: list[str] = field(default_factory=list)  # why not ok
    notes: list[str] = field(default_factory=list)  # harmless: stray files


def verify_week(bucket: Bucket, week: date, *, record: bool = True) -> Verification:
    """Check every file of the week against its manifest: present, same bytes, same rows.

    With `record`, the outcome is written to `<week>/verified.json`, which the expiry gate
    reads. Reads every byte of the week (a COLDLINE retrieval); done once per archive run.
    """
    result = Verification(week, ok=False)
    try:
        manifest = read_manifest_if_any(bucket, week)
    except ManifestError as err:
        result.problems.append(str(err))
        manifest = None
    if manifest is None:
        if not result.problems:
            result.problems.append(f"{bucket.url}/{week_name(week)}: no {MANIFEST}")
        return result  # nothing recorded: no week folder appears for a week never archived
    prefix = week_name(week)
    present = set(bucket.list(f"{prefix}/"))
    for name, entry in sorted(manifest.tables.items()):
        listed = {f"{prefix}/{name}/{f.name}" for f in entry.files}
        result.tables[name] = sum(
            _check_file(bucket, f"{prefix}/{name}/{f.name}", f, present, result.problems)
            for f in entry.files
        )
        if sum(f.rows for f in entry.files) != entry.rows:
            result.problems.append(
                f"{prefix}/{name}: the manifest's files hold {sum(f.rows for f in entry.files)} "
                f"rows but its total says {entry.rows}"
            )
        stray = sorted(k for k in present if k.startswith(f"{prefix}/{name}/") and k not in listed)
        result.notes += [f"{k}: not in the manifest (an earlier run's): ignored" for k in stray]
    result.ok = not result.problems
    if record:
        _record(bucket, week, manifest, result)
    return result


def _check_file(
    bucket: Bucket, key: str, listed: FileEntry, present: set[str], problems: list[str]
) -> int:
    """The rows of one listed file, or 0 with its problem added to `problems`."""
    if key not in present:
        problems.append(f"{key}: listed in the manifest but missing")
        return 0
    data = bucket.get(key)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != listed.bytes or digest != listed.sha256:
        problems.append(
            f"{key}: {len(data)} bytes with SHA-256 {digest[:12]}…, the manifest says "
            f"{listed.bytes} bytes with {listed.sha256[:12]}…"
        )
        return 0
    try:
        rows = count_lines(data)
    except (zlib.error, EOFError) as err:
        problems.append(f"{key}: damaged gzip ({err})")
        return 0
    if rows != listed.rows:
        problems.append(f"{key}: {rows} rows, the manifest says {listed.rows}")
    return rows


def _record(bucket: Bucket, week: date, manifest: Manifest, result: Verification) -> None:
    body = {
        "verified": result.ok,
        "verified_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "manifest_sha256": manifest.sha256(),
        "tables": result.tables,
        "problems": result.problems,
    }
    bucket.put(
        f"{week_name(week)}/{VERIFIED}",
        (json.dumps(body, indent=2) + "\n").encode(),
        "application/json",
    )


def mark_unverified(bucket: Bucket, week: date, why: str) -> None:
    """Record the week as unverified before rewriting it: a crash mid-way then leaves a week
    the next run archives again, never one that passes for verified."""
    body = {"verified": False, "manifest_sha256": None, "problems": [why]}
    bucket.put(f"{week_name(week)}/{VERIFIED}", json.dumps(body).encode(), "application/json")


def _verified_record(bucket: Bucket, week: date) -> Mapping[str, Any] | None:
    try:
        raw = json.loads(bucket.get(f"{week_name(week)}/{VERIFIED}"))
    except ObjectNotFoundError:
        return None
    except ValueError:
        return None  # damaged: as good as unverified
    return raw if isinstance(raw, dict) else None


def is_verified(bucket: Bucket, week: date, manifest: Manifest | None = None) -> bool:
    """Whether the last verification passed, for the manifest the week holds now.

    A week without a manifest, or with a damaged one, is not verified.
    """
    if manifest is None:
        try:
            manifest = read_manifest_if_any(bucket, week)
        except ManifestError:
            return False
    record = _verified_record(bucket, week)
    return (
        manifest is not None
        and record is not None
        and record.get("verified") is True
        and record.get("manifest_sha256") == manifest.sha256()
    )
