"""The PDF view of a performance report, read back with pypdf.

No database: the sample report is built by hand (tests/reports/sample.py) and the
empty one below has nothing in it at all.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from markbook.reports.model import (
    AssignmentCounts,
    AttendanceCounts,
    PerformanceReport,
    Period,
    StudentInfo,
    Summary,
)
from markbook.reports.pdf import render_pdf
from tests.reports.sample import sample_report

REPO = Path(__file__).resolve().parents[2]
SCHOOL = 'Lincoln & <Sons> "High" School'
ASSIGNMENTS_HEADER = re.compile(r"Due\s+Course\s+Assignment\s+Category\s+Weight\s+Score\s+Percent")
STANDARD_14 = {
    "Courier",
    "Courier-Bold",
    "Courier-Oblique",
    "Courier-BoldOblique",
    "Helvetica",
    "Helvetica-Bold",
    "Helvetica-Oblique",
    "Helvetica-BoldOblique",
    "Times-Roman",
    "Times-Bold",
    "Times-Italic",
    "Times-BoldItalic",
    "Symbol",
    "ZapfDingbats",
}


def empty_report() -> PerformanceReport:
    """A student with nothing recorded in the period: every figure null, every list empty."""
    return PerformanceReport(
        student=StudentInfo(
            id=8, external_id="S-0008", name="Zoë Empty", grade_level=9, email=None
        ),
        period=Period(start=dt.date(2026, 8, 24), end=dt.date(2026, 12, 18)),
        summary=Summary(
            overall_average=None,
            letter=None,
            gpa=None,
            attendance_rate=None,
            completion_rate=None,
            trend=None,
            assignments=AssignmentCounts(),
            attendance=AttendanceCounts(),
            flags=[],
        ),
        courses=[],
        assignments=[],
        attendance_records=[],
        analytics=[],
        comments=[],
        generated_at=dt.datetime(2026, 12, 19, 7, 30, tzinfo=dt.UTC),
        data_version=1,
    )


@pytest.fixture(scope="module")
def sample() -> PerformanceReport:
    return sample_report()


@pytest.fixture(scope="module")
def reader(sample: PerformanceReport) -> PdfReader:
    return PdfReader(io.BytesIO(render_pdf(sample, school_name=SCHOOL)))


@pytest.fixture(scope="module")
def pages(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def squeezed(text: str) -> str:
    """Text without whitespace: a font change mid-name may come back as a line break."""
    return re.sub(r"\s+", "", text)


def test_school_student_and_period_are_on_the_first_page(
    sample: PerformanceReport, pages: list[str]
) -> None:
    first = pages[0]
    assert SCHOOL in first  # escaped for the markup, shown as typed
    assert squeezed(sample.student.name) in squeezed(first)
    for word in ("李雷", "Анна", "Γιώργος", "José", "Núñez"):
        assert word in first
    assert "24 Aug 2026 – 15 Jan 2027" in first


def test_teachers_in_every_script_come_back_as_characters(pages: list[str]) -> None:
    text = "\n".join(pages)
    for name in ("Анна Иванова", "Γιώργος", "Παπαδόπουλος", "李雷", "Siobhán O'Brien"):
        assert name in text


def test_every_course_name_is_shown(sample: PerformanceReport, pages: list[str]) -> None:
    text = squeezed("\n".join(pages))
    for course in sample.courses:
        assert squeezed(course.name) in text


def test_summary_figures_are_formatted_from_the_report(
    sample: PerformanceReport, pages: list[str]
) -> None:
    summary = sample.summary
    assert summary.overall_average is not None and summary.gpa is not None
    assert summary.letter is not None
    first = pages[0]
    assert f"{summary.overall_average} {summary.letter}" in first
    assert f"\n{summary.gpa}\n" in first
    assert f"{summary.attendance_rate}%" in first
    assert f"{summary.completion_rate}%" in first
    assert "−12.50" in first  # the trend, with a real minus sign


def test_each_flag_message_is_shown(sample: PerformanceReport, pages: list[str]) -> None:
    assert sample.summary.flags
    for flag in sample.summary.flags:
        assert flag.message in pages[0]


def test_every_page_says_page_n_of_m(pages: list[str]) -> None:
    total = len(pages)
    assert total >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in text
        assert "Generated 16 Jan 2027" in text
        assert "Núñez" in text  # the student's name in the footer


def test_assignments_header_is_repeated_on_every_page_the_table_spans(
    sample: PerformanceReport, pages: list[str]
) -> None:
    heading = f"Assignments ({len(sample.assignments)})"
    first = next(index for index, text in enumerate(pages) if heading in text)
    with_header = [index for index, text in enumerate(pages) if ASSIGNMENTS_HEADER.search(text)]
    # The table is the last section: it runs from its heading to the last page.
    assert with_header == list(range(first, len(pages)))
    assert len(with_header) >= 2
    last_line = sample.assignments[-1]
    assert f"Homework {last_line.title.split()[-1]}" in pages[-1]


def test_assignment_status_and_null_percent_are_text(pages: list[str]) -> None:
    table = "\n".join(pages)
    for status in ("graded", "late", "missing", "excused", "pending"):
        assert re.search(rf"\s{status}$", table, re.MULTILINE)  # a row's last cell
    # No score, no percent: a dash, not 0. Cells of a row may come back space-separated.
    assert re.search(r"\s— / 20\.00\s+—\s+excused$", table, re.MULTILINE)


def test_a_table_page_draws_its_text_as_one_text_object(reader: PdfReader) -> None:
    # One per cell is what made a full-year report slow; the last page is all table.
    content = reader.pages[-1].get_contents()
    assert content is not None
    operators = re.findall(rb"(?<=\s)(BT|Tj)(?=\s)", b" " + content.get_data() + b" ")
    assert operators.count(b"Tj") > 50  # the rows' cells
    assert operators.count(b"BT") <= 2  # the table, the footer


def test_a_cell_longer_than_four_lines_ends_in_an_ellipsis(sample: PerformanceReport) -> None:
    line = sample.assignments[0].model_copy(update={"title": "word " * 80 + "LAST"})
    report = sample.model_copy(update={"assignments": [line]})
    reader = PdfReader(io.BytesIO(render_pdf(report, school_name="S")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert re.search(r"word w?o?r?d?…", text)  # cut where the fourth line is full
    assert "LAST" not in text


def test_user_texts_are_shown_literally(pages: list[str]) -> None:
    text = "\n".join(pages)
    assert '=HYPERLINK("http://x") works hard.\nSecond line.' in text  # newline kept
    assert "=SUM(A1:A3) Lab" in text
    assert 'Essay: "What I did", part 2' in text
    assert "@home reading log" in text


def test_metadata_names_the_report_and_the_school(
    sample: PerformanceReport, reader: PdfReader
) -> None:
    metadata = reader.metadata
    assert metadata is not None
    assert metadata.title == (
        f"Performance report: {sample.student.name}, 2026-08-24 to 2027-01-15"
    )
    assert metadata.author == SCHOOL
    assert metadata.creator == "Markbook"
    assert metadata.subject is not None and "Markbook" in metadata.subject


def test_pages_are_us_letter(reader: PdfReader) -> None:
    for page in reader.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)


def embedded_fonts(reader: PdfReader) -> dict[str, bool]:
    """Base font name -> whether the font program is embedded, over every page."""
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            name = str(font["/BaseFont"]).lstrip("/")
            descriptor = font.get("/FontDescriptor")
            fonts[name] = descriptor is not None and "/FontFile2" in descriptor.get_object()
    return fonts


def test_every_font_is_an_embedded_truetype_subset(reader: PdfReader) -> None:
    fonts = embedded_fonts(reader)
    assert fonts
    assert all(fonts.values()), fonts
    assert not {name.split("+")[-1] for name in fonts} & STANDARD_14
    assert any("DroidSansFallback" in name for name in fonts)  # the Chinese names


def test_empty_report_renders_and_says_so() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(empty_report(), school_name="Empty School")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for note in (
        "No concerns flagged",
        "No courses in this period.",
        "No graded work",
        "No absences or late arrivals recorded.",
        "No analytics recorded",
        "No comments in this period.",
        "No assignments in this period.",
    ):
        assert note in text
    assert f"Page 1 of {len(reader.pages)}" in text
    assert "0.00" not in text  # null figures are dashes, never zero
    assert text.count("—") >= 5  # the five summary cards
    fonts = embedded_fonts(reader)
    assert all(fonts.values()), fonts
    # Nothing here needs the 4 MB fallback font, so it is not embedded.
    assert not any("DroidSansFallback" in name for name in fonts)


def test_korean_names_come_back_as_characters() -> None:
    # Droid Sans Fallback has no Hangul syllables: Korean needs its own font.
    report = empty_report()
    korean = report.model_copy(
        update={"student": report.student.model_copy(update={"name": "김민준 李雷"})}
    )
    reader = PdfReader(io.BytesIO(render_pdf(korean, school_name="서울 학교")))
    text = reader.pages[0].extract_text()
    assert "김민준 李雷" in text and "서울 학교" in text
    fonts = {
        str(font["/BaseFont"]).split("+")[-1]
        for font in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert {"NanumSquareR", "DroidSansFallback"} <= fonts


def test_trend_is_signed() -> None:
    report = empty_report()
    rising = report.model_copy(
        update={"summary": report.summary.model_copy(update={"trend": Decimal("2.5")})}
    )
    reader = PdfReader(io.BytesIO(render_pdf(rising, school_name="S")))
    assert "+2.50" in reader.pages[0].extract_text()


def test_fallback_font_is_loaded_only_when_a_text_needs_it() -> None:
    script = (
        "from markbook.reports import pdf\n"
        "from tests.reports.test_pdf import empty_report\n"
        "pdf.render_pdf(empty_report(), school_name='S')\n"
        "assert pdf._FONTS._fallbacks == {}\n"
        "pdf.render_pdf(empty_report(), school_name='北京 School')\n"
        "assert set(pdf._FONTS._fallbacks) == {pdf.FALLBACK}\n"
        "pdf.render_pdf(empty_report(), school_name='서울 School')\n"
        "assert set(pdf._FONTS._fallbacks) == {pdf.FALLBACK, pdf.HANGUL}\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=REPO)


def test_texts_longer_than_a_page_break_across_pages(sample: PerformanceReport) -> None:
    comment = sample.comments[0].model_copy(
        update={"summary": " ".join(f"word{index}" for index in range(4000))}
    )
    line = sample.assignments[0].model_copy(update={"title": "line\n" * 60 + "end"})
    long_name = "Very Long Course Name " * 9
    report = sample.model_copy(
        update={
            "comments": [comment],
            "assignments": [line],
            "courses": [sample.courses[0].model_copy(update={"name": long_name})],
        }
    )
    reader = PdfReader(io.BytesIO(render_pdf(report, school_name="S")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "word0 " in text and "word3999" in text
    assert len(reader.pages) >= 3


def test_metrics_out_of_range_show_as_dashes_or_in_full(sample: PerformanceReport) -> None:
    metric = sample.analytics[0].model_copy(
        update={"min": float("-inf"), "max": 1e30, "latest": float("nan")}
    )
    report = sample.model_copy(update={"analytics": [metric]})
    text = "\n".join(
        page.extract_text()
        for page in PdfReader(io.BytesIO(render_pdf(report, school_name="S"))).pages
    )
    assert "1000000000000000000000000000000.00" in text
    assert "inf" not in text.lower() and "nan" not in text.lower()
