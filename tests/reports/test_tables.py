"""The report's CSV and XLSX downloads, checked against the report object.

Expected texts and numbers are worked out here from the report's own fields, not
by the export writers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from markbook.reports.model import PerformanceReport
from markbook.reports.tables import render_csv, render_xlsx
from tests.reports.sample import sample_report

BOM = b"\xef\xbb\xbf"
SECTION_HEADERS = {
    "Summary": ["Field", "Value"],
    "Courses": [
        "Course", "Subject", "Term", "Teacher", "Credits", "Average", "Letter",
        "Grade points", "Attendance rate (%)", "Counted", "Graded", "Late", "Missing",
        "Excused", "Pending",
    ],
    "Assignments": [
        "Course", "Title", "Category", "Due date", "Status", "Score", "Max points",
        "Percent", "Weight",
    ],
    "Attendance": ["Date", "Course", "Status"],
    "Analytics": ["Metric", "Count", "Mean", "Min", "Max", "Latest", "Latest at (UTC)"],
    "Comments": [
        "Kind", "Author", "Date", "Course", "Summary", "Strengths", "Concerns",
        "Recommendations", "Behaviour", "Next steps", "Notes", "Homework completion (%)",
        "Hours", "Progress rating", "Period start", "Period end",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def report() -> PerformanceReport:
    return sample_report()


def guarded(text: str) -> str:
    """What a spreadsheet-safe CSV cell holds for ``text`` (OWASP CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def two_places(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


# --- CSV --------------------------------------------------------------------

Sections = dict[str, list[dict[str, str]]]


def parse_sections(data: bytes) -> tuple[list[str], Sections]:
    """Section titles in order, and each section's rows keyed by its header."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    titles: list[str] = []
    sections: Sections = {}
    index = 0
    while index < len(rows):
        (title,) = rows[index]
        header = rows[index + 1]
        assert header == SECTION_HEADERS[title], title
        titles.append(title)
        index += 2
        sections[title] = []
        while index < len(rows) and rows[index] != []:
            assert len(rows[index]) == len(header)
            sections[title].append(dict(zip(header, rows[index], strict=True)))
            index += 1
        index += 1  # the blank line between sections
    return titles, sections


@pytest.fixture(scope="module")
def csv_sections(report: PerformanceReport) -> Sections:
    titles, sections = parse_sections(render_csv(report))
    assert titles == list(SECTION_HEADERS)
    return sections


def test_csv_summary(report: PerformanceReport, csv_sections: Sections) -> None:
    rows = [(row["Field"], row["Value"]) for row in csv_sections["Summary"]]
    fields = dict(rows)
    summary = report.summary
    assert fields["Student"] == "李雷 Анна Γιώργος José Núñez" == report.student.name
    assert fields["SIS id"] == report.student.external_id
    assert fields["Grade level"] == str(report.student.grade_level)
    assert fields["Period start"] == report.period.start.isoformat() == "2026-08-24"
    assert fields["Period end"] == report.period.end.isoformat()
    assert fields["Overall average"] == two_places(summary.overall_average)
    assert fields["Letter"] == summary.letter
    assert fields["GPA"] == two_places(summary.gpa)
    assert fields["Attendance rate (%)"] == "88.24"
    assert fields["Completion rate (%)"] == two_places(summary.completion_rate)
    assert fields["Trend (points)"] == "-12.50"  # a number: not guarded
    assert fields["Assignments missing"] == str(summary.assignments.missing)
    assert fields["Days absent"] == str(summary.attendance.absent) == "20"
    assert fields["Generated at (UTC)"] == "2027-01-16 08:00:00"
    flags = [value for field, value in rows if field == "Flag"]
    assert flags == [guarded(flag.message) for flag in summary.flags]
    assert flags[1] == "'=SUM(A1:A3) Lab: average 55.00, below 60 (F)."


def test_csv_courses(report: PerformanceReport, csv_sections: Sections) -> None:
    rows = csv_sections["Courses"]
    assert [row["Course"] for row in rows] == [guarded(c.name) for c in report.courses]
    assert rows[1]["Course"] == "'=SUM(A1:A3) Lab"
    for row, course in zip(rows, report.courses, strict=True):
        assert row["Teacher"] == course.teacher
        assert row["Average"] == two_places(course.average)
        assert row["Credits"] == two_places(course.credits)
        assert row["Grade points"] == two_places(course.grade_points)
        assert row["Missing"] == str(course.assignments.missing)


def test_csv_assignments(report: PerformanceReport, csv_sections: Sections) -> None:
    rows = csv_sections["Assignments"]
    assert len(rows) == len(report.assignments)
    for row, line in zip(rows, report.assignments, strict=True):
        assert row["Title"] == guarded(line.title)
        assert row["Due date"] == line.due_date.isoformat()
        assert row["Percent"] == two_places(line.percent)  # blank when excused or pending
        assert row["Score"] == two_places(line.score)
        assert row["Status"] == line.status
    titles = {row["Title"] for row in rows}
    assert {"'-5 points for lateness", "'@home reading log"} <= titles
    assert 'Essay: "What I did", part 2\nwith a second line' in titles
    assert any(row["Percent"] == "" for row in rows)


def test_csv_attendance_and_analytics(report: PerformanceReport, csv_sections: Sections) -> None:
    attendance = csv_sections["Attendance"]
    assert [(row["Date"], row["Status"]) for row in attendance] == [
        (record.date.isoformat(), record.status) for record in report.attendance_records
    ]
    time_on_task, quiz = csv_sections["Analytics"]
    assert (quiz["Metric"], quiz["Count"], quiz["Mean"]) == ("quiz_score", "12", "-0.50")
    assert (quiz["Min"], quiz["Latest"]) == ("-5.0", "-5.0")
    assert time_on_task["Latest at (UTC)"] == "2027-01-14 15:30:00"


def test_csv_comments(report: PerformanceReport, csv_sections: Sections) -> None:
    student, teacher, tutor = csv_sections["Comments"]
    assert student["Kind"] == "Student report"
    assert student["Author"] == "Γιώργος Παπαδόπουλος"
    assert student["Summary"] == '\'=HYPERLINK("http://x") works hard.\nSecond line.'
    assert student["Strengths"] == "'+1 555 0100 calls home"
    assert student["Recommendations"] == "Read 20 minutes a day.\tTabbed."
    assert student["Concerns"] == ""
    assert (student["Period start"], student["Period end"]) == ("2026-08-24", "2026-10-30")
    assert (teacher["Course"], teacher["Homework completion (%)"]) == ("'=SUM(A1:A3) Lab", "87.50")
    assert teacher["Summary"] == "李雷 made good progress."
    assert (tutor["Hours"], tutor["Progress rating"]) == ("1.50", "4")
    assert tutor["Notes"] == "'-5 points for lateness discussed"
    assert tutor["Summary"] == 'Fractions; "word problems"'
    assert len(csv_sections["Comments"]) == len(report.comments)


def test_csv_bom_only_when_asked(report: PerformanceReport) -> None:
    plain = render_csv(report)
    with_bom = render_csv(report, bom=True)
    assert not plain.startswith(BOM)
    assert with_bom == BOM + plain
    assert plain.startswith(b"Summary\r\nField,Value\r\n")


# --- XLSX -------------------------------------------------------------------


@pytest.fixture(scope="module")
def xlsx(report: PerformanceReport) -> bytes:
    return render_xlsx(report)


@pytest.fixture(scope="module")
def book(xlsx: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(xlsx))


def table(sheet: Worksheet) -> list[dict[str, openpyxl.cell.Cell]]:
    header = [cell.value for cell in sheet[1]]
    return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)]


def test_xlsx_sheets_and_headers(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == list(SECTION_HEADERS)
    for name, header in SECTION_HEADERS.items():
        sheet = book[name]
        assert [cell.value for cell in sheet[1]] == header
        assert all(cell.font.b and cell.fill.fill_type == "solid" for cell in sheet[1])
        assert sheet.freeze_panes == "A2"
        widths = [dimension.width for dimension in sheet.column_dimensions.values()]
        assert widths and all(8 <= width < 51 for width in widths)


def test_xlsx_summary(report: PerformanceReport, book: openpyxl.Workbook) -> None:
    cells = {row["Field"].value: row["Value"] for row in table(book["Summary"])}
    summary = report.summary
    assert cells["Student"].value == "李雷 Анна Γιώργος José Núñez"
    average = cells["Overall average"]
    assert summary.overall_average is not None
    assert (average.value, average.number_format) == (float(summary.overall_average), "0.00")
    assert cells["GPA"].value == float(summary.gpa or 0) and cells["GPA"].data_type == "n"
    assert cells["Trend (points)"].value == -12.5
    assert (cells["Grade level"].value, cells["Grade level"].number_format) == (10, "0")
    assert cells["Days present"].value == 140
    assert cells["Period start"].value == dt.datetime(2026, 8, 24)
    assert cells["Period start"].is_date
    assert cells["Generated at (UTC)"].value == dt.datetime(2027, 1, 16, 8, 0)
    flags = [row["Value"] for row in table(book["Summary"]) if row["Field"].value == "Flag"]
    assert [(cell.value, cell.data_type) for cell in flags] == [
        (flag.message, "s") for flag in summary.flags
    ]


def test_xlsx_courses(report: PerformanceReport, book: openpyxl.Workbook) -> None:
    rows = table(book["Courses"])
    assert [row["Course"].value for row in rows] == [course.name for course in report.courses]
    assert rows[1]["Course"].data_type == "s"  # "=SUM(A1:A3) Lab", never a formula
    assert [row["Teacher"].value for row in rows] == [course.teacher for course in report.courses]
    for row, course in zip(rows, report.courses, strict=True):
        assert row["Average"].value == (None if course.average is None else float(course.average))
        assert row["Average"].number_format == "0.00"
        assert row["Credits"].value == float(course.credits)
        graded = row["Graded"]
        assert (graded.value, graded.number_format) == (course.assignments.graded, "0")


def test_xlsx_assignments(report: PerformanceReport, book: openpyxl.Workbook) -> None:
    rows = table(book["Assignments"])
    assert len(rows) == len(report.assignments)
    for row, line in zip(rows, report.assignments, strict=True):
        assert (row["Title"].value, row["Title"].data_type) == (line.title, "s")
        assert row["Due date"].value == dt.datetime.combine(line.due_date, dt.time())
        assert row["Due date"].number_format == "yyyy-mm-dd"
        # An excused or pending assignment has no percent: an empty cell, not 0.
        assert row["Percent"].value == (None if line.percent is None else float(line.percent))
        assert row["Score"].value == (None if line.score is None else float(line.score))
        assert row["Weight"].value == float(line.weight)
    assert any(row["Percent"].value is None for row in rows)


def test_xlsx_analytics_and_comments(report: PerformanceReport, book: openpyxl.Workbook) -> None:
    _, quiz = table(book["Analytics"])
    assert (quiz["Mean"].value, quiz["Mean"].number_format) == (-0.5, "0.00")
    assert quiz["Latest"].value == -5
    assert quiz["Latest at (UTC)"].value == dt.datetime(2027, 1, 10, 9, 0)
    student, teacher, tutor = table(book["Comments"])
    assert student["Summary"].value == '=HYPERLINK("http://x") works hard.\nSecond line.'
    assert student["Summary"].data_type == "s"
    assert student["Summary"].alignment.wrap_text
    assert student["Concerns"].value is None
    assert teacher["Homework completion (%)"].value == 87.5
    assert tutor["Author"].value == "Siobhán O'Brien"
    assert tutor["Progress rating"].value == 4


def test_xlsx_course_average_chart(report: PerformanceReport, xlsx: bytes) -> None:
    last = 1 + len(report.courses)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode()
        summary_rels = archive.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
    # Course names in column A, averages in column F of the Courses sheet.
    assert f"<c:f>Courses!$A$2:$A${last}</c:f>" in chart
    assert f"<c:f>Courses!$F$2:$F${last}</c:f>" in chart
    assert '<c:barDir val="col"/>' in chart
    assert "Course averages" in chart
    assert "drawing" in summary_rels  # the chart sits on the Summary sheet


def test_xlsx_no_chart_without_averages(report: PerformanceReport) -> None:
    courses = [course.model_copy(update={"average": None}) for course in report.courses]
    data = render_xlsx(report.model_copy(update={"courses": courses}))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert not [name for name in archive.namelist() if name.startswith("xl/charts/")]
    rows = table(openpyxl.load_workbook(io.BytesIO(data))["Courses"])
    assert [row["Average"].value for row in rows] == [None] * len(courses)


def test_xlsx_properties_and_same_bytes_each_time(
    report: PerformanceReport, book: openpyxl.Workbook, xlsx: bytes
) -> None:
    assert book.properties.creator == "Markbook"
    assert book.properties.title is not None
    assert report.student.name in book.properties.title
    assert render_xlsx(report) == xlsx


def test_xlsx_has_no_formulas(xlsx: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        sheets = [name for name in archive.namelist() if re.match(r"xl/worksheets/sheet\d+", name)]
        assert len(sheets) == len(SECTION_HEADERS)
        assert not any(b"<f>" in archive.read(name) for name in sheets)
