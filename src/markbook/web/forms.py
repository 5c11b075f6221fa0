"""Reading what a form or a page's query string sent: blank means "not given"."""

from __future__ import annotations

import datetime as dt

from markbook.errors import InvalidInput


def optional_int(value: str | None, field: str, label: str) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(
            f"{label} must be a whole number; {value!r} is not.",
            errors=[{"field": field, "message": "must be a whole number"}],
        )
    return int(text)


def optional_date(value: str | None, field: str, label: str) -> dt.date | None:
    if value is None or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{label} must be a date written as YYYY-MM-DD; {value!r} is not.",
            errors=[{"field": field, "message": "must be a date (YYYY-MM-DD)"}],
        ) from None
