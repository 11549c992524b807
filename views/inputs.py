"""Numbers and ids from URLs and forms: ASCII digits within range, or nothing.

`str.isdigit()` accepts "²" (which `int()` then refuses) and `int()` accepts any size, which
the database refuses past 2**63 - 1: both used to end in a bare 500. Every id in a URL goes
through the `id` converter (`/sequences/<id:sequence_id>`), so an id that cannot exist is a
404 before any view runs; numbers in forms and query strings go through `whole_number`.
"""

import re

from flask import request
from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**63 - 1  # the largest key every backend stores (BIGINT / SQLite INTEGER)
MAX_PAGE = 100_000
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(value, low: int = 0, high: int = MAX_ID) -> int | None:
    """`value` as an int if it is ASCII digits between `low` and `high`; else None."""
    text = str(value if value is not None else "").strip()
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if low <= number <= high else None


def object_id(value) -> int | None:
    """A row id from a form or query string; None for anything no row can have."""
    return whole_number(value, 1, MAX_ID)


def page_number() -> int:
    """`?page=N` for paged lists: 1 when absent or not a page number."""
    return whole_number(request.args.get("page", "1"), 1, MAX_PAGE) or 1


class IdConverter(BaseConverter):
    """`<id:name>` in a route: only ids a row can have match; the rest is a 404."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value):
        number = object_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value):
        return str(int(value))
