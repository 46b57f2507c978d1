"""`functions.http_args`: the week an HTTP function is asked to run, from a real Flask request
(Werkzeug's test request context, as functions-framework builds it)."""

from __future__ import annotations

from datetime import date
from typing import Any

import flask
import pytest

from functions.http_args import requested_week

APP = flask.Flask(__name__)


def week_of(**request: Any) -> date | None:
    with APP.test_request_context("/", method="POST", **request):
        return requested_week(flask.request)


def test_the_body_or_the_query_names_the_week_and_the_body_wins() -> None:
    assert week_of(json={"week": "2024-12-02"}) == date(2024, 12, 2)
    assert week_of(query_string={"week": "2024-12-02"}) == date(2024, 12, 2)
    both = week_of(json={"week": "2024-12-09"}, query_string={"week": "2024-12-02"})
    assert both == date(2024, 12, 9)


def test_no_week_is_none_whatever_else_the_request_holds() -> None:
    assert week_of() is None
    assert week_of(json={"other": 1}) is None
    assert week_of(data=b"not json", content_type="application/json") is None
    assert week_of(json=["2024-12-02"]) is None
    assert week_of(json={"week": None}) is None  # JSON null: the default week


@pytest.mark.parametrize(
    "value", ["2024-13-01", "20241202", "2024-12-2", "2024-12-02T00:00", "", 20241202, [1]]
)
def test_anything_but_yyyy_mm_dd_is_refused_naming_the_field_and_value(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^week: .* is not a date \(YYYY-MM-DD\)$") as caught:
        week_of(json={"week": value})
    assert repr(value) in str(caught.value)
