"""Shared fixtures for the dataset export tests: a small school and file readers.

``exports_school`` (or :func:`build_exports_school` for a fixture of another scope)
is a small hand-made school with a row or more in every dataset and the records
exports must carry exactly: names in several scripts, text that looks like a
spreadsheet formula, grades of every status, a half-cent percent, a negative
analytics value, a course-less analytics value, a guardian, a tutor and audit
events. Everything is committed, since the app reads on its own connections.

The readers turn a response body back into rows with libraries independent of the
code under test (csv, json, pyarrow, openpyxl).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy.orm import Session

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import Role, User
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    Course,
    Grade,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorWeeklyReport,
)
from tests import factories as f
from tests.reports.conftest import at, day

EXPORTS = "/api/v1/exports"

# Text a spreadsheet would run as a formula; exports must keep it exactly.
FORMULA_TEXTS = ("=SUM(A1)", "+1", "-x", "@cmd", "\tleading tab")
# Cyrillic (from the reports school), accents, CJK with an emoji.
UNICODE_NAMES = ("Анна Иванова", "José Núñez", "李小龙 🐉")
UNICODE_SUMMARY = "Très bien — 很好 👍"
SUBMITTED = dt.datetime(2026, 9, 8, 14, 30, 45, 123456, tzinfo=dt.UTC)


@dataclass
class ExportSchool:
    admin: User
    admin_headers: dict[str, str]
    algebra_teacher: User  # teaches Algebra
    art_teacher: User  # teaches Art and History
    tutor: User  # tutors Анна
    guardian: User  # José's guardian
    anna: Student  # "Анна Иванова": Algebra, Art, History
    jose: Student  # "José Núñez": Algebra
    li: Student  # "李小龙 🐉": Art
    algebra: Course
    art: Course
    history: Course


def _grade(
    session: Session,
    assignment: Assignment,
    student: Student,
    status: str,
    score: str | None,
    **extra: Any,
) -> None:
    session.add(
        Grade(
            assignment_id=assignment.id,
            student_id=student.id,
            status=status,
            score=None if score is None else Decimal(score),
            **extra,
        )
    )


def _analytics(
    session: Session,
    student: Student,
    course: Course | None,
    metric: str,
    value: float,
    when: dt.datetime,
    source: str | None = None,
) -> None:
    session.add(
        AnalyticsData(
            student_id=student.id,
            course_id=course.id if course else None,
            metric_type=metric,
            value=value,
            recorded_at=when,
            source=source,
        )
    )


def build_exports_school(session: Session) -> ExportSchool:
    """Create and commit the school (see the module docstring)."""
    admin = f.user(session, Role.admin, name="Ada Admin")
    algebra_teacher = f.user(session, Role.teacher, name="Ms Algebra")
    art_teacher = f.user(session, Role.teacher, name="Mr Art")
    tutor = f.user(session, Role.tutor, name="Tutor Tom")
    guardian = f.user(session, Role.guardian, name="Gina Guardian")
    anna, jose, li = (f.student(session, name) for name in UNICODE_NAMES)
    algebra = f.course(session, algebra_teacher, "Algebra", credits="1.0")
    art = f.course(session, art_teacher, "Art", credits="0.5", subject="Arts")
    history = f.course(session, art_teacher, "History", credits="1.25", subject="History")
    f.enroll(session, anna, algebra)
    f.enroll(session, anna, art)
    f.enroll(session, anna, history, start=day(9, 20), end=day(12, 18))
    f.enroll(session, jose, algebra)
    f.enroll(session, li, art)
    f.tutor_of(session, tutor, anna)
    f.guardian_of(session, guardian, jose)

    # Grades of every status; titles, categories and feedback that look like formulas.
    a1 = f.assignment(session, algebra, due=day(9, 5), max_points="20", weight="2")
    a2 = f.assignment(session, algebra, due=day(9, 12), max_points="50")
    a3 = f.assignment(session, algebra, due=day(9, 19), max_points="10")
    a4 = f.assignment(session, algebra, due=day(9, 20), max_points="10")
    formula = f.assignment(
        session, algebra, due=day(9, 8), max_points="20", title="=SUM(A1)", category="+1"
    )
    command = f.assignment(session, algebra, due=day(9, 9), max_points="10", title="@cmd")
    b1 = f.assignment(session, art, due=day(9, 10), max_points="40")
    sketch = f.assignment(session, art, due=day(9, 11), max_points="40", title="素描 Sketch")
    h1 = f.assignment(session, history, due=day(9, 22), max_points="10")
    _grade(session, a1, anna, "graded", "18")  # 90%
    _grade(session, a2, anna, "late", "35")  # 70%
    _grade(session, a3, anna, "missing", None)  # 0%
    _grade(session, a4, anna, "excused", None)  # no percent
    _grade(session, b1, anna, "graded", "44")  # 110%: extra credit
    _grade(session, h1, anna, "graded", "8")  # 80%
    _grade(session, formula, jose, "graded", "17.1", submitted_at=SUBMITTED, feedback="-x")
    _grade(
        session,
        command,
        jose,
        "late",
        "8.5",
        submitted_at=at(9, 10, 8, 5),
        feedback="\tleading tab",
    )
    # 33.33 / 40 = 83.325%: half a cent, rounds up to 83.33.
    _grade(session, sketch, li, "graded", "33.33", feedback="Très bien")

    for offset, status in enumerate(["present", "present", "late", "absent", "excused"]):
        session.add(
            Attendance(
                student_id=anna.id, course_id=algebra.id, date=day(9, 2 + offset), status=status
            )
        )
    session.add(Attendance(student_id=anna.id, course_id=art.id, date=day(9, 2), status="present"))
    session.add(Attendance(student_id=li.id, course_id=art.id, date=day(9, 2), status="absent"))
    session.add(
        Attendance(student_id=anna.id, course_id=history.id, date=day(9, 21), status="late")
    )

    for value, when in [
        (10.0, at(9, 2)),
        (20.0, at(9, 3)),
        (45.0, at(9, 30, 23, 59)),
        (99.0, at(10, 1, 0, 0)),
    ]:
        _analytics(session, anna, algebra, "time_on_task", value, when)
    _analytics(session, anna, None, "logins", 3.0, at(9, 9))  # no course
    # Sunday 23:30 UTC: its ISO week starts on Monday 2026-08-31.
    _analytics(session, jose, algebra, "time_on_task", -0.5, at(9, 6, 23, 30), source="@cmd")
    _analytics(session, li, art, "logins", 2.0, at(9, 7, 0, 15), source="app")
    _analytics(session, li, art, "logins", 4.0, at(9, 13, 10), source="app")
    _analytics(session, anna, art, "logins", 7.25, at(9, 8, 9), source="app")

    session.add_all(
        [
            StudentReport(
                author_id=algebra_teacher.id,
                student_id=anna.id,
                period_start=day(9, 1),
                period_end=day(9, 30),
                summary="=SUM(A1:A3) works steadily",
                strengths="Algebra",
                concerns=None,
                recommendations="Practice",
            ),
            StudentReport(
                author_id=art_teacher.id,
                student_id=jose.id,
                period_start=day(9, 1),
                period_end=day(9, 30),
                summary=UNICODE_SUMMARY,
                strengths=None,
                concerns="+1 more practice",
                recommendations=None,
            ),
        ]
    )
    for week, completion in ((day(9, 7), "87.5"), (day(10, 5), None)):
        session.add(
            TeacherWeeklyReport(
                teacher_id=art_teacher.id,
                student_id=anna.id,
                course_id=art.id,
                week_start=week,
                progress_summary=f"Week of {week}",
                homework_completion=None if completion is None else Decimal(completion),
                behaviour="-calm",
            )
        )
    session.add(
        TutorWeeklyReport(
            tutor_id=tutor.id,
            student_id=anna.id,
            week_start=day(9, 14),
            topics="Fractions",
            hours=Decimal("1.5"),
            progress_rating=4,
        )
    )
    session.flush()
    record_access(
        session,
        admin,
        AuditAction.read,
        Channel.web,
        "student",
        [anna.id, jose.id],
        ip="203.0.113.9",
        detail={"page": "profile", "rows": 2},
    )
    headers = f.auth(session, admin)  # commits
    return ExportSchool(
        admin,
        headers,
        algebra_teacher,
        art_teacher,
        tutor,
        guardian,
        anna,
        jose,
        li,
        algebra,
        art,
        history,
    )


@pytest.fixture
def exports_school(session: Session) -> ExportSchool:
    return build_exports_school(session)


# --- readers ---------------------------------------------------------------------------


def csv_rows(content: bytes, delimiter: str = ",", encoding: str = "utf-8-sig") -> list[list[str]]:
    """Every row of a CSV body (header first), CRLF line ends checked."""
    text = content.decode(encoding)
    assert "\n" not in text.replace("\r\n", ""), "rows must end with CRLF"
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def csv_dicts(content: bytes, **options: Any) -> list[dict[str, str]]:
    header, *rows = csv_rows(content, **options)
    return [dict(zip(header, row, strict=True)) for row in rows]


def ndjson_dicts(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.decode("utf-8").splitlines() if line]


def json_dicts(content: bytes) -> list[dict[str, Any]]:
    rows = json.loads(content.decode("utf-8"))
    assert isinstance(rows, list)
    return rows


def parquet_table(content: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(content))


def xlsx_sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Each sheet's rows (header first) as openpyxl reads the values."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    return {
        sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }
