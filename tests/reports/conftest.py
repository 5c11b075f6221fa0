"""A small school whose report figures are worked out by hand (see test_performance)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

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

D = Decimal
START = dt.date(2026, 9, 1)
END = dt.date(2026, 9, 30)


def day(month: int, dom: int) -> dt.date:
    return dt.date(2026, month, dom)


def at(month: int, dom: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, dom, hour, minute, tzinfo=dt.UTC)


@dataclass
class School:
    student: Student
    algebra: Course
    art: Course
    history: Course
    algebra_teacher: User
    art_teacher: User
    tutor: User


def grade(
    session: Session, assignment: Assignment, student: Student, status: str, score: str | None
) -> None:
    session.add(
        Grade(
            assignment_id=assignment.id,
            student_id=student.id,
            status=status,
            score=None if score is None else D(score),
        )
    )


def attend(session: Session, student: Student, course: Course, statuses: list[str]) -> None:
    for offset, status in enumerate(statuses):
        session.add(
            Attendance(
                student_id=student.id, course_id=course.id, date=day(9, 2 + offset), status=status
            )
        )


@pytest.fixture
def school(session: Session) -> School:
    algebra_teacher = f.user(session, Role.teacher, name="Ms Algebra")
    art_teacher = f.user(session, Role.teacher, name="Mr Art")
    tutor = f.user(session, Role.tutor, name="Tutor Tom")
    student = f.student(session, "Анна Иванова")
    algebra = f.course(session, algebra_teacher, "Algebra", credits="1.0")
    art = f.course(session, art_teacher, "Art", credits="0.5", subject="Arts")
    history = f.course(session, art_teacher, "History", credits="1.0", subject="History")
    f.enroll(session, student, algebra)
    f.enroll(session, student, art)
    # Joined History late: work due before 09-20 is not the student's.
    f.enroll(session, student, history, start=day(9, 20))

    a = {
        name: f.assignment(session, algebra, due=due, max_points=points, weight=weight)
        for name, due, points, weight in [
            ("a0", day(8, 25), "10", "1"),  # previous period
            ("a1", day(9, 5), "20", "2"),
            ("a2", day(9, 12), "50", "1"),
            ("a3", day(9, 19), "10", "1"),
            ("a4", day(9, 20), "10", "1"),
            ("a5", day(9, 25), "10", "1"),  # no grade row: pending
            ("a6", day(10, 5), "10", "1"),  # after the period
        ]
    }
    grade(session, a["a0"], student, "graded", "10")
    grade(session, a["a1"], student, "graded", "18")  # 90%
    grade(session, a["a2"], student, "late", "35")  # 70%
    grade(session, a["a3"], student, "missing", None)  # 0%
    grade(session, a["a4"], student, "excused", None)
    grade(session, a["a6"], student, "graded", "10")
    b1 = f.assignment(session, art, due=day(9, 10), max_points="40")
    b2 = f.assignment(session, art, due=day(9, 17), max_points="40")
    grade(session, b1, student, "graded", "44")  # 110%: extra credit
    grade(session, b2, student, "graded", "30")  # 75%
    h1 = f.assignment(session, history, due=day(9, 15), max_points="10")
    h2 = f.assignment(session, history, due=day(9, 22), max_points="10")
    grade(session, h1, student, "graded", "1")  # before enrolment: ignored
    grade(session, h2, student, "graded", "8")  # 80%

    attend(session, student, algebra, ["present"] * 8 + ["late", "absent", "excused"])
    attend(session, student, art, ["present"] * 3 + ["absent"])
    session.add(
        Attendance(student_id=student.id, course_id=art.id, date=day(10, 2), status="absent")
    )

    for value, when in [
        (10.0, at(9, 2)),
        (20.0, at(9, 3)),
        (45.0, at(9, 30, 23, 59)),
        (99.0, at(10, 1, 0, 0)),
    ]:
        session.add(
            AnalyticsData(
                student_id=student.id,
                course_id=algebra.id,
                metric_type="time_on_task",
                value=value,
                recorded_at=when,
            )
        )
    session.add(
        AnalyticsData(
            student_id=student.id,
            course_id=None,
            metric_type="logins",
            value=3.0,
            recorded_at=at(9, 9),
        )
    )
    session.add(
        StudentReport(
            author_id=algebra_teacher.id,
            student_id=student.id,
            period_start=START,
            period_end=END,
            summary="=SUM(A1:A3) works steadily",
            strengths="Algebra",
            concerns=None,
            recommendations="Practice",
        )
    )
    for week in (day(9, 7), day(10, 5)):
        session.add(
            TeacherWeeklyReport(
                teacher_id=art_teacher.id,
                student_id=student.id,
                course_id=art.id,
                week_start=week,
                progress_summary=f"Week of {week}",
                homework_completion=D("87.5"),
            )
        )
    f.tutor_of(session, tutor, student)
    session.add(
        TutorWeeklyReport(
            tutor_id=tutor.id,
            student_id=student.id,
            week_start=day(9, 14),
            topics="Fractions",
            hours=D("1.5"),
            progress_rating=4,
        )
    )
    session.commit()
    return School(student, algebra, art, history, algebra_teacher, art_teacher, tutor)
