"""Bulk report cards: who is in the batch, the part files, the four final files, and
the synchronous route. Expected figures are the school's worked out by hand in
test_performance.py, and those of a few small students worked out below."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import Role, User
from markbook.downloads import file_name
from markbook.errors import CourseNotFound, InvalidInput
from markbook.records.models import Assignment, Student
from markbook.reports import bulk
from markbook.reports.bulk import CardFormat, Failure, ReportCardsRequest
from markbook.reports.model import Period
from tests import factories as f
from tests.reports.conftest import END, START, School, day, grade

PERIOD = Period(start=START, end=END)
TODAY = dt.date(2026, 9, 20)
UNKNOWN = 999_999
BULK = "/api/v1/reports/bulk/student-performance"
SUMMARY_HEADER = [
    "Student id",
    "SIS id",
    "Name",
    "Grade level",
    "Overall average",
    "Letter",
    "GPA",
    "Attendance rate (%)",
    "Completion rate (%)",
    "Courses",
    "Flags",
]
FAILURE_HEADER = ["Student", "Student id", "Name", "Reason"]


@dataclass
class Class:
    """The school, plus students of the Algebra class and one of Art only."""

    school: School
    ben: Student  # Algebra: a1 18/20 only -> 90.00, A-, GPA 3.70, completion 100.00
    zoe: Student  # no courses, no data: every figure empty
    olga: Student  # Art only: Ms Algebra may not see her


@pytest.fixture
def klass(session: Session, school: School) -> Class:
    ben = f.student(session, "Ben Brown")
    f.enroll(session, ben, school.algebra)
    a1 = _assignment(session, school, day(9, 5))
    grade(session, a1, ben, "graded", "18")
    zoe = f.student(session, "Zoë Zimmer")
    olga = f.student(session, "Olga Ortiz")
    f.enroll(session, olga, school.art)
    session.commit()
    return Class(school, ben, zoe, olga)


def _assignment(session: Session, school: School, due: dt.date) -> Assignment:
    return session.execute(
        select(Assignment).where(
            Assignment.course_id == school.algebra.id, Assignment.due_date == due
        )
    ).scalar_one()


def _same_sentence(failures: list[Failure]) -> set[str]:
    """The reasons with each failure's own id taken out: one sentence if all alike."""
    return {failure.reason.replace(failure.student, "N") for failure in failures}


# --- select_students ----------------------------------------------------------------


def test_by_ids_in_order_once_each_and_unknown_like_invisible(
    session: Session, klass: Class
) -> None:
    anna, ben, olga = klass.school.student, klass.ben, klass.olga
    request = ReportCardsRequest(student_ids=[ben.id, anna.id, ben.id, UNKNOWN, olga.id])
    selection = bulk.select_students(session, klass.school.algebra_teacher, request, today=TODAY)
    assert selection.student_ids == [ben.id, anna.id]
    assert [(x.student, x.student_id, x.name) for x in selection.failures] == [
        (str(UNKNOWN), None, None),
        (str(olga.id), None, None),
    ]
    assert selection.failures[0].reason == f"There is no student {UNKNOWN} that you may see."
    assert _same_sentence(selection.failures) == {"There is no student N that you may see."}


def test_the_period_defaults_to_the_term_and_is_checked(session: Session, klass: Class) -> None:
    request = ReportCardsRequest(student_ids=[klass.ben.id])
    selection = bulk.select_students(session, None, request, today=TODAY)
    # The factories' courses run 2026-08-24..2027-01-15 (the term).
    assert selection.period == Period(start=dt.date(2026, 8, 24), end=dt.date(2027, 1, 15))
    backwards = ReportCardsRequest(student_ids=[klass.ben.id], start=END, end=START)
    with pytest.raises(InvalidInput):
        bulk.select_students(session, None, backwards, today=TODAY)


def test_by_course_a_teacher_gets_their_class_by_name(session: Session, klass: Class) -> None:
    school = klass.school
    emile = f.student(session, "Émile Abel")
    eve = f.student(session, "Eve Abel")
    later = f.student(session, "Aaron Later")
    for pupil in (eve, emile):
        f.enroll(session, pupil, school.algebra)
    f.enroll(session, later, school.algebra, start=day(10, 15))  # after the period
    session.commit()
    request = ReportCardsRequest(course_id=school.algebra.id, start=START, end=END)
    selection = bulk.select_students(session, school.algebra_teacher, request, today=TODAY)
    # By name without accents or case ("emile" < "eve"), Latin before Cyrillic.
    assert selection.student_ids == [klass.ben.id, emile.id, eve.id, school.student.id]
    assert selection.failures == []


def test_another_teachers_course_is_not_found(session: Session, klass: Class) -> None:
    school = klass.school
    request = ReportCardsRequest(course_id=school.art.id)
    with pytest.raises(CourseNotFound):
        bulk.select_students(session, school.algebra_teacher, request, today=TODAY)
    with pytest.raises(CourseNotFound):
        bulk.select_students(session, None, ReportCardsRequest(course_id=UNKNOWN), today=TODAY)


def test_by_grade_level_only_the_students_the_caller_may_see(
    session: Session, klass: Class
) -> None:
    school = klass.school
    mine = f.student(session, "Mia Eleven", grade_level=11)
    f.enroll(session, mine, school.algebra)
    other = f.student(session, "Abe Eleven", grade_level=11)
    session.commit()
    request = ReportCardsRequest(grade_level=11)
    as_teacher = bulk.select_students(session, school.algebra_teacher, request, today=TODAY)
    assert as_teacher.student_ids == [mine.id]
    assert bulk.select_students(session, None, request, today=TODAY).student_ids == [
        other.id,
        mine.id,
    ]
    empty = bulk.select_students(session, None, ReportCardsRequest(grade_level=3), today=TODAY)
    assert (empty.student_ids, empty.failures) == ([], [])


@pytest.mark.parametrize(
    "fields",
    [{}, {"student_ids": [1], "course_id": 2}, {"course_id": 2, "grade_level": 10}],
)
def test_exactly_one_selection(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one of student_ids, course_id or grade"):
        ReportCardsRequest.model_validate(fields)


def test_request_limits() -> None:
    with pytest.raises(ValidationError):
        ReportCardsRequest.model_validate({"student_ids": []})
    with pytest.raises(ValidationError):
        ReportCardsRequest.model_validate({"grade_level": 13})
    with pytest.raises(ValidationError):
        ReportCardsRequest.model_validate({"grade_level": 1, "format": "docx"})
    with pytest.raises(ValidationError):
        ReportCardsRequest.model_validate({"grade_level": 1, "students": [1]})
    assert ReportCardsRequest(grade_level=1).format is CardFormat.pdf_zip


# --- render_part and assemble -------------------------------------------------------


@dataclass
class Job:
    parts: list[Path]
    failures: list[Failure]
    steps: list[bool]
    ids: list[int]


def run_job(
    session: Session,
    klass: Class,
    fmt: CardFormat,
    directory: Path,
    user: User | None = None,
    extra: tuple[Student, ...] = (),
) -> Job:
    """Anna, Ben, Zoë (and ``extra``) and an unknown id, in two parts, as an admin."""
    wanted = [klass.school.student.id, klass.ben.id, klass.zoe.id, UNKNOWN]
    wanted += [pupil.id for pupil in extra]
    request = ReportCardsRequest(student_ids=wanted, start=START, end=END, format=fmt)
    selection = bulk.select_students(session, user, request, today=TODAY)
    ids = selection.student_ids
    steps: list[bool] = []
    parts = []
    for number, chunk in enumerate([ids[:2], ids[2:]]):
        path = directory / f"part-{number}.zip"
        bulk.render_part(
            session,
            user,
            chunk,
            selection.period,
            fmt,
            school_name="Test High School",
            part_path=path,
            on_student=steps.append,
        )
        parts.append(path)
    return Job(parts, selection.failures, steps, ids)


def assembled(job: Job, fmt: CardFormat, target: Path) -> bulk.Assembled:
    return bulk.assemble(
        job.parts, job.failures, fmt, target, period=PERIOD, school_name="Test High School"
    )


# Rows as the CSV shows them: figures with two places, empty when there are none.
ANNA_ROW = ["Анна Иванова", "10", "75.50", "C", "2.10", "85.71", "83.33", "3"]
BEN_ROW = ["Ben Brown", "10", "90.00", "A-", "3.70", "", "100.00", "1"]
ZOE_ROW = ["Zoë Zimmer", "10", "", "", "", "", "", "0"]
ANNA_FLAGS = (
    "Attendance is 85.71%, below 90%. The average fell 24.50 points from the period before."
)
UNKNOWN_REASON = f"There is no student {UNKNOWN} that you may see."


def expected_rows(klass: Class) -> list[list[str]]:
    students = [klass.school.student, klass.ben, klass.zoe]
    flags = [ANNA_FLAGS, "", ""]
    return [
        [str(pupil.id), pupil.external_id, *row, flag]
        for pupil, row, flag in zip(students, [ANNA_ROW, BEN_ROW, ZOE_ROW], flags, strict=True)
    ]


def read_summary(data: bytes) -> tuple[list[list[str]], list[list[str]]]:
    """(summary rows with header, failed-students section with title and header)."""
    lines = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    blank = lines.index([])
    return lines[:blank], lines[blank + 1 :]


def test_pdf_zip_one_card_per_student_and_a_summary(
    session: Session, klass: Class, tmp_path: Path
) -> None:
    job = run_job(session, klass, CardFormat.pdf_zip, tmp_path)
    assert job.steps == [True, True, True]
    result = assembled(job, CardFormat.pdf_zip, tmp_path / "cards.zip")
    students = [klass.school.student, klass.ben, klass.zoe]
    assert result.succeeded == 3 and result.student_ids == [s.id for s in students]
    assert [x.student for x in result.failures] == [str(UNKNOWN)]
    with zipfile.ZipFile(tmp_path / "cards.zip") as archive:
        # Named by student, made safe as file names (spaces become underscores).
        names = [f"{s.name.replace(' ', '_')}_({s.external_id}).pdf" for s in students]
        assert names[0] == file_name(f"Анна Иванова ({students[0].external_id})") + ".pdf"
        assert archive.namelist() == [*names, "summary.csv"]
        for pupil, name in zip(students, names, strict=True):
            reader = PdfReader(io.BytesIO(archive.read(name)))
            assert pupil.name in reader.pages[0].extract_text()
        summary, failed = read_summary(archive.read("summary.csv"))
    assert summary[0] == [*SUMMARY_HEADER, "File"]
    assert summary[1:] == [
        [*row, name] for row, name in zip(expected_rows(klass), names, strict=True)
    ]
    assert failed == [
        ["Failed students"],
        ["Student", "Student id", "Name", "Reason"],
        [str(UNKNOWN), "", "", UNKNOWN_REASON],
    ]


def test_pdf_one_document_with_a_bookmark_per_student(
    session: Session, klass: Class, tmp_path: Path
) -> None:
    job = run_job(session, klass, CardFormat.pdf, tmp_path)
    result = assembled(job, CardFormat.pdf, tmp_path / "cards.pdf")
    assert result.succeeded == 3
    singles = []
    for part in job.parts:
        with zipfile.ZipFile(part) as opened:
            singles += [
                len(PdfReader(io.BytesIO(opened.read(entry.pdf))).pages)
                for entry in bulk.part_entries(opened)
                if entry.pdf
            ]
    reader = PdfReader(tmp_path / "cards.pdf")
    students = [klass.school.student, klass.ben, klass.zoe]
    titles = [f"{s.name} ({s.external_id})" for s in students]
    outline = reader.outline
    assert [item.title for item in outline] == [*titles, "Failed students"]
    starts = [reader.get_destination_page_number(item) for item in outline]
    # Each card starts where the ones before it end; the failures page comes last.
    assert starts == [0, singles[0], singles[0] + singles[1], sum(singles)]
    assert len(reader.pages) == sum(singles) + 1
    for pupil, start in zip(students, starts[:3], strict=True):
        assert pupil.name in reader.pages[start].extract_text()
    last = reader.pages[-1].extract_text()
    assert "Failed students: 1" in last and UNKNOWN_REASON in last


def test_pdf_without_failures_has_no_failures_page(
    session: Session, klass: Class, tmp_path: Path
) -> None:
    job = run_job(session, klass, CardFormat.pdf, tmp_path)
    bulk.assemble(
        job.parts, [], CardFormat.pdf, tmp_path / "cards.pdf", period=PERIOD, school_name="S"
    )
    reader = PdfReader(tmp_path / "cards.pdf")
    assert [item.title for item in reader.outline][-1].startswith("Zoë Zimmer")
    assert "Failed students" not in reader.pages[-1].extract_text()


@pytest.mark.parametrize("fmt", list(CardFormat))
def test_an_empty_batch_still_makes_a_file(fmt: CardFormat, tmp_path: Path) -> None:
    # A grade level with no students: no parts, no failures.
    target = tmp_path / "cards"
    result = bulk.assemble([], [], fmt, target, period=PERIOD, school_name="S")
    assert (result.succeeded, result.failures, result.student_ids) == (0, [], [])
    if fmt is CardFormat.pdf:
        reader = PdfReader(target)
        assert len(reader.pages) == 1
        assert "there are no report cards" in reader.pages[0].extract_text()
    elif fmt is CardFormat.pdf_zip:
        with zipfile.ZipFile(target) as archive:
            assert archive.namelist() == ["summary.csv"]
            summary, failed = read_summary(archive.read("summary.csv"))
        assert (summary, failed[1:]) == ([[*SUMMARY_HEADER, "File"]], [FAILURE_HEADER])
    elif fmt is CardFormat.xlsx:
        book = openpyxl.load_workbook(io.BytesIO(target.read_bytes()))
        assert book.sheetnames == ["Summary", "Failures"]
        assert book["Summary"].max_row == book["Failures"].max_row == 1
    else:
        summary, failed = read_summary(target.read_bytes())
        assert (summary, failed) == ([SUMMARY_HEADER], [["Failed students"], FAILURE_HEADER])


def test_xlsx_summary_and_failures_sheets_with_real_numbers(
    session: Session, klass: Class, tmp_path: Path
) -> None:
    job = run_job(session, klass, CardFormat.xlsx, tmp_path)
    result = assembled(job, CardFormat.xlsx, tmp_path / "cards.xlsx")
    assert result.succeeded == 3
    book = openpyxl.load_workbook(tmp_path / "cards.xlsx")
    assert book.sheetnames == ["Summary", "Failures"]
    summary = book["Summary"]
    assert summary.freeze_panes == "A2"
    rows = list(summary.iter_rows(values_only=True))
    assert list(rows[0]) == SUMMARY_HEADER
    anna = klass.school.student
    assert rows[1] == (
        anna.id,
        anna.external_id,
        "Анна Иванова",
        10,
        75.5,
        "C",
        2.1,
        85.71,
        83.33,
        3,
        ANNA_FLAGS,
    )
    assert rows[2][4:10] == (90.0, "A-", 3.7, None, 100.0, 1)
    assert rows[3][2:10] == ("Zoë Zimmer", 10, None, None, None, None, None, 0)
    assert len(rows) == 4
    failures = list(book["Failures"].iter_rows(values_only=True))
    assert failures == [
        ("Student", "Student id", "Name", "Reason"),
        (str(UNKNOWN), None, None, UNKNOWN_REASON),
    ]


def test_csv_summary_then_failed_students_formulas_guarded(
    session: Session, klass: Class, tmp_path: Path
) -> None:
    risky = f.student(session, "=HYPERLINK(1)")
    session.commit()
    job = run_job(session, klass, CardFormat.csv, tmp_path, extra=(risky,))
    result = assembled(job, CardFormat.csv, tmp_path / "cards.csv")
    assert result.succeeded == 4
    with zipfile.ZipFile(job.parts[0]) as part:
        assert part.namelist() == ["rows.json"]  # no PDFs for a table format
    summary, failed = read_summary((tmp_path / "cards.csv").read_bytes())
    assert summary[0] == SUMMARY_HEADER
    assert summary[1:4] == expected_rows(klass)
    assert summary[4][:3] == [str(risky.id), risky.external_id, "'=HYPERLINK(1)"]
    assert failed[2:] == [[str(UNKNOWN), "", "", UNKNOWN_REASON]]


def test_a_failing_report_is_a_failure_and_the_others_are_made(
    session: Session,
    klass: Class,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = bulk.performance_report

    def flaky(session: Session, student: Student, *args: Any, **kwargs: Any) -> Any:
        if student.id == klass.ben.id:
            raise RuntimeError("boom")
        return real(session, student, *args, **kwargs)

    monkeypatch.setattr(bulk, "performance_report", flaky)
    with caplog.at_level(logging.ERROR, logger="markbook.reports.bulk"):
        job = run_job(session, klass, CardFormat.csv, tmp_path)
    assert job.steps == [True, False, True]
    result = assembled(job, CardFormat.csv, tmp_path / "cards.csv")
    assert result.succeeded == 2
    assert result.student_ids == [klass.school.student.id, klass.zoe.id]
    _unknown, ben = result.failures
    assert (ben.student, ben.student_id, ben.name) == (str(klass.ben.id), klass.ben.id, "Ben Brown")
    reference = ben.reason.split("reference ")[1][:8]
    assert "error on our side" in ben.reason
    (logged,) = caplog.records
    assert reference in logged.getMessage() and logged.exc_info is not None
    summary, failed = read_summary((tmp_path / "cards.csv").read_bytes())
    assert [row[2] for row in summary[1:]] == ["Анна Иванова", "Zoë Zimmer"]
    assert failed[2:] == [
        [str(UNKNOWN), "", "", UNKNOWN_REASON],
        [str(klass.ben.id), str(klass.ben.id), "Ben Brown", ben.reason],
    ]


def test_a_failing_statement_does_not_fail_the_students_after_it(
    session: Session, klass: Class, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL a failed statement aborts the transaction: without a savepoint
    # per student, Zoë (after Ben) would fail too.
    real = bulk.performance_report

    def broken(session: Session, student: Student, *args: Any, **kwargs: Any) -> Any:
        if student.id == klass.ben.id:
            session.execute(text("SELECT * FROM no_such_table"))
        return real(session, student, *args, **kwargs)

    monkeypatch.setattr(bulk, "performance_report", broken)
    job = run_job(session, klass, CardFormat.csv, tmp_path)
    assert job.steps == [True, False, True]


def test_a_student_no_longer_visible_when_the_part_runs(
    session: Session, klass: Class, tmp_path: Path
) -> None:
    part = tmp_path / "part.zip"
    bulk.render_part(
        session,
        klass.school.algebra_teacher,
        [klass.olga.id, klass.ben.id],
        PERIOD,
        CardFormat.csv,
        school_name="S",
        part_path=part,
        on_student=lambda ok: None,
    )
    olga, ben = bulk.part_entries(part)
    assert olga.row is None and olga.failure == bulk.not_visible(klass.olga.id)
    assert ben.row is not None and ben.row.average is not None


class Cancelled(Exception):
    pass


def test_stopping_midway_leaves_no_file(session: Session, klass: Class, tmp_path: Path) -> None:
    calls: list[bool] = []

    def cancel_on_second(ok: bool) -> None:
        calls.append(ok)
        if len(calls) == 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        bulk.render_part(
            session,
            None,
            [klass.school.student.id, klass.ben.id, klass.zoe.id],
            PERIOD,
            CardFormat.pdf_zip,
            school_name="S",
            part_path=tmp_path / "part.zip",
            on_student=cancel_on_second,
        )
    assert calls == [True, True]
    assert list(tmp_path.iterdir()) == []


def test_same_names_get_different_files() -> None:
    taken: set[str] = set()
    names = [bulk._unique_pdf_name(title, taken) for title in ["A/B (S1)", "a/b (S1)", "x" * 300]]
    assert names == ["A_B_(S1).pdf", "a_b_(S1)_(2).pdf", "x" * 140 + ".pdf"]


# --- the synchronous route ----------------------------------------------------------


def post(client: TestClient, headers: dict[str, str], ids: list[int], **body: Any) -> Any:
    payload = {"student_ids": ids, "start_date": "2026-09-01", "end_date": "2026-09-30", **body}
    return client.post(BULK, json=payload, headers=headers)


def audited(session: Session) -> list[tuple[int | None, str, str]]:
    session.expire_all()
    return [
        (event.student_id, event.action, event.resource)
        for event in session.execute(select(AuditEvent).order_by(AuditEvent.student_id)).scalars()
    ]


def test_bulk_json_with_unknown_and_invisible_students(
    client: TestClient, session: Session, klass: Class
) -> None:
    school = klass.school
    teacher = f.auth(session, school.algebra_teacher)
    ids = [school.student.id, UNKNOWN, klass.ben.id, klass.olga.id, school.student.id]
    answer = post(client, teacher, ids)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == {"start": "2026-09-01", "end": "2026-09-30"}
    assert (body["total"], body["succeeded"], body["failed"]) == (4, 2, 2)
    anna, unknown, ben, olga = body["results"]
    # Ms Algebra sees Algebra only: (2x90 + 70 + 0) / 4 = 62.50 (D-, 0.70); attendance
    # 9 / 10; completion (graded 1 + late 1) / 3; the trend 62.50 - 100 declines.
    assert anna == {
        "student_id": school.student.id,
        "success": True,
        "name": "Анна Иванова",
        "external_id": school.student.external_id,
        "grade_level": 10,
        "average": 62.5,
        "letter": "D-",
        "gpa": 0.7,
        "attendance_rate": 90.0,
        "completion_rate": 66.67,
        "courses": 1,
        "flags": [
            {
                "code": "declining",
                "message": "The average fell 37.50 points from the period before.",
                "course_id": None,
            }
        ],
    }
    assert (ben["average"], ben["letter"], ben["gpa"]) == (90.0, "A-", 3.7)
    assert (ben["attendance_rate"], ben["completion_rate"], ben["flags"]) == (None, 100.0, [])
    assert unknown == {
        "student_id": UNKNOWN,
        "success": False,
        "error": f"There is no student {UNKNOWN} that you may see.",
    }
    assert olga == {
        "student_id": klass.olga.id,
        "success": False,
        "error": f"There is no student {klass.olga.id} that you may see.",
    }
    assert "Olga" not in answer.text


def test_bulk_json_as_an_admin_with_a_course(
    client: TestClient, session: Session, klass: Class
) -> None:
    admin = f.auth(session, f.user(session, Role.admin))
    school = klass.school
    whole = post(client, admin, [school.student.id]).json()["results"][0]
    assert (whole["average"], whole["letter"], whole["gpa"]) == (75.5, "C", 2.1)
    assert (whole["attendance_rate"], whole["completion_rate"], whole["courses"]) == (
        85.71,
        83.33,
        3,
    )
    assert [flag["code"] for flag in whole["flags"]] == ["attendance_below_90", "declining"]
    # Art alone: (110 + 75) / 2 = 92.50; attendance 3 / 4.
    art = post(client, admin, [school.student.id], course_id=school.art.id).json()["results"][0]
    assert (art["average"], art["attendance_rate"], art["courses"]) == (92.5, 75.0, 1)


def test_bulk_csv_download(client: TestClient, session: Session, klass: Class) -> None:
    admin = f.auth(session, f.user(session, Role.admin))
    ids = [klass.school.student.id, klass.ben.id, klass.zoe.id, UNKNOWN]
    answer = post(client, admin, ids, format="csv", bom=True)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="student-performance_2026-09-01_2026-09-30.csv"; '
        "filename*=UTF-8''student-performance_2026-09-01_2026-09-30.csv"
    )
    assert answer.content.startswith(b"\xef\xbb\xbf")
    summary, failed = read_summary(answer.content[3:])
    assert summary == [SUMMARY_HEADER, *expected_rows(klass)]
    assert failed == [
        ["Failed students"],
        ["Student", "Student id", "Name", "Reason"],
        [str(UNKNOWN), "", "", UNKNOWN_REASON],
    ]
    assert {action for _, action, _ in audited(session)} == {"download"}


def test_more_than_50_students_is_refused_pointing_to_the_job(
    client: TestClient, session: Session, klass: Class
) -> None:
    admin = f.auth(session, f.user(session, Role.admin))
    answer = post(client, admin, list(range(1, 52)))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert "report_cards" in problem["detail"] and "POST /api/v1/jobs" in problem["detail"]
    assert problem["errors"] == [{"field": "student_ids", "message": "at most 50 students"}]
    assert post(client, admin, list(range(1, 51))).status_code == 200
    assert post(client, admin, []).status_code == 422


def test_only_the_students_disclosed_are_audited(
    client: TestClient, session: Session, klass: Class
) -> None:
    teacher = f.auth(session, klass.school.algebra_teacher)
    ids = [klass.ben.id, UNKNOWN, klass.olga.id, klass.school.student.id]
    assert post(client, teacher, ids).status_code == 200
    expected = sorted([klass.ben.id, klass.school.student.id])
    assert audited(session) == [(i, "read", "performance_report") for i in expected]
    event = session.execute(select(AuditEvent)).scalars().first()
    assert event is not None and event.actor_id == klass.school.algebra_teacher.id
    assert event.channel == "api"
    assert event.detail == {
        "start": "2026-09-01",
        "end": "2026-09-30",
        "format": "json",
        "bulk": True,
    }


def test_a_teacher_cannot_get_another_teachers_student(
    client: TestClient, session: Session, klass: Class
) -> None:
    teacher = f.auth(session, klass.school.algebra_teacher)
    answer = post(client, teacher, [klass.olga.id])
    assert answer.status_code == 200
    assert answer.json()["results"] == [
        {
            "student_id": klass.olga.id,
            "success": False,
            "error": f"There is no student {klass.olga.id} that you may see.",
        }
    ]
    assert audited(session) == []
    # Nor through a course that is not theirs.
    other = post(client, teacher, [klass.olga.id], course_id=klass.school.art.id)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "course_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_date": "2026-09-30", "end_date": "2026-09-01"}, "start_date"),
        ({"start_date": "2019-01-01", "end_date": "2026-01-01"}, "end_date"),
        ({"format": "xlsx"}, "format"),
        ({"student_ids": [0]}, "student_ids[0]"),
        ({"student": 1}, "student"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, session: Session, klass: Class, body: dict[str, Any], field: str
) -> None:
    admin = f.auth(session, f.user(session, Role.admin))
    answer = post(client, admin, [klass.ben.id], **body)
    assert answer.status_code == 422, answer.text
    assert field in [error["field"] for error in answer.json()["errors"]]


def test_signing_in_is_required(client: TestClient, klass: Class) -> None:
    assert client.post(BULK, json={"student_ids": [klass.ben.id]}).status_code == 401


def test_openapi_documents_the_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][BULK]["post"]
    assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["BulkPerformance"]["properties"]) == {
        "period",
        "total",
        "succeeded",
        "failed",
        "results",
    }
    assert "flags" in schemas["StudentFiguresResult"]["properties"]
    assert "error" in schemas["StudentFailureResult"]["properties"]
