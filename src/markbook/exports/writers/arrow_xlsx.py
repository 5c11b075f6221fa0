"""XLSX of any size from columnar batches, through rustpy-xlsxwriter.

XlsxWriter (pure Python) takes about a minute for a million rows; the Rust
rust_xlsxwriter behind rustpy-xlsxwriter writes them in seconds from Arrow record
batches, pulling one batch at a time from a stream, so memory stays flat. It is a
young library, so it is pinned in pyproject.toml and used only here, behind the
same look as :class:`markbook.exports.writers.xlsx.XlsxWorkbook` (bold header on a
blue fill, frozen header row, widths fitted 8-50 from a sample, wrapped long text,
two-place figures, whole-number counts and real dates in the chosen style). Its
files are read back with openpyxl and opened by LibreOffice in the tests.

A sheet holds at most ``sheet_rows`` data rows (Excel: 1,048,576 rows with the
header); the rows go on on "name (2)", "name (3)"... instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from markbook.exports.writers.cells import Column, DateStyle, Kind
from markbook.exports.writers.frames import CANONICAL
from markbook.exports.writers.xlsx import (
    EXCEL_DATE_FORMATS,
    HEADER_FILL,
    HEADER_TEXT,
    MAX_ROWS,
    WIDTH_SAMPLE_ROWS,
    fitted_widths,
    safe_sheet_name,
)

__all__ = ["SheetSource", "write_workbook"]


@dataclass
class SheetSource:
    """One dataset's rows for a workbook: ``rows`` of them in canonical frames."""

    name: str
    columns: Sequence[Column]
    rows: int
    batches: Iterator[pl.DataFrame]
    chart: dict[str, str] | None = None  # {"categories": column, "values": column}
    names: list[str] = field(default_factory=list)  # the sheet names it got


def _number_format(kind: Kind, style: DateStyle) -> str | None:
    date_format = EXCEL_DATE_FORMATS[style]
    if kind is Kind.INTEGER:
        return "0"
    if kind is Kind.DECIMAL:
        return "0.00"
    if kind is Kind.DATE:
        return date_format
    if kind is Kind.DATETIME:
        full = EXCEL_DATE_FORMATS[DateStyle.FULL]
        return full if style is DateStyle.FULL else f"{date_format} {full.split()[1]}"
    return None


def _arrow_schema(columns: Sequence[Column]) -> Any:
    empty = pl.DataFrame(
        {column.label: pl.Series([], dtype=CANONICAL[column.kind]) for column in columns}
    )
    return empty.to_arrow().schema


def _labelled(frame: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    return frame.select(pl.col(column.name).alias(column.label) for column in columns)


def _parts(batches: Iterator[pl.DataFrame], sizes: Sequence[int]) -> list[Iterator[pl.DataFrame]]:
    """``batches`` cut into consecutive pieces of ``sizes`` rows, read lazily in order."""
    leftover: list[pl.DataFrame] = []

    def part(size: int) -> Iterator[pl.DataFrame]:
        wanted = size
        while wanted > 0:
            frame = leftover.pop() if leftover else next(batches, None)
            if frame is None:
                return
            if frame.height > wanted:
                leftover.append(frame.slice(wanted))
                frame = frame.slice(0, wanted)
            wanted -= frame.height
            yield frame

    return [part(size) for size in sizes]


def write_workbook(
    target: Path,
    sources: Sequence[SheetSource],
    *,
    date_style: DateStyle = DateStyle.ISO,
    sheet_rows: int = MAX_ROWS - 1,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Write every source as one or more sheets of ``target``."""
    import pyarrow as pa
    import rustpy_xlsxwriter as rx

    header = (
        rx.Format()
        .set_bold()
        .set_font_color(HEADER_TEXT)
        .set_background_color(HEADER_FILL)
        .set_border_bottom("thin")
    )
    entries: list[tuple[str, Any]] = []
    formats: dict[str, Any] = {}
    widths: dict[str, Any] = {}
    charts: dict[str, list[dict[str, Any]]] = {}
    taken: list[str] = []
    for source in sources:
        columns = list(source.columns)
        schema = _arrow_schema(columns)
        first = next(source.batches, None)
        sample = (
            first.head(WIDTH_SAMPLE_ROWS).select(c.name for c in columns).rows()
            if (first is not None)
            else []
        )
        fitted, wrapping = fitted_widths(columns, sample, date_style)
        column_formats = []
        for column, wraps in zip(columns, wrapping, strict=True):
            cell = rx.Format().set_align("top")
            number = _number_format(column.kind, date_style)
            if number:
                cell = cell.set_num_format(number)
            if wraps and column.kind is Kind.TEXT:
                cell = cell.set_text_wrap()
            column_formats.append(cell)

        def chained(
            head: pl.DataFrame | None, rest: Iterator[pl.DataFrame]
        ) -> Iterator[pl.DataFrame]:
            if head is not None:
                yield head
            yield from rest

        pieces = max(1, math.ceil(source.rows / sheet_rows))
        sizes = [sheet_rows] * pieces
        for piece in _parts(chained(first, source.batches), sizes):
            name = safe_sheet_name(source.name, taken)
            taken.append(name)
            source.names.append(name)

            def arrow_batches(
                frames: Iterator[pl.DataFrame] = piece, columns: list[Column] = columns
            ) -> Iterator[Any]:
                for frame in frames:
                    yield from _labelled(frame, columns).to_arrow().to_batches()
                    if on_batch is not None:
                        on_batch(frame.height)

            entries.append((name, pa.RecordBatchReader.from_batches(schema, arrow_batches())))
            formats[name] = column_formats
            widths[name] = fitted
            if source.chart:
                labels = {column.name: column.label for column in columns}
                categories = labels.get(source.chart["categories"])
                values = labels.get(source.chart["values"])
                if categories and values:
                    charts[name] = [
                        {
                            "type": "column",
                            "series": [values],
                            "categories": categories,
                            "title": f"{values} by {categories}",
                            "legend": False,
                        }
                    ]
    rx.write_worksheets(
        entries,
        str(target),
        freeze_panes={"general": {"row": 1, "col": 0}},
        column_formats=formats,
        column_widths=widths,
        header_format={"general": header},
        charts=charts or None,
    )
