"""The XLSX writer: typed rows as real numbers and dates in sheets, on XlsxWriter.

One :class:`XlsxWorkbook` per file; :meth:`XlsxWorkbook.add_sheet` writes a table
from a row iterator (with ``constant_memory`` XlsxWriter keeps one row in memory,
so big exports stay flat), :meth:`XlsxWorkbook.add_column_chart` draws a native
chart over a sheet's columns.

Strings are only ever written as string cells (never with ``Worksheet.write()``,
which turns "=SUM(A1:A3)" into a formula), and a string cell is never evaluated,
so text needs no apostrophe here, unlike CSV.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, Self

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from markbook.exports.writers.cells import (
    Column,
    DateStyle,
    Kind,
    as_date,
    as_datetime,
    as_float,
    as_int,
    kind_of,
    renderer,
    to_naive_utc,
)

__all__ = [
    "EXCEL_DATE_FORMATS",
    "MAX_CELL_CHARS",
    "MAX_ROWS",
    "Sheet",
    "XlsxWorkbook",
    "safe_sheet_name",
]

# Excel "Specifications and limits": a cell holds at most 32,767 characters
# (counted in UTF-16 units), a sheet at most 1,048,576 rows, a sheet name 31
# characters.
MAX_CELL_CHARS = 32_767
MAX_ROWS = 1_048_576
MAX_SHEET_NAME = 31
MIN_WIDTH, MAX_WIDTH = 8, 50
# Column widths are fitted to the header and the first rows only: the rest are
# not known yet when constant_memory needs the widths.
WIDTH_SAMPLE_ROWS = 100

EXCEL_DATE_FORMATS: Mapping[DateStyle, str] = {
    DateStyle.ISO: "yyyy-mm-dd",
    DateStyle.US: "mm/dd/yyyy",
    DateStyle.EU: "dd.mm.yyyy",
    DateStyle.FULL: "yyyy-mm-dd hh:mm:ss",
}
# Dark blue with white text: a contrast ratio of about 10:1 (WCAG AA asks 4.5:1).
HEADER_FILL = "#1F4E79"
HEADER_TEXT = "#FFFFFF"
CHART_FILL = "#2E75B6"


@dataclass(frozen=True, slots=True)
class Sheet:
    """A table written to a sheet: row 1 is the header, rows 2.. the data."""

    name: str
    columns: tuple[Column, ...]
    rows: int  # data rows on this sheet
    # Sheets holding the rows beyond Excel's row limit, each with the same header.
    continued_on: tuple[Sheet, ...] = ()

    def column_index(self, name: str) -> int:
        for index, column in enumerate(self.columns):
            if column.name == name:
                return index
        raise KeyError(f"sheet {self.name!r} has no column {name!r}")


class XlsxWorkbook:
    """An XLSX file being written to a path or a binary file object (e.g. BytesIO).

    ``constant_memory`` keeps memory flat for big exports; then each sheet must be
    written in one go, which :meth:`add_sheet` does anyway. Use as a context
    manager or call :meth:`close`, which writes the file.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        *,
        constant_memory: bool = False,
        date_style: DateStyle = DateStyle.ISO,
        title: str | None = None,
        author: str = "Markbook",
        created: dt.datetime | None = None,
        tmpdir: str | None = None,
    ) -> None:
        is_path = isinstance(target, (str, os.PathLike))
        in_memory = not constant_memory and not is_path
        # XlsxWriter's temporary files go to a directory of our own, so an export
        # that fails half way leaves nothing behind.
        self._tmp = (
            None
            if in_memory
            else tempfile.TemporaryDirectory(
                prefix="markbook-xlsx-", dir=tmpdir, ignore_cleanup_errors=True
            )
        )
        self._book: Any = xlsxwriter.Workbook(
            os.fspath(target) if is_path else target,  # type: ignore[arg-type]
            {
                "constant_memory": constant_memory,
                "in_memory": in_memory,
                "tmpdir": None if self._tmp is None else self._tmp.name,
                "nan_inf_to_errors": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        properties: dict[str, object] = {"author": author}
        if title is not None:
            properties["title"] = title
        if created is not None:
            properties["created"] = to_naive_utc(created)
        self._book.set_properties(properties)
        self._formats = _Formats(self._book, date_style)
        self._date_style = date_style
        self._worksheets: dict[str, Any] = {}
        self._closed = False

    def add_sheet(
        self, name: str, columns: Sequence[Column], rows: Iterable[Sequence[object]]
    ) -> Sheet:
        """Write a table: header, then ``rows`` (one value per column; None is an empty
        cell). ``name`` is made a valid, unused sheet name; rows beyond Excel's limit go
        on to further sheets named "name (2)", ...
        """
        columns = tuple(columns)
        pending = iter(rows)
        sample = list(itertools.islice(pending, WIDTH_SAMPLE_ROWS))
        layout = _layout(columns, sample, self._formats, self._date_style)
        pending = itertools.chain(sample, pending)
        sheets: list[Sheet] = []
        while True:
            worksheet = self._new_worksheet(name, layout)
            written = _write_rows(worksheet, layout, itertools.islice(pending, MAX_ROWS - 1))
            sheets.append(Sheet(worksheet.name, columns, written))
            _finish_table(worksheet, written, len(columns))
            following = next(pending, None)
            if following is None:
                break
            pending = itertools.chain((following,), pending)
        first, *rest = sheets
        return Sheet(first.name, columns, first.rows, tuple(rest))

    def add_column_chart(
        self,
        on: Sheet,
        *,
        source: Sheet,
        categories: str,
        values: str,
        title: str,
        anchor: str | None = None,
    ) -> None:
        """A native column chart on sheet ``on`` of ``source``'s ``values`` column,
        labelled by its ``categories`` column; placed at ``anchor`` (e.g. "D2"), by
        default just right of ``on``'s table."""
        if source.rows == 0:
            raise ValueError(f"sheet {source.name!r} has no rows to chart")
        chart = self._book.add_chart({"type": "column"})
        chart.add_series(_series(source, categories, values))
        chart.set_title({"name": title})
        chart.set_legend({"none": True})
        chart.set_y_axis({"min": 0, "major_gridlines": {"visible": True}})
        position = anchor or xl_rowcol_to_cell(1, len(on.columns) + 1)
        self._worksheets[on.name].insert_chart(position, chart)

    def close(self) -> None:
        """Write the file."""
        if self._closed:
            return
        self._closed = True
        try:
            self._book.close()
        finally:
            self._cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abandon()

    def _new_worksheet(self, name: str, layout: _Layout) -> Any:
        worksheet = self._book.add_worksheet(safe_sheet_name(name, self._worksheets))
        self._worksheets[worksheet.name] = worksheet
        for index, width in enumerate(layout.widths):
            worksheet.set_column(index, index, width)
        worksheet.freeze_panes(1, 0)
        header = self._formats.header
        for index, column in enumerate(layout.columns):
            _write_text(worksheet, 0, index, column.label, header)
        return worksheet

    def _abandon(self) -> None:
        # No file is written; close XlsxWriter's row files before removing them.
        self._closed = True
        for worksheet in self._worksheets.values():
            handle = getattr(worksheet, "row_data_fh", None)
            if handle is not None:
                handle.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def safe_sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """``name`` made a valid sheet name unused in ``taken``: at most 31 characters,
    none of []:*?/\\, no apostrophe at either end, not blank, and unique ignoring
    case ("Analytics" when "analytics" is taken gives "Analytics (2)")."""
    base = _tidy_name(_FORBIDDEN_IN_NAME.sub("_", name)[:MAX_SHEET_NAME]) or "Sheet"
    used = {other.casefold() for other in taken} | _RESERVED_NAMES
    candidate = base
    number = 2
    while candidate.casefold() in used:
        suffix = f" ({number})"
        candidate = _tidy_name(base[: MAX_SHEET_NAME - len(suffix)]) + suffix
        number += 1
    return candidate


# Control characters are refused by Excel too, though XlsxWriter lets them through.
_FORBIDDEN_IN_NAME = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_NAME_EDGES = re.compile(r"^[\s']+|[\s']+$")
# Excel keeps "History" for its change tracking sheet.
_RESERVED_NAMES = frozenset({"history"})


def _tidy_name(name: str) -> str:
    return _NAME_EDGES.sub("", name)


CellWriter = Callable[[Any, int, int, object], object]


@dataclass(frozen=True, slots=True)
class _Layout:
    columns: tuple[Column, ...]
    widths: list[float]
    writers: list[CellWriter]


class _Formats:
    """The workbook's cell formats, made once: XlsxWriter keeps every format object."""

    def __init__(self, book: Any, date_style: DateStyle) -> None:
        top = {"valign": "top"}
        date_format = EXCEL_DATE_FORMATS[date_style]
        datetime_format = (
            date_format
            if date_style is DateStyle.FULL
            else f"{date_format} {EXCEL_DATE_FORMATS[DateStyle.FULL].split()[1]}"
        )
        self.header = book.add_format(
            {
                "bold": True,
                "font_color": HEADER_TEXT,
                "bg_color": HEADER_FILL,
                "pattern": 1,
                "valign": "top",
                "bottom": 1,
            }
        )
        self.text = book.add_format(top)
        self.wrapped = book.add_format({**top, "text_wrap": True})
        self.by_kind = {
            Kind.INTEGER: book.add_format({**top, "num_format": "0"}),
            Kind.DECIMAL: book.add_format({**top, "num_format": "0.00"}),
            Kind.FLOAT: self.text,
            Kind.DATE: book.add_format({**top, "num_format": date_format}),
            Kind.DATETIME: book.add_format({**top, "num_format": datetime_format}),
            Kind.BOOLEAN: self.text,
        }


def _layout(
    columns: tuple[Column, ...],
    sample: list[Sequence[object]],
    formats: _Formats,
    date_style: DateStyle,
) -> _Layout:
    widths, wrapping = fitted_widths(columns, sample, date_style)
    writers = [
        _cell_writer(column.kind, formats, formats.wrapped if wraps else formats.text)
        for column, wraps in zip(columns, wrapping, strict=True)
    ]
    return _Layout(columns, widths, writers)


def fitted_widths(
    columns: Sequence[Column], sample: Sequence[Sequence[object]], date_style: DateStyle
) -> tuple[list[float], list[bool]]:
    """Column widths fitted to the header and a sample of rows (MIN_WIDTH..MAX_WIDTH),
    and whether each column's text wraps (line breaks, or wider than MAX_WIDTH)."""
    widths: list[float] = []
    wrapping: list[bool] = []
    for index, column in enumerate(columns):
        texts = _sample_texts(column, index, sample, date_style)
        width = max([_text_width(column.label) + 2, *(_text_width(text) + 1 for text in texts)])
        widths.append(min(max(width, MIN_WIDTH), MAX_WIDTH))
        wrapping.append(any("\n" in text or _text_width(text) > MAX_WIDTH for text in texts))
    return widths, wrapping


def _sample_texts(
    column: Column, index: int, sample: Sequence[Sequence[object]], date_style: DateStyle
) -> list[str]:
    render = renderer(column.kind, date_style=date_style)
    return [render(row[index]) for row in sample if index < len(row) and row[index] is not None]


def _text_width(text: str) -> int:
    """Columns the longest line of ``text`` takes; wide (CJK) characters take two."""
    return max(
        sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)
        for line in text.split("\n")
    )


def _write_rows(worksheet: Any, layout: _Layout, rows: Iterator[Sequence[object]]) -> int:
    writers = layout.writers
    count = 0
    for count, row in enumerate(rows, start=1):
        for col, (write, value) in enumerate(zip(writers, row, strict=True)):
            if value is not None:
                write(worksheet, count, col, value)
    return count


def _finish_table(worksheet: Any, rows: int, width: int) -> None:
    worksheet.autofilter(0, 0, rows, width - 1)


def _series(source: Sheet, categories: str, values: str) -> dict[str, object]:
    category_col = source.column_index(categories)
    value_col = source.column_index(values)
    last = source.rows
    return {
        "name": [source.name, 0, value_col],
        "categories": [source.name, 1, category_col, last, category_col],
        "values": [source.name, 1, value_col, last, value_col],
        "fill": {"color": CHART_FILL},
        "data_labels": {"value": True, "num_format": "0.00"},
    }


def _cell_writer(kind: Kind, formats: _Formats, text_format: Any) -> CellWriter:
    if kind is Kind.TEXT:
        return lambda ws, row, col, value: _write_text(ws, row, col, _as_text(value), text_format)
    if kind is Kind.MIXED:
        kinds = [each for each in Kind if each is not Kind.MIXED]
        by_kind: dict[Kind, CellWriter] = {
            each: _cell_writer(each, formats, text_format) for each in kinds
        }
        return lambda ws, row, col, value: by_kind[kind_of(value)](ws, row, col, value)
    cell_format = formats.by_kind[kind]
    if kind is Kind.INTEGER:
        return lambda ws, row, col, value: ws.write_number(row, col, as_int(value), cell_format)
    if kind in (Kind.DECIMAL, Kind.FLOAT):
        return lambda ws, row, col, value: ws.write_number(row, col, as_float(value), cell_format)
    if kind is Kind.BOOLEAN:
        return lambda ws, row, col, value: ws.write_boolean(row, col, bool(value), cell_format)
    if kind is Kind.DATE:
        return lambda ws, row, col, value: ws.write_datetime(row, col, as_date(value), cell_format)
    return lambda ws, row, col, value: ws.write_datetime(row, col, as_datetime(value), cell_format)


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _write_text(worksheet: Any, row: int, col: int, text: str, cell_format: Any) -> None:
    text = _fit_cell(text)
    if text.startswith("<r>") and text.endswith("</r>"):
        # XlsxWriter (3.3) takes such a string for rich-string markup it made itself
        # and copies it into the XML unescaped: data shaped like that could add
        # cells, formulas included. Written as a rich string its text is escaped.
        worksheet.write_rich_string(
            row, col, cell_format, text[:1], cell_format, text[1:], cell_format
        )
    else:
        worksheet.write_string(row, col, text, cell_format)


_ELLIPSIS = "…"


def _fit_cell(text: str) -> str:
    """``text`` cut to Excel's 32,767 characters per cell, ending in an ellipsis when cut."""
    if len(text) <= MAX_CELL_CHARS // 2:
        return text
    if len(text.encode("utf-16-le", "surrogatepass")) // 2 <= MAX_CELL_CHARS:
        return text
    budget = MAX_CELL_CHARS - len(_ELLIPSIS)
    used = 0
    for index, char in enumerate(text):
        # Characters beyond the Basic Multilingual Plane take two UTF-16 units.
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return text[:index] + _ELLIPSIS
    return text
