"""frames.text_frame gives, column at a time, exactly the text cells.renderer gives.

The reference is :func:`markbook.exports.writers.cells.renderer`, one value at a
time; every value here goes through both and the texts are compared. Nulls stay
null in a frame (the writer puts its null text there), so a null in the frame must
line up with the renderer's null text.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest

from markbook.exports.writers import cells
from markbook.exports.writers.cells import Column, DateStyle, Kind
from markbook.exports.writers.frames import (
    CANONICAL,
    decimal_text,
    guarded,
    round_cents,
    text_frame,
)

NULL = "<null>"  # the renderer's text for None, so a frame's null lines up with it
STYLES = list(DateStyle)
GUARDS = [False, True]


def frame_texts(
    kind: Kind, values: Sequence[Any], *, date_style: DateStyle, guard: bool
) -> list[str | None]:
    frame = pl.DataFrame({"v": pl.Series("v", list(values), dtype=CANONICAL[kind])})
    out = text_frame(frame, [Column("v", "V", kind)], date_style=date_style, guard=guard)
    assert out.columns == ["v"]
    assert out.schema["v"] == pl.String
    return out.get_column("v").to_list()


def cell_texts(
    kind: Kind, values: Sequence[Any], *, date_style: DateStyle, guard: bool
) -> list[str]:
    render = cells.renderer(kind, null=NULL, date_style=date_style, guard=guard)
    return [render(value) for value in values]


def assert_same_text(
    kind: Kind, values: Sequence[Any], *, date_style: DateStyle, guard: bool
) -> None:
    got = frame_texts(kind, values, date_style=date_style, guard=guard)
    expected = cell_texts(kind, values, date_style=date_style, guard=guard)
    mismatches = [
        (value, text, want)
        for value, text, want in zip(values, got, expected, strict=True)
        if (NULL if text is None else text) != want
    ]
    assert not mismatches, f"{len(mismatches)} differ (value, frames, cells): {mismatches[:10]}"
    # A null is null in the frame, never the text "None" or "".
    for value, text in zip(values, got, strict=True):
        assert (value is None) == (text is None)


# --- values ---------------------------------------------------------------------------

DECIMALS: list[float | None] = [
    2.675,  # stored as 2.67499999999999982236...; rounds up on paper
    15.625,
    0.005,
    0.015,
    1.005,
    1.015,
    8.345,
    -8.345,
    0.125,
    0.135,
    -0.004,
    -0.005,
    -0.0049,
    -0.5,
    -0.05,
    -1.005,
    -2.675,
    1e6 + 0.125,
    -(1e6 + 0.125),
    999999.995,
    99999.995,
    12345.675,
    0.0,
    -0.0,
    1.0,
    100.0,
    110.0,
    87.5,
    33.333333333333336,
    66.66666666666667,
    -33.333333333333336,
    0.1 + 0.2,
    None,
    1e-9,
    -1e-9,
    1234567.891,
]

TEXTS: list[str | None] = [
    "=SUM(A1:A3)",
    "+1 555 0100",
    "-5 points",
    "@home",
    "\tTabbed",
    "\rReturn",
    "\r\n=CR LF",
    "Plain",
    "",
    " =leading space",
    "a=b",
    "'=already quoted",
    "\n=newline first",
    "Анна Иванова",
    "=Анна",
    "-Ünïcödé",
    "😀 emoji",
    "＝fullwidth equals",
    "−minus sign",
    'quote " inside, comma',
    "^caret",
    "]bracket",
    "\\backslash",
    "-",
    "=",
    None,
]

DATES: list[dt.date | None] = [
    dt.date(1900, 1, 1),
    dt.date(1900, 2, 28),
    dt.date(1999, 12, 31),
    dt.date(2000, 2, 29),
    dt.date(2024, 1, 15),
    dt.date(2024, 2, 29),
    dt.date(2024, 12, 31),
    dt.date(2026, 9, 7),
    dt.date(2100, 3, 1),
    dt.date(2199, 12, 31),
    None,
]

DATETIMES: list[dt.datetime | None] = [
    dt.datetime(1900, 1, 1),
    dt.datetime(2024, 1, 15, 14, 30, 45),
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    dt.datetime(2024, 2, 29, 0, 0, 0, 1),
    dt.datetime(2026, 9, 30, 23, 59, 0, 500000),
    dt.datetime(2026, 10, 1),
    dt.datetime(2199, 12, 31, 12, 0, 0, 123456),
    None,
]

INTEGERS: list[int | None] = [0, 1, -1, 42, 10**12, -(10**12), 2**63 - 1, -(2**63), None]
BOOLEANS: list[bool | None] = [True, False, None, True]


def random_decimals() -> list[float]:
    """Figures of 2 or 3 places in the range school figures take, many of them ties."""
    rng = random.Random(0)
    values: list[float] = []
    for _ in range(1500):
        values.append(round(rng.uniform(-1000, 1000), rng.choice([2, 3])))
    for _ in range(1500):
        # Exactly on a half cent, the awkward case.
        cents = rng.randint(-10_000_000, 10_000_000)
        values.append(round(cents / 100 + rng.choice([0.005, -0.005]), 3))
    for _ in range(1000):
        values.append(rng.randint(-(10**9), 10**9) / 1000)  # up to a million, 3 places
    return values


# --- the comparisons ---------------------------------------------------------------------


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("date_style", STYLES)
def test_decimal_ties_and_signs(date_style: DateStyle, guard: bool) -> None:
    assert_same_text(Kind.DECIMAL, DECIMALS, date_style=date_style, guard=guard)


def test_decimal_by_hand() -> None:
    # The expected texts, written out: half-up like grading.round2, no "-0.00".
    values = [2.675, 15.625, 0.005, -0.004, -0.5, 1e6 + 0.125, -0.005, None]
    expected = ["2.68", "15.63", "0.01", "0.00", "-0.50", "1000000.13", "-0.01", None]
    assert frame_texts(Kind.DECIMAL, values, date_style=DateStyle.ISO, guard=True) == expected


@pytest.mark.parametrize("guard", GUARDS)
def test_decimal_random_sample(guard: bool) -> None:
    assert_same_text(Kind.DECIMAL, random_decimals(), date_style=DateStyle.ISO, guard=guard)


def test_round_cents_and_decimal_text_expressions() -> None:
    frame = pl.DataFrame({"x": [2.675, -2.675, 0.004, -0.004, 15.625, None]})
    out = frame.select(
        round_cents(pl.col("x")).alias("cents"), decimal_text(pl.col("x")).alias("text")
    )
    assert out.get_column("cents").to_list() == [268.0, -268.0, 0.0, -0.0, 1563.0, None]
    assert out.get_column("text").to_list() == ["2.68", "-2.68", "0.00", "0.00", "15.63", None]


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("date_style", STYLES)
def test_text(date_style: DateStyle, guard: bool) -> None:
    assert_same_text(Kind.TEXT, TEXTS, date_style=date_style, guard=guard)


def test_guarded_expression_matches_guard_formula() -> None:
    values = [text for text in TEXTS if text is not None]
    out = (
        pl.DataFrame({"t": values})
        .select(guarded(pl.col("t")).alias("t"))
        .get_column("t")
        .to_list()
    )
    assert out == [cells.guard_formula(text) for text in values]


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("date_style", STYLES)
def test_dates(date_style: DateStyle, guard: bool) -> None:
    assert_same_text(Kind.DATE, DATES, date_style=date_style, guard=guard)


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("date_style", STYLES)
def test_datetimes(date_style: DateStyle, guard: bool) -> None:
    assert_same_text(Kind.DATETIME, DATETIMES, date_style=date_style, guard=guard)


@pytest.mark.parametrize("date_style", STYLES)
def test_every_day_of_a_leap_year_and_a_century(date_style: DateStyle) -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(366)]
    days += [dt.date(1900, 1, 1) + dt.timedelta(days=n * 97) for n in range(1100)]
    assert days[-1].year <= 2199
    assert_same_text(Kind.DATE, days, date_style=date_style, guard=False)
    moments = [dt.datetime.combine(day, dt.time(13, 7, 9, 654321)) for day in days]
    assert_same_text(Kind.DATETIME, moments, date_style=date_style, guard=False)


def test_date_styles_by_hand() -> None:
    day = [dt.date(2024, 2, 29)]
    moment = [dt.datetime(2024, 2, 29, 14, 30, 45, 999999)]
    by_style = {
        DateStyle.ISO: ("2024-02-29", "2024-02-29 14:30:45"),
        DateStyle.US: ("02/29/2024", "02/29/2024 14:30:45"),
        DateStyle.EU: ("29.02.2024", "29.02.2024 14:30:45"),
        DateStyle.FULL: ("2024-02-29 00:00:00", "2024-02-29 14:30:45"),
    }
    for style, (date_text, datetime_text) in by_style.items():
        assert frame_texts(Kind.DATE, day, date_style=style, guard=True) == [date_text]
        assert frame_texts(Kind.DATETIME, moment, date_style=style, guard=True) == [datetime_text]


@pytest.mark.parametrize("guard", GUARDS)
@pytest.mark.parametrize("date_style", STYLES)
def test_integers_and_booleans(date_style: DateStyle, guard: bool) -> None:
    assert_same_text(Kind.INTEGER, INTEGERS, date_style=date_style, guard=guard)
    assert_same_text(Kind.BOOLEAN, BOOLEANS, date_style=date_style, guard=guard)


def test_floats_parse_to_the_same_number() -> None:
    # FLOAT may differ in notation (1e-05 / 0.00001), never in the number.
    values: list[float | None] = [1e-05, 0.1, 1 / 3, 1e16, 1e22, -0.0, 123456789.125, 5e-324]
    values += [2.5, 100.0]
    values += [math.inf, -math.inf, None]
    values += [random.Random(1).uniform(-1e6, 1e6) for _ in range(500)]
    got = frame_texts(Kind.FLOAT, values, date_style=DateStyle.ISO, guard=True)
    expected = cell_texts(Kind.FLOAT, values, date_style=DateStyle.ISO, guard=True)
    for value, text, want in zip(values, got, expected, strict=True):
        if value is None:
            assert text is None and want == NULL
            continue
        assert text is not None
        assert float(text) == float(want) == value
        assert math.copysign(1, float(text)) == math.copysign(1, value)


def test_several_columns_keep_their_order_and_names() -> None:
    columns = [
        Column("when", "When", Kind.DATETIME),
        Column("name", "Name", Kind.TEXT),
        Column("score", "Score", Kind.DECIMAL),
        Column("n", "N", Kind.INTEGER),
    ]
    frame = pl.DataFrame(
        {
            "n": pl.Series([1, None], dtype=pl.Int64),
            "score": [2.675, None],
            "name": ["=x", None],
            "when": [dt.datetime(2024, 1, 15, 14, 30, 45, 5), None],
            "extra": ["not selected", "x"],
        }
    )
    out = text_frame(frame, columns, date_style=DateStyle.EU, guard=True)
    assert out.columns == ["when", "name", "score", "n"]
    assert out.row(0) == ("15.01.2024 14:30:45", "'=x", "2.68", "1")
    assert out.row(1) == (None, None, None, None)


# --- values that once differed ------------------------------------------------------------


def test_decimal_ties_beyond_ten_million() -> None:
    values = [18505921.115, -18505921.115, 42169409.105, 620407472.685]
    assert_same_text(Kind.DECIMAL, values, date_style=DateStyle.ISO, guard=True)


def test_decimal_not_finite() -> None:
    values = [math.nan, math.inf, -math.inf]
    assert_same_text(Kind.DECIMAL, values, date_style=DateStyle.ISO, guard=True)
