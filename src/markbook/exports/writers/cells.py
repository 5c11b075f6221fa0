"""Cells: column kinds, the formula guard, date styles and the text of a value.

Every writer renders values through this module, so a CSV file and an XLSX sheet
of the same rows agree on what a date or a figure looks like.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "Column",
    "DateStyle",
    "Kind",
    "Renderer",
    "as_date",
    "as_datetime",
    "as_decimal",
    "as_float",
    "as_int",
    "format_date",
    "format_datetime",
    "guard_formula",
    "kind_of",
    "render_text",
    "renderer",
    "to_naive_utc",
]


class Kind(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"  # shown with two places
    FLOAT = "float"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    # Each value carries its own kind, read off its Python type: for field/value
    # layouts such as a report summary, where one column holds names, dates and
    # figures.
    MIXED = "mixed"


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # stable machine name
    label: str  # header text
    kind: Kind = Kind.TEXT


class DateStyle(enum.StrEnum):
    ISO = "iso"  # 2024-01-15
    US = "us"  # 01/15/2024
    EU = "eu"  # 15.01.2024
    FULL = "full"  # 2024-01-15 14:30:45


# OWASP "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection):
# spreadsheet programs treat a cell starting with one of these as a formula (a tab
# or carriage return can hide one behind it), so a cell that starts with one is
# prefixed with an apostrophe. Quoting the field does not help: Excel strips the
# quotes before it looks at the first character.
FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def guard_formula(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would run it as a formula."""
    return "'" + text if text[:1] in FORMULA_TRIGGERS else text


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    """Aware datetimes in UTC without an offset; naive ones are taken to be UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


# What each kind accepts. Writers call these per cell: a value of the wrong type is
# refused rather than written as something else.


def as_int(value: object) -> int:
    if isinstance(value, (int, Decimal, float)):
        return int(value)
    raise TypeError(f"a whole number was expected, not {type(value).__name__}")


def as_float(value: object) -> float:
    if isinstance(value, (int, Decimal, float)):
        return float(value)
    raise TypeError(f"a number was expected, not {type(value).__name__}")


def as_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Its shortest repr, so 2.675 is 2.675 and rounds to 2.68 like on paper.
        return Decimal(repr(value))
    raise TypeError(f"a number was expected, not {type(value).__name__}")


def as_date(value: object) -> dt.date:
    """A date; a datetime gives its date in UTC."""
    if isinstance(value, dt.datetime):
        return to_naive_utc(value).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"a date was expected, not {type(value).__name__}")


def as_datetime(value: object) -> dt.datetime:
    """A naive datetime in UTC; a date gives its midnight."""
    if isinstance(value, dt.datetime):
        return to_naive_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise TypeError(f"a datetime was expected, not {type(value).__name__}")


def format_date(value: dt.date, style: DateStyle = DateStyle.ISO) -> str:
    """A date in ``style``; a datetime gives its UTC date, or its date and time with FULL."""
    if style is DateStyle.FULL:
        return format_datetime(value, style)
    day = as_date(value)
    if style is DateStyle.ISO:
        return day.isoformat()
    if style is DateStyle.US:
        return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"
    return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"


def format_datetime(value: dt.date, style: DateStyle = DateStyle.ISO) -> str:
    """Date in ``style`` and the time to the second; aware datetimes are shown in UTC."""
    moment = as_datetime(value)
    if style is DateStyle.ISO or style is DateStyle.FULL:
        return moment.isoformat(" ", "seconds")
    return f"{format_date(moment.date(), style)} {moment:%H:%M:%S}"


Renderer = Callable[[object], str]


def renderer(
    kind: Kind,
    *,
    null: str = "",
    date_style: DateStyle = DateStyle.ISO,
    guard: bool = False,
) -> Renderer:
    """A function giving the text of one value of ``kind``; built once per column.

    Writers call it for every cell, so the choices (kind, style, guard) are made
    here and not per value.
    """
    if kind is Kind.MIXED:
        return _mixed_renderer(null=null, date_style=date_style, guard=guard)
    text_of = _text_renderer(kind, date_style=date_style, guard=guard)

    def render(value: object) -> str:
        return null if value is None else text_of(value)

    return render


def render_text(
    value: object,
    kind: Kind,
    *,
    null: str = "",
    date_style: DateStyle = DateStyle.ISO,
    guard: bool = False,
) -> str:
    """The text of one value; for many values of a column use :func:`renderer`."""
    return renderer(kind, null=null, date_style=date_style, guard=guard)(value)


def kind_of(value: object) -> Kind:
    """The kind a value of a MIXED column is written as."""
    # bool before int, datetime before date: each is a subclass of the other.
    if isinstance(value, bool):
        return Kind.BOOLEAN
    if isinstance(value, int):
        return Kind.INTEGER
    if isinstance(value, Decimal):
        return Kind.DECIMAL
    if isinstance(value, float):
        return Kind.FLOAT
    if isinstance(value, dt.datetime):
        return Kind.DATETIME
    if isinstance(value, dt.date):
        return Kind.DATE
    return Kind.TEXT


_CENTS = Decimal("0.01")


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _integer(value: object) -> str:
    return str(as_int(value))


def _decimal(value: object) -> str:
    number = as_decimal(value)
    if not number.is_finite():
        return str(number)
    # Half-up like the grading rules (markbook.reports.grading.round2), so a CSV
    # shows the figure a report shows.
    rounded = number.quantize(_CENTS, rounding=ROUND_HALF_UP)
    # -0.004 rounds to zero: show "0.00", not "-0.00".
    return str(rounded.copy_abs() if rounded.is_zero() else rounded)


def _float(value: object) -> str:
    return repr(as_float(value))


def _boolean(value: object) -> str:
    return "true" if value else "false"


def _guarded_text(value: object) -> str:
    return guard_formula(value if isinstance(value, str) else str(value))


_PLAIN: dict[Kind, Renderer] = {
    Kind.INTEGER: _integer,
    Kind.DECIMAL: _decimal,
    Kind.FLOAT: _float,
    Kind.BOOLEAN: _boolean,
}


def _text_renderer(kind: Kind, *, date_style: DateStyle, guard: bool) -> Renderer:
    if kind is Kind.TEXT:
        return _guarded_text if guard else _text
    if kind is Kind.DATE:
        return functools.partial(format_date, style=date_style)
    if kind is Kind.DATETIME:
        return functools.partial(format_datetime, style=date_style)
    return _PLAIN[kind]


def _mixed_renderer(*, null: str, date_style: DateStyle, guard: bool) -> Renderer:
    by_kind: dict[Kind, Renderer] = {
        kind: renderer(kind, null=null, date_style=date_style, guard=guard)
        for kind in Kind
        if kind is not Kind.MIXED
    }

    def render(value: object) -> str:
        return by_kind[kind_of(value)](value)

    return render
