"""Columnar cells: the rules of :mod:`.cells`, applied to whole columns at once.

Dataset exports move rows in polars frames of tens of thousands of rows, so the
formula guard, the date styles and the two-place figures are polars expressions
here, not a Python call per cell. They must give exactly the text
:func:`markbook.exports.writers.cells.renderer` gives for the same value; the tests
compare the two on the awkward values (ties, negatives, dates of every style).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from markbook.exports.writers.cells import FORMULA_TRIGGERS, Column, DateStyle, Kind

__all__ = [
    "CANONICAL",
    "DATETIME_PATTERNS",
    "DATE_PATTERNS",
    "canonical",
    "decimal_text",
    "guarded",
    "round_cents",
    "text_frame",
]

# The one polars type each kind travels as between the database and a writer.
CANONICAL: dict[Kind, pl.DataType] = {
    Kind.TEXT: pl.String(),
    Kind.INTEGER: pl.Int64(),
    Kind.DECIMAL: pl.Float64(),
    Kind.FLOAT: pl.Float64(),
    Kind.DATE: pl.Date(),
    Kind.DATETIME: pl.Datetime("us"),
    Kind.BOOLEAN: pl.Boolean(),
}

# strftime patterns giving what cells.format_date / format_datetime give.
DATE_PATTERNS: dict[DateStyle, str] = {
    DateStyle.ISO: "%Y-%m-%d",
    DateStyle.US: "%m/%d/%Y",
    DateStyle.EU: "%d.%m.%Y",
    DateStyle.FULL: "%Y-%m-%d %H:%M:%S",
}
DATETIME_PATTERNS: dict[DateStyle, str] = {
    DateStyle.ISO: "%Y-%m-%d %H:%M:%S",
    DateStyle.US: "%m/%d/%Y %H:%M:%S",
    DateStyle.EU: "%d.%m.%Y %H:%M:%S",
    DateStyle.FULL: "%Y-%m-%d %H:%M:%S",
}

_TRIGGER_PATTERN = (
    "^["
    + "".join("\\" + char if char in "-\\^]" else char for char in sorted(FORMULA_TRIGGERS))
    + "]"
)
# A value this close to a half cent is taken to be on it: 2.675 is stored as
# 2.67499999999999982236431605997495353221893310546875, and cells._decimal rounds
# its shortest repr ("2.675") half-up to 2.68. Scores are kept to 2 places and
# computed figures (100 * score / max) sit far further than this from a tie.
_HALF_CENT_SLACK = 1e-7


def guarded(expr: pl.Expr) -> pl.Expr:
    """Text with a leading apostrophe where a spreadsheet would run it as a formula."""
    return pl.when(expr.str.contains(_TRIGGER_PATTERN)).then(pl.lit("'") + expr).otherwise(expr)


def round_cents(expr: pl.Expr) -> pl.Expr:
    """Whole cents, rounded half away from zero like grading.round2 (half-up)."""
    scaled = expr * 100
    # The slack grows with the number: past about 1.7e7 the gap between doubles
    # near scaled is wider than a fixed 1e-7 (4e-16 is about two doubles' gap).
    slack = pl.max_horizontal(pl.lit(_HALF_CENT_SLACK), scaled.abs() * 4e-16)
    nudged = scaled + pl.when(scaled >= 0).then(slack).otherwise(-slack)
    return nudged.round(0, mode="half_away_from_zero")


def decimal_text(expr: pl.Expr) -> pl.Expr:
    """A figure with exactly two places, as cells renders a DECIMAL: -0.5 -> "-0.50"."""
    # Cents as whole numbers only where they fit in 64 bits; NaN and infinities
    # are written as cells writes them (Decimal's "NaN", "Infinity").
    exact = expr.is_finite() & (expr.abs() < 9e16)
    cents = pl.when(exact).then(round_cents(expr)).otherwise(0).cast(pl.Int64)
    magnitude = cents.abs()
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (magnitude // 100).cast(pl.String)
    part = (magnitude % 100).cast(pl.String).str.zfill(2)
    return (
        pl.when(exact)
        .then(sign + whole + pl.lit(".") + part)
        .when(expr.is_nan())
        .then(pl.lit("NaN"))
        .when(expr.is_infinite())
        .then(pl.when(expr > 0).then(pl.lit("Infinity")).otherwise(pl.lit("-Infinity")))
        .otherwise(expr.cast(pl.String))  # beyond 9e16 a double has no cents anyway
    )


def _float_text(expr: pl.Expr) -> pl.Expr:
    # polars prints floats by their shortest round-trip form, as repr() does.
    return expr.cast(pl.String)


def canonical(frame: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    """``frame`` with each column cast to its kind's travelling type (see CANONICAL)."""
    return frame.with_columns(
        pl.col(column.name).cast(CANONICAL[column.kind], strict=False) for column in columns
    )


def _text_expr(column: Column, style: DateStyle, guard: bool) -> pl.Expr:
    expr = pl.col(column.name)
    match column.kind:
        case Kind.TEXT:
            return guarded(expr) if guard else expr
        case Kind.INTEGER:
            return expr.cast(pl.String)
        case Kind.DECIMAL:
            return decimal_text(expr)
        case Kind.FLOAT:
            return _float_text(expr)
        case Kind.BOOLEAN:
            return expr.cast(pl.String)  # "true" / "false", as cells writes them
        case Kind.DATE:
            if style is DateStyle.FULL:
                return expr.cast(pl.Datetime("us")).dt.strftime(DATETIME_PATTERNS[style])
            return expr.dt.strftime(DATE_PATTERNS[style])
        case Kind.DATETIME:
            return expr.dt.strftime(DATETIME_PATTERNS[style])
        case _:  # pragma: no cover - MIXED columns are never part of a dataset
            raise ValueError(f"a column of kind {column.kind} cannot be rendered in bulk")


def text_frame(
    frame: pl.DataFrame,
    columns: Sequence[Column],
    *,
    date_style: DateStyle = DateStyle.ISO,
    guard: bool = True,
) -> pl.DataFrame:
    """Every column as the text a CSV cell shows; nulls stay null for the writer."""
    return frame.select(
        _text_expr(column, date_style, guard).alias(column.name) for column in columns
    )
