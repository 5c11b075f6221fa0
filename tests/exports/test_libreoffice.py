"""The XLSX writer's files open in LibreOffice as a user's spreadsheet sees them.

rustpy-xlsxwriter is a young library: besides openpyxl (tests/exports/test_routes.py)
its files are opened by LibreOffice Calc, which saves each sheet as CSV "as shown",
so the number and date formats are checked as well as the values.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from markbook.exports.writers.arrow_xlsx import SheetSource, write_workbook
from markbook.exports.writers.cells import Column, DateStyle, Kind

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
IN_CI = os.environ.get("CI", "").lower() == "true"

COLUMNS = [
    Column("id", "Id", Kind.INTEGER),
    Column("name", "Name", Kind.TEXT),
    Column("score", "Score", Kind.DECIMAL),
    Column("day", "Day", Kind.DATE),
    Column("at", "Recorded", Kind.DATETIME),
]
NAMES = ["Zoë Ñúñez", "=SUM(A1)", "李雷", "-x", "Анна 😀"]
SCORES = [85.5, -0.5, None, 100.0, 2.68]


def _open_in_libreoffice(workbook: Path, out: Path, names: list[str]) -> dict[str, list[list[str]]]:
    if SOFFICE is None:
        if IN_CI:
            pytest.fail("LibreOffice (soffice) is not installed; .ci/run installs it")
        pytest.skip("LibreOffice is not installed")
    # CSV filter options: comma, double quote, UTF-8, first line 1, no cell format,
    # default language, no quoted-as-text, detect numbers, save as shown, no
    # formulas, no trimming, all sheets (-1: LibreOffice 7.2 and later).
    options = "44,34,76,1,,0,false,true,true,false,false,-1"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{out / 'profile'}",
            "--headless",
            "--convert-to",
            f"csv:Text - txt - csv (StarCalc):{options}",
            "--outdir",
            str(out),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sheets = {}
    for name in names:
        path = out / f"{workbook.stem}-{name}.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            sheets[name] = list(csv.reader(handle))
    assert len(list(out.glob(f"{workbook.stem}-*.csv"))) == len(names)
    return sheets


def test_libreoffice_reads_every_sheet_value_and_format(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "name": NAMES,
            "score": SCORES,
            "day": [dt.date(2024, 1, 15)] * 5,
            "at": [dt.datetime(2024, 1, 15, 14, 30, 45)] * 5,
        }
    )
    workbook = tmp_path / "grades.xlsx"
    source = SheetSource("grades", COLUMNS, 5, iter([frame.slice(0, 3), frame.slice(3)]))
    write_workbook(workbook, [source], date_style=DateStyle.EU, sheet_rows=2)
    assert source.names == ["grades", "grades (2)", "grades (3)"]

    sheets = _open_in_libreoffice(workbook, tmp_path, source.names)

    rows = [row for name in sheets for row in sheets[name][1:]]
    assert all(sheets[name][0] == ["Id", "Name", "Score", "Day", "Recorded"] for name in sheets)
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5"]
    # Text exactly as stored: a formula-looking name is text in a cell, not a formula.
    assert [row[1] for row in rows] == NAMES
    # Two places on every score; an empty score stays empty.
    assert [row[2] for row in rows] == ["85.50", "-0.50", "", "100.00", "2.68"]
    # Real dates, shown in the EU style chosen.
    assert {row[3] for row in rows} == {"15.01.2024"}
    assert {row[4] for row in rows} == {"15.01.2024 14:30:45"}
