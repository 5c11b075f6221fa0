"""performance_report against a small school whose figures are worked out by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from markbook.errors import InvalidInput
from markbook.reports.performance import (
    ReportScope,
    default_period,
    performance_report,
    resolve_period,
    scope_for,
)
from tests import factories as f
from tests.reports.conftest import END, START, School, at, day, grade

D = Decimal


def test_whole_report_figures(session: Session, school: School) -> None:
    report = performance_report(session, school.student, START, END)
    summary = report.summary
    # Algebra: (2x90 + 70 + 0) / 4 = 62.50 (D-, 0.7); Art: (110 + 75) / 2 = 92.50 (A-, 3.7);
    # History: 80.00 (B-, 2.7). Overall: (62.5x1 + 92.5x0.5 + 80x1) / 2.5 = 75.50 (C);
    # GPA: (0.7 + 1.85 + 2.7) / 2.5 = 2.10.
    by_name = {course.name: course for course in report.courses}
    assert [(c.average, c.letter, c.grade_points) for c in by_name.values()] == [
        (D("62.50"), "D-", D("0.7")),
        (D("92.50"), "A-", D("3.7")),
        (D("80.00"), "B-", D("2.7")),
    ]
    assert (summary.overall_average, summary.letter, summary.gpa) == (D("75.50"), "C", D("2.10"))
    # Previous period (08-02..08-31): only a0 = 100%, so the trend is 75.50 - 100.
    assert summary.trend == D("-24.50")
    counts = summary.assignments
    assert (counts.counted, counts.graded, counts.late, counts.missing) == (6, 4, 1, 1)
    assert (counts.excused, counts.pending) == (1, 1)
    # (4 + 1) / 6
    assert summary.completion_rate == D("83.33")
    # Present 11, late 1, absent 2, excused 1: 12 / 14.
    assert summary.attendance.model_dump() == {"present": 11, "late": 1, "absent": 2, "excused": 1}
    assert summary.attendance_rate == D("85.71")
    assert by_name["Algebra"].attendance_rate == D("90.00")
    assert by_name["Art"].attendance_rate == D("75.00")
    assert by_name["History"].attendance_rate is None
    assert [flag.code for flag in summary.flags] == ["attendance_below_90", "declining"]
    assert by_name["Algebra"].assignments.model_dump() == {
        "counted": 3,
        "graded": 1,
        "late": 1,
        "missing": 1,
        "excused": 1,
        "pending": 1,
    }


def test_assignment_lines(session: Session, school: School) -> None:
    report = performance_report(session, school.student, START, END)
    lines = [(line.course, line.status, line.percent) for line in report.assignments]
    assert lines == [
        ("Algebra", "graded", D("90.00")),
        ("Art", "graded", D("110.00")),
        ("Algebra", "late", D("70.00")),
        ("Art", "graded", D("75.00")),
        ("Algebra", "missing", D("0.00")),
        ("Algebra", "excused", None),
        ("History", "graded", D("80.00")),
        ("Algebra", "pending", None),
    ]
    assert [line.due_date for line in report.assignments] == sorted(
        line.due_date for line in report.assignments
    )


def test_attendance_records_analytics_and_comments(session: Session, school: School) -> None:
    report = performance_report(session, school.student, START, END)
    assert [(r.course, r.status) for r in report.attendance_records] == [
        ("Art", "absent"),
        ("Algebra", "late"),
        ("Algebra", "absent"),
        ("Algebra", "excused"),
    ]
    metrics = {m.metric_type: m for m in report.analytics}
    assert set(metrics) == {"logins", "time_on_task"}
    time_on_task = metrics["time_on_task"]
    # 10, 20, 45 in the period; 99 (10-01 00:00) is after it.
    assert (time_on_task.count, time_on_task.mean) == (3, D("25.00"))
    assert (time_on_task.min, time_on_task.max, time_on_task.latest) == (10.0, 45.0, 45.0)
    assert time_on_task.latest_at == at(9, 30, 23, 59)
    # By date: the weekly of 09-07, the tutor's of 09-14, the term report ending 09-30.
    assert [(c.kind, c.author, c.date) for c in report.comments] == [
        ("teacher_weekly", "Mr Art", day(9, 7)),
        ("tutor_weekly", "Tutor Tom", day(9, 14)),
        ("student_report", "Ms Algebra", END),
    ]


def test_a_teacher_sees_only_their_courses(session: Session, school: School) -> None:
    scope = scope_for(school.algebra_teacher)
    report = performance_report(session, school.student, START, END, scope=scope)
    assert [course.name for course in report.courses] == ["Algebra"]
    assert {line.course for line in report.assignments} == {"Algebra"}
    assert (report.summary.overall_average, report.summary.gpa) == (D("62.50"), D("0.70"))
    # Algebra alone: 9 / 10.
    assert report.summary.attendance_rate == D("90.00")
    assert [m.metric_type for m in report.analytics] == ["time_on_task"]
    assert [c.kind for c in report.comments] == ["student_report"]  # their own, not Art's


def test_one_course(session: Session, school: School) -> None:
    report = performance_report(session, school.student, START, END, course_id=school.art.id)
    assert [course.name for course in report.courses] == ["Art"]
    assert report.summary.overall_average == D("92.50")
    assert report.summary.attendance_rate == D("75.00")
    assert report.analytics == []  # Art has no analytics; "logins" is tied to no course
    assert [c.kind for c in report.comments] == ["teacher_weekly"]


def test_a_student_with_no_data(session: Session) -> None:
    student = f.student(session, "New Pupil")
    session.commit()
    report = performance_report(session, student, START, END)
    summary = report.summary
    assert (summary.overall_average, summary.letter, summary.gpa) == (None, None, None)
    assert (summary.attendance_rate, summary.completion_rate, summary.trend) == (None, None, None)
    assert summary.assignments.counted == 0 and summary.flags == []
    assert report.courses == report.assignments == report.attendance_records == []
    assert report.analytics == [] and report.comments == []
    # Absent figures are JSON null, never 0.
    as_json = report.model_dump(mode="json")["summary"]
    assert as_json["overall_average"] is None and as_json["attendance_rate"] is None


def test_a_period_with_no_assignments(session: Session, school: School) -> None:
    quiet = (dt.date(2026, 12, 1), dt.date(2026, 12, 10))
    report = performance_report(session, school.student, *quiet)
    assert len(report.courses) == 3
    assert all(course.average is None for course in report.courses)
    assert report.summary.overall_average is None and report.summary.trend is None
    assert report.summary.completion_rate is None


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_constant_number_of_statements(session: Session, engine: Engine, school: School) -> None:
    small = f.student(session, "Small")
    f.enroll(session, small, school.art)
    session.commit()
    with counting(engine) as few:
        performance_report(session, small, START, END)
    # Add courses, assignments and days to the big student: the count must not move.
    extra = [f.course(session, school.art_teacher, f"Extra {n}") for n in range(5)]
    for course in extra:
        f.enroll(session, school.student, course)
        for n in range(10):
            work = f.assignment(session, course, due=day(9, 1 + n))
            grade(session, work, school.student, "graded", "50")
    session.commit()
    with counting(engine) as many:
        report = performance_report(session, school.student, START, END)
    assert len(report.courses) == 8 and len(report.assignments) == 58
    assert len(many) == len(few) <= 10


def test_default_period_is_the_current_term(session: Session, school: School) -> None:
    spring = f.course(
        session,
        school.art_teacher,
        "Spring art",
        term="2026-27 Spring",
        start=dt.date(2027, 1, 18),
        end=dt.date(2027, 6, 4),
    )
    assert spring.id
    session.commit()
    fall = (dt.date(2026, 8, 24), dt.date(2027, 1, 15))
    assert _span(default_period(session, dt.date(2026, 11, 22))) == fall
    assert _span(default_period(session, dt.date(2027, 3, 1))) == (
        dt.date(2027, 1, 18),
        dt.date(2027, 6, 4),
    )
    # Between terms: the latest term to have started.
    assert _span(default_period(session, dt.date(2027, 1, 16))) == fall
    assert _span(default_period(session, dt.date(2027, 8, 1)))[0] == dt.date(2027, 1, 18)


def test_default_period_without_courses(session: Session) -> None:
    today = dt.date(2026, 11, 22)
    assert _span(default_period(session, today)) == (dt.date(2026, 10, 24), today)


def test_period_checks(session: Session) -> None:
    today = dt.date(2026, 11, 22)
    with pytest.raises(InvalidInput) as backwards:
        resolve_period(session, dt.date(2026, 9, 2), dt.date(2026, 9, 1), today)
    assert backwards.value.errors == [{"field": "start", "message": "must be on or before end"}]
    with pytest.raises(InvalidInput) as too_long:
        resolve_period(session, dt.date(2020, 1, 1), dt.date(2026, 1, 1), today)
    assert too_long.value.errors and too_long.value.errors[0]["field"] == "end"
    five_years = resolve_period(session, dt.date(2021, 1, 1), dt.date(2025, 12, 31), today)
    assert five_years.days == 1826


def test_scope_key_separates_views() -> None:
    assert ReportScope().key != ReportScope(teacher_id=3).key != ReportScope(course_id=3).key


def _span(period: object) -> tuple[dt.date, dt.date]:
    return period.start, period.end  # type: ignore[attr-defined]
