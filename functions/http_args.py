"""What an HTTP-triggered function reads from its request: Cloud Scheduler posts a JSON body,
a person may use the query string; either may name a week to (re)run."""

from __future__ import annotations

import re
from datetime import date

import flask

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def requested_week(request: flask.Request, field: str = "week") -> date | None:
    """The date in `field` of the JSON body or the query string (the body wins), or None if
    neither names one; `ValueError` naming the field and the value if it is not YYYY-MM-DD."""
    body = request.get_json(silent=True) if request.data else None
    value = request.args.get(field)
    if isinstance(body, dict) and field in body:
        value = body[field]
    if value is None:
        return None
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{field}: {value!r} is not a date (YYYY-MM-DD)")
