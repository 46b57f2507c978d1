"""The weekly archive of the raw tables: BigQuery JSON exports with a manifest, per week.

format     the files: BigQuery's JSON export (naming, line encoding, reading lines back)
manifest   a week's manifest: read, write, validate
writer     archive a week (query and upload, or the warehouse's own export)
verify     check a week against its manifest; the verification record
schedule   which weeks to archive; the weekly job and its expiry gate
survey     what an archive holds before it loads (folder or bucket)
loader     load an archive back through validation (`livability load-archive`)
export     a period of a table from the warehouse and the archive, de-duplicated (polars)

Every module but `export` is light (no DuckDB, no polars): the weekly_archive function
ships them. Every error of the family is an `ArchiveError`.
"""


class ArchiveError(ValueError):
    """The archive cannot be written or read as asked: missing, unreadable, damaged or not
    laid out as expected (a one-line message naming the place)."""
