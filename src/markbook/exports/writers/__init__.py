"""The writers every download and export job shares (../shared/DESIGN.md "Exports").

One CSV writer, one XLSX writer, and one module (:mod:`.cells`) that decides how a
value of a kind is shown, guards text against formula injection and formats dates.
Writers take row iterators and write to binary sinks, so memory stays flat
whatever the row count.
"""

from markbook.exports.writers.cells import (
    Column,
    DateStyle,
    Kind,
    format_date,
    format_datetime,
    guard_formula,
    render_text,
)
from markbook.exports.writers.csv import CsvWriter
from markbook.exports.writers.xlsx import Sheet, XlsxWorkbook, safe_sheet_name

__all__ = [
    "Column",
    "CsvWriter",
    "DateStyle",
    "Kind",
    "Sheet",
    "XlsxWorkbook",
    "format_date",
    "format_datetime",
    "guard_formula",
    "render_text",
    "safe_sheet_name",
]
