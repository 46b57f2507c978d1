"""`livability certificate`: a week's certificate pages into a folder, or one shared by URL.

`--week D --out DIR [--home ID]` renders from the warehouse's stored vectors (`livability
score` first) into `DIR/<week>/`: the homes' pages and the portfolio `index.html`.
`--week D --home ID --share [--hours H]` prints a V4 signed URL for the home's certificate
as the weekly job stored it in the bucket (`certificates/<week>/<home>.html`): a gs://
bucket only, signed by the caller's credentials, valid at most 7 days.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from livability.cli.common import CliError, bounded, parse_date, positive_int, week_in_contract
from livability.settings import Settings

MAX_SHARE_HOURS = 7 * 24  # V4 signed URLs live at most 7 days


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "certificate",
        help="write a week's certificate pages (--out DIR), or share one (--home ID --share)",
    )
    parser.add_argument(
        "--week", type=parse_date, required=True, help="first day of the week, YYYY-MM-DD"
    )
    parser.add_argument("--home", type=positive_int, help="one home's certificate only")
    parser.add_argument("--out", type=Path, help="folder to write DIR/<week>/*.html into")
    parser.add_argument(
        "--share",
        action="store_true",
        help="print a signed URL of the home's certificate in the bucket (needs --home)",
    )
    parser.add_argument(
        "--hours",
        type=bounded(MAX_SHARE_HOURS),
        default=72,
        help=f"how long a shared URL is valid (default 72, at most {MAX_SHARE_HOURS})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, out: Console, err: Console) -> int:
    week = week_in_contract(args.week)
    if args.share:
        if args.home is None:
            raise CliError("--share: name the certificate to share with --home ID")
        return share(settings, week.isoformat(), args.home, args.hours, out)
    if args.out is None:
        raise CliError("--out: name a folder to write the pages into (or use --share)")
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out {str(args.out)!r}: is a file, not a folder")
    from livability.certificate import publish
    from livability.certificate.content import CertificateError

    warehouse = settings.open_warehouse()
    try:
        pages = publish.week_pages(
            warehouse, week, homes=None if args.home is None else [args.home]
        )
    except CertificateError as error:
        raise CliError(str(error)) from error
    finally:
        warehouse.close()
    if pages.homes == 0:
        err.print(f"No vectors of the week of {week} in the warehouse: run `livability score`.")
        return 1
    index = publish.write_folder(args.out, pages)
    out.print(f"{pages.homes} certificate(s) written; portfolio: {index}")
    return 0


def share(settings: Settings, week: str, home: int, hours: int, out: Console) -> int:
    from livability.certificate.publish import PREFIX
    from livability.settings import open_signed_bucket

    key = f"{PREFIX}/{week}/{home}.html"
    bucket = open_signed_bucket(settings)
    try:
        url = bucket.signed_url(key, timedelta(hours=hours))
    finally:
        bucket.close()
    out.print(url, soft_wrap=True)
    return 0
