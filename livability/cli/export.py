"""`livability export`: a raw table for a period, to parquet or CSV, from wherever it lives.

Recent days come from the warehouse, older ones from the archive (LIVABILITY_ARCHIVE),
one row per row_id (livability/archive/export.py). CSV flattens nested columns to `parent.child`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console

from livability.archive import ArchiveError
from livability.cli.common import CliError, parse_date, print_json, progress_bar, safe

if TYPE_CHECKING:
    from livability.archive.export import ExportStats
    from livability.cli.outfile import Target


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "export", help="write a raw table for a period (warehouse + archive) to parquet or CSV"
    )
    parser.add_argument("--table", required=True, help="a raw table, e.g. sensor_thermo_beacon")
    parser.add_argument(
        "--from", dest="start", type=parse_date, required=True, help="first day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--to", dest="end", type=parse_date, required=True, help="last day (included)"
    )
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--out",
        required=True,
        help="the file to write; a folder: <table>-<from>-<to>.<format> in it; - for stdout",
    )
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Any, out: Console, err: Console) -> int:
    from livability.archive import export  # polars: loaded only for this command
    from livability.cli import outfile

    default = f"{args.table}-{args.start}-{args.end}.{args.format}"
    target = outfile.resolve(args.out, default, binary=args.format == "parquet")
    if target.path is None:
        out = err  # stdout holds the data: the summary goes to stderr
    try:
        table = export.export_table(args.table)
        export.check_period(args.start, args.end, table)
    except export.ExportError as error:
        raise CliError(str(error)) from None
    warehouse = settings.open_warehouse()
    archive = settings.open_archive()
    try:
        with progress_bar(err) as progress:
            task = progress.add_task(f"Exporting {args.table}", total=None)
            stats = _export(
                args, target, warehouse=warehouse, archive=archive, progress=progress, task=task
            )
    except (ArchiveError, export.ExportError) as error:
        raise CliError(str(error)) from None
    finally:
        warehouse.close()
        archive.close()
    return _summary(args, target, stats, out, err)


def _export(
    args: argparse.Namespace,
    target: Target,
    *,
    warehouse: Any,
    archive: Any,
    progress: Any,
    task: Any,
) -> ExportStats:
    from livability.archive import export
    from livability.cli import outfile

    with outfile.writing(target) as sink:
        return export.export(
            args.table,
            args.start,
            args.end,
            sink,
            fmt=args.format,
            warehouse=warehouse,
            archive=archive,
            chunks=lambda n: progress.update(task, total=n),
            on_chunk=lambda _: progress.advance(task),
        )


def _summary(
    args: argparse.Namespace, target: Target, stats: ExportStats, out: Console, err: Console
) -> int:
    summary = {
        "out": "-" if target.path is None else str(target.path),
        "rows": stats.rows,
        "from_warehouse": stats.warehouse_rows,
        "from_archive": stats.archive_rows,
        "archived_weeks_read": [w.isoformat() for w in stats.archived_weeks],
        "duplicates_removed": stats.duplicates,
        "skipped": stats.skipped,
        "skipped_reasons": stats.skipped_reasons,
        "seconds": round(stats.seconds, 3),
    }
    if args.json:
        print_json(out, summary)
    else:
        rate = stats.rows / stats.seconds if stats.seconds else 0.0
        out.print(
            f"{stats.rows} rows of {args.table} from {args.start} to {args.end} written to "
            f"{target.shown} ({args.format}): {stats.warehouse_rows} from the warehouse, "
            f"{stats.archive_rows} from the archive, {stats.duplicates} duplicates removed, "
            f"{stats.skipped} archived lines refused; {stats.seconds:.2f} s ({rate:,.0f} rows/s)",
            soft_wrap=True,  # one line, never cut mid-sentence by the console's width
        )
        for reason in stats.skipped_reasons:
            err.print(safe(f"skipped: {reason}"))
    return 0
