"""``students.data_version``: bumped with every write that changes a student's figures.

Caches key on the version, so a report cached before a write can never be served
after it. Two ways in, one helper underneath:

* code that writes with Core statements (batch upserts, imports) calls
  :func:`bump_data_version` in the same transaction;
* ORM writes are caught by a ``before_flush`` hook that works out which students
  the new, changed and deleted objects touch and calls the same helper.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, event, select, update
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm import attributes as orm_attributes

from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    Course,
    Enrollment,
    Grade,
    Guardianship,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorAssignment,
    TutorWeeklyReport,
)

# Rows that belong to one student: a change to one changes that student's figures.
_PER_STUDENT = (
    AnalyticsData,
    Attendance,
    Enrollment,
    Grade,
    StudentReport,
    TeacherWeeklyReport,
    TutorWeeklyReport,
    Guardianship,
    TutorAssignment,
)
# Rows shared by a course: a change reaches every student ever enrolled in it.
_PER_COURSE = (Assignment, Course)


def bump_data_version(session: Session, student_ids: Iterable[int]) -> None:
    """Add one to the data_version of these students, in the session's transaction."""
    ids = sorted({int(student_id) for student_id in student_ids})
    # Chunked: SQLite takes at most 32,766 bound parameters per statement.
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        _bump_where(session, Student.id.in_(chunk))


def bump_data_version_for_courses(session: Session, course_ids: Iterable[int]) -> None:
    """Add one to the data_version of every student enrolled in these courses."""
    ids = sorted({int(course_id) for course_id in course_ids})
    if not ids:
        return
    enrolled = select(Enrollment.student_id).where(Enrollment.course_id.in_(ids))
    _bump_where(session, Student.id.in_(enrolled))


def _bump_where(session: Session, condition: ColumnElement[bool]) -> None:
    statement = (
        update(Student)
        .where(condition)
        .values(data_version=Student.data_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)
    # The UPDATE bypassed the identity map: make loaded students re-read the version.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Student):
            session.expire(obj, ["data_version"])


def _touched(session: Session) -> tuple[set[int], set[int]]:
    """Students and courses whose figures the pending ORM changes affect."""
    students: set[int] = set()
    courses: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _PER_STUDENT):
            students.update(_old_and_new(obj, "student_id"))
        elif isinstance(obj, Course):
            if obj not in session.new:
                courses.add(obj.id)
        elif isinstance(obj, Assignment):
            courses.update(_old_and_new(obj, "course_id"))
        elif isinstance(obj, Student) and obj in session.dirty and _changed_besides_version(obj):
            students.add(obj.id)
    return students, courses


def _old_and_new(obj: Any, key: str) -> set[int]:
    """The value of ``key`` now and, if it changed, before (a row moved to another student)."""
    history = orm_attributes.get_history(obj, key)
    values = {*history.added, *history.unchanged, *history.deleted}
    return {int(value) for value in values if value is not None}


def _changed_besides_version(student: Student) -> bool:
    state = orm_attributes.instance_state(student)
    return any(
        state.attrs[key].history.has_changes()
        for key in state.mapper.column_attrs.keys()  # noqa: SIM118 - not a dict
        if key not in ("data_version", "name_search")
    )


def before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    students, courses = _touched(session)
    if students:
        bump_data_version(session, students)
    if courses:
        bump_data_version_for_courses(session, courses)


event.listen(Session, "before_flush", before_flush)
