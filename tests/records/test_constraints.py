"""The database itself refuses records no school could have."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.records.models import Attendance, Course, Grade, Student, TutorWeeklyReport
from tests import factories as f


@pytest.fixture
def ids(session: Session) -> dict[str, int]:
    teacher = f.user(session, Role.teacher)
    student = f.student(session)
    course = f.course(session, teacher)
    f.enroll(session, student, course)
    assignment = f.assignment(session, course)
    session.commit()
    return {
        "teacher": teacher.id,
        "student": student.id,
        "course": course.id,
        "assignment": assignment.id,
    }


def _grade(ids: dict[str, int], **overrides: Any) -> dict[str, Any]:
    return {
        "assignment_id": ids["assignment"],
        "student_id": ids["student"],
        "status": "graded",
        "score": Decimal(5),
        **overrides,
    }


CASES: dict[str, Callable[[dict[str, int]], tuple[Any, dict[str, Any]]]] = {
    "negative score": lambda ids: (Grade, _grade(ids, score=Decimal(-1))),
    "unknown grade status": lambda ids: (Grade, _grade(ids, status="done")),
    "graded without score": lambda ids: (Grade, _grade(ids, score=None)),
    "grade for unknown student": lambda ids: (Grade, _grade(ids, student_id=999_999)),
    "unknown attendance status": lambda ids: (
        Attendance,
        {
            "student_id": ids["student"],
            "course_id": ids["course"],
            "date": dt.date(2026, 9, 1),
            "status": "sleeping",
        },
    ),
    "grade level 13": lambda ids: (
        Student,
        {"external_id": "X1", "name": "X", "name_search": "x", "grade_level": 13},
    ),
    "course ending before it starts": lambda ids: (
        Course,
        {
            "name": "C",
            "subject": "S",
            "term": "T",
            "teacher_id": ids["teacher"],
            "credits": Decimal(1),
            "start_date": dt.date(2026, 9, 1),
            "end_date": dt.date(2026, 8, 1),
        },
    ),
    "tutor rating 6": lambda ids: (
        TutorWeeklyReport,
        {
            "tutor_id": ids["teacher"],
            "student_id": ids["student"],
            "week_start": dt.date(2026, 9, 7),
            "topics": "x",
            "hours": Decimal(1),
            "progress_rating": 6,
        },
    ),
    "unknown role": lambda ids: (User, {"email": "r@example.org", "name": "R", "role": "root"}),
    "upper-case email": lambda ids: (
        User,
        {"email": "R@example.org", "name": "R", "role": "admin"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_rows_are_refused(session: Session, ids: dict[str, int], case: str) -> None:
    model, values = CASES[case](ids)
    with pytest.raises(IntegrityError):
        session.execute(insert(model).values(**values))
    session.rollback()


def test_sis_ids_emails_and_grades_are_unique(session: Session, ids: dict[str, int]) -> None:
    session.execute(insert(Grade).values(**_grade(ids)))
    with pytest.raises(IntegrityError):
        session.execute(insert(Grade).values(**_grade(ids, score=Decimal(7))))
    session.rollback()
    session.add(Student(external_id="DUP", name="A", grade_level=9))
    session.add(Student(external_id="DUP", name="B", grade_level=9))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    f.user(session, Role.admin, email="same@example.org")
    with pytest.raises(IntegrityError):
        f.user(session, Role.teacher, email="same@example.org")
