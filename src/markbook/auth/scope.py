"""Who may see what: the one place that decides which students a user may see.

Every read path (report, export, bulk, job, web page) filters through
:func:`visible_student_ids`, in SQL, so the rule is the same everywhere:

- admin: every student
- teacher: students enrolled in a course they teach (and only those courses' rows)
- tutor: students assigned to them
- guardian: their linked students
- student: themselves

A student the caller may not see is answered exactly like one that does not exist.
"""

from __future__ import annotations

from typing import TypeAlias

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import QueryableAttribute, Session

from markbook.auth.models import Role, User
from markbook.errors import CourseNotFound, StudentNotFound
from markbook.records.models import (
    Course,
    Enrollment,
    Guardianship,
    Student,
    TutorAssignment,
)

# A column of ids to filter on: a mapped attribute (Grade.student_id) or a Core column.
IdColumn: TypeAlias = ColumnElement[int] | QueryableAttribute[int]


def visible_student_ids(user: User) -> Select[int] | None:
    """A SELECT of the ids of the students ``user`` may see; None means all of them."""
    role = Role(user.role)
    if role is Role.admin:
        return None
    if role is Role.teacher:
        return (
            select(Enrollment.student_id)
            .join(Course, Course.id == Enrollment.course_id)
            .where(Course.teacher_id == user.id)
        )
    if role is Role.tutor:
        return select(TutorAssignment.student_id).where(TutorAssignment.tutor_id == user.id)
    if role is Role.guardian:
        return select(Guardianship.student_id).where(Guardianship.guardian_id == user.id)
    return select(Student.id).where(Student.user_id == user.id)


def student_filter(user: User, student_id: IdColumn) -> ColumnElement[bool]:
    """A WHERE clause keeping rows of students ``user`` may see."""
    visible = visible_student_ids(user)
    return true() if visible is None else student_id.in_(visible.scalar_subquery())


def course_row_filter(user: User, course_id: IdColumn) -> ColumnElement[bool]:
    """A WHERE clause for rows tied to a course (grades, attendance, enrollments).

    A teacher sees only the rows of the courses they teach, even for a student who
    also takes other teachers' courses. Others see every course row of the students
    they may see (combine with :func:`student_filter`).
    """
    if Role(user.role) is Role.teacher:
        taught = select(Course.id).where(Course.teacher_id == user.id)
        return course_id.in_(taught.scalar_subquery())
    return true()


def course_filter(user: User, course_id: IdColumn) -> ColumnElement[bool]:
    """A WHERE clause keeping the courses ``user`` may see.

    Admins see every course, teachers the ones they teach, everyone else the
    courses the students they may see are enrolled in.
    """
    role = Role(user.role)
    if role is Role.admin:
        return true()
    if role is Role.teacher:
        return course_id.in_(
            select(Course.id).where(Course.teacher_id == user.id).scalar_subquery()
        )
    visible = visible_student_ids(user)
    if visible is None:  # pragma: no cover - only admins see everyone
        return false()
    enrolled = select(Enrollment.course_id).where(
        Enrollment.student_id.in_(visible.scalar_subquery())
    )
    return course_id.in_(enrolled.scalar_subquery())


def can_see_student(session: Session, user: User, student_id: int) -> bool:
    query = select(Student.id).where(Student.id == student_id, student_filter(user, Student.id))
    return session.execute(query).first() is not None


def visible_student(session: Session, user: User, student_id: int) -> Student:
    """The student, if ``user`` may see them; otherwise the same 404 as a missing one."""
    student = session.execute(
        select(Student).where(Student.id == student_id, student_filter(user, Student.id))
    ).scalar_one_or_none()
    if student is None:
        raise StudentNotFound(student_id)
    return student


def visible_course(session: Session, user: User, course_id: int) -> Course:
    course = session.execute(
        select(Course).where(Course.id == course_id, course_filter(user, Course.id))
    ).scalar_one_or_none()
    if course is None:
        raise CourseNotFound(course_id)
    return course
