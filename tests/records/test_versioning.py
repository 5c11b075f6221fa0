"""students.data_version: every write that changes a student's figures bumps it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    Course,
    Enrollment,
    Grade,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorWeeklyReport,
)
from markbook.records.versioning import bump_data_version, bump_data_version_for_courses
from tests import factories as f


@dataclass
class World:
    teacher: User
    tutor: User
    guardian: User
    ann: Student
    ben: Student
    bystander: Student
    course: Course
    assignment: Assignment


@pytest.fixture
def w(session: Session) -> World:
    teacher = f.user(session, Role.teacher)
    tutor = f.user(session, Role.tutor)
    guardian = f.user(session, Role.guardian)
    ann, ben, bystander = (f.student(session, n) for n in ("Ann", "Ben", "Bystander"))
    course = f.course(session, teacher)
    f.enroll(session, ann, course)
    f.enroll(session, ben, course)
    assignment = f.assignment(session, course)
    session.commit()
    return World(teacher, tutor, guardian, ann, ben, bystander, course, assignment)


def _versions(session: Session) -> dict[int, tuple[str, int]]:
    query = select(Student.id, Student.name, Student.data_version)
    rows = session.execute(query.execution_options(populate_existing=True))
    return {student_id: (name, version) for student_id, name, version in rows}


def _bumped(session: Session, change: Callable[[], None]) -> set[str]:
    """Names (before the change) of the students whose version the committed change bumped."""
    before = _versions(session)
    change()
    session.commit()
    after = _versions(session)
    steps = {before[i][0]: after[i][1] - before[i][1] for i in before}
    assert set(steps.values()) <= {0, 1}, steps
    return {name for name, step in steps.items() if step}


def test_grade_insert_update_delete(session: Session, w: World) -> None:
    grade = Grade(
        assignment_id=w.assignment.id, student_id=w.ann.id, status="graded", score=Decimal(90)
    )
    assert _bumped(session, lambda: session.add(grade)) == {"Ann"}

    def update() -> None:
        grade.score = Decimal(95)

    assert _bumped(session, update) == {"Ann"}
    assert _bumped(session, lambda: session.delete(grade)) == {"Ann"}


def test_grade_moved_to_another_student_bumps_both(session: Session, w: World) -> None:
    grade = Grade(assignment_id=w.assignment.id, student_id=w.ann.id, status="missing")
    session.add(grade)
    session.commit()

    def move() -> None:
        grade.student_id = w.ben.id

    assert _bumped(session, move) == {"Ann", "Ben"}


def test_attendance(session: Session, w: World) -> None:
    mark = Attendance(
        student_id=w.ben.id, course_id=w.course.id, date=dt.date(2026, 9, 1), status="absent"
    )
    assert _bumped(session, lambda: session.add(mark)) == {"Ben"}


def test_analytics(session: Session, w: World) -> None:
    point = AnalyticsData(
        student_id=w.ann.id,
        course_id=None,
        metric_type="lms_minutes",
        value=30.0,
        recorded_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
    )
    assert _bumped(session, lambda: session.add(point)) == {"Ann"}


def test_enrollment_change(session: Session, w: World) -> None:
    enrollment = session.scalars(select(Enrollment).where(Enrollment.student_id == w.ben.id)).one()

    def withdraw() -> None:
        enrollment.end_date = dt.date(2026, 10, 1)

    assert _bumped(session, withdraw) == {"Ben"}


def test_assignment_changes_reach_every_enrolled_student(session: Session, w: World) -> None:
    def reweigh() -> None:
        w.assignment.weight = Decimal(3)

    assert _bumped(session, reweigh) == {"Ann", "Ben"}
    extra = Assignment(
        course_id=w.course.id,
        title="New",
        category="Quiz",
        max_points=Decimal(10),
        weight=Decimal(1),
        due_date=dt.date(2026, 9, 20),
    )
    assert _bumped(session, lambda: session.add(extra)) == {"Ann", "Ben"}


def test_course_credit_change_reaches_enrolled_students(session: Session, w: World) -> None:
    def recredit() -> None:
        w.course.credits = Decimal("0.5")

    assert _bumped(session, recredit) == {"Ann", "Ben"}


def test_written_reports(session: Session, w: World) -> None:
    report = StudentReport(
        author_id=w.teacher.id,
        student_id=w.ann.id,
        period_start=dt.date(2026, 8, 24),
        period_end=dt.date(2026, 10, 16),
        summary="Good start",
    )
    weekly = TeacherWeeklyReport(
        teacher_id=w.teacher.id,
        student_id=w.ben.id,
        course_id=w.course.id,
        week_start=dt.date(2026, 9, 7),
        progress_summary="Steady",
    )
    tutor = TutorWeeklyReport(
        tutor_id=w.tutor.id,
        student_id=w.bystander.id,
        week_start=dt.date(2026, 9, 7),
        topics="Fractions",
        hours=Decimal("1.5"),
        progress_rating=4,
    )
    assert _bumped(session, lambda: session.add(report)) == {"Ann"}
    assert _bumped(session, lambda: session.add(weekly)) == {"Ben"}
    assert _bumped(session, lambda: session.add(tutor)) == {"Bystander"}


def test_student_details_bump_their_own_version(session: Session, w: World) -> None:
    def rename() -> None:
        w.ann.name = "Ann-Marie"

    assert _bumped(session, rename) == {"Ann"}
    assert w.ann.name_search == "ann-marie"


def test_helpers_bump_exactly_the_named_students(session: Session, w: World) -> None:
    assert _bumped(session, lambda: bump_data_version(session, [w.ben.id, w.ben.id])) == {"Ben"}
    assert _bumped(session, lambda: bump_data_version(session, [])) == set()
    assert _bumped(session, lambda: bump_data_version_for_courses(session, [w.course.id])) == {
        "Ann",
        "Ben",
    }


def test_rolled_back_write_leaves_versions_alone(session: Session, w: World) -> None:
    before = _versions(session)
    session.add(Grade(assignment_id=w.assignment.id, student_id=w.ann.id, status="missing"))
    session.flush()
    session.rollback()
    assert _versions(session) == before


def test_core_delete_bypasses_the_hook_so_writers_call_the_helper(
    session: Session, w: World
) -> None:
    """Documents the rule: Core statements must call bump_data_version themselves."""
    session.add(Grade(assignment_id=w.assignment.id, student_id=w.ann.id, status="missing"))
    session.commit()

    def core_delete() -> None:
        session.execute(delete(Grade).where(Grade.student_id == w.ann.id))

    assert _bumped(session, core_delete) == set()
