"""Reading students and courses, always through who-may-see-what."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from markbook.auth.models import User
from markbook.auth.scope import (
    course_filter,
    course_row_filter,
    student_filter,
    visible_course,
    visible_student,
)
from markbook.errors import InvalidInput
from markbook.records.models import Assignment, Course, Enrollment, Student, search_key

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class EnrollmentView:
    course_id: int
    course_name: str
    subject: str
    term: str
    start_date: dt.date
    end_date: dt.date | None


@dataclass(frozen=True)
class CourseView:
    course: Course
    teacher_name: str
    student_count: int


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_students(
    session: Session,
    user: User,
    *,
    q: str | None = None,
    course_id: int | None = None,
    grade_level: int | None = None,
    page: PageRequest,
) -> tuple[list[Student], int]:
    """Students ``user`` may see matching the filters, by name; and how many match."""
    query = select(Student).where(student_filter(user, Student.id))
    if q and q.strip():
        text = q.strip()
        query = query.where(
            or_(
                Student.name_search.like(_like_pattern(search_key(text)), escape="\\"),
                Student.external_id == text,
            )
        )
    if grade_level is not None:
        query = query.where(Student.grade_level == grade_level)
    if course_id is not None:
        if not _course_visible(session, user, course_id):
            raise InvalidInput(
                f"There is no course {course_id} that you may see; list yours with "
                "GET /api/v1/courses.",
                errors=[{"field": "course_id", "message": "no such course"}],
            )
        enrolled = select(Enrollment.student_id).where(Enrollment.course_id == course_id)
        query = query.where(Student.id.in_(enrolled.scalar_subquery()))
    total = _count(session, query)
    rows = session.scalars(
        query.order_by(Student.name_search, Student.id).offset(page.offset).limit(page.per_page)
    )
    return list(rows), total


def student_detail(
    session: Session, user: User, student_id: int
) -> tuple[Student, list[EnrollmentView]]:
    """A student ``user`` may see (else StudentNotFound), with the enrollments they may see."""
    student = visible_student(session, user, student_id)
    rows = session.execute(
        select(
            Enrollment.course_id,
            Course.name,
            Course.subject,
            Course.term,
            Enrollment.start_date,
            Enrollment.end_date,
        )
        .join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.student_id == student.id, course_row_filter(user, Enrollment.course_id))
        .order_by(Course.start_date.desc(), Course.name)
    )
    return student, [EnrollmentView(*row) for row in rows]


def search_courses(
    session: Session,
    user: User,
    *,
    term: str | None = None,
    subject: str | None = None,
    teacher_id: int | None = None,
    page: PageRequest,
) -> tuple[list[CourseView], int]:
    query = select(Course).where(course_filter(user, Course.id))
    if term:
        query = query.where(Course.term == term)
    if subject:
        query = query.where(func.lower(Course.subject) == subject.strip().lower())
    if teacher_id is not None:
        query = query.where(Course.teacher_id == teacher_id)
    total = _count(session, query)
    page_query = (
        query.order_by(Course.start_date.desc(), Course.name, Course.id)
        .offset(page.offset)
        .limit(page.per_page)
    )
    courses = list(session.scalars(page_query))
    return _course_views(session, courses), total


def course_detail(
    session: Session, user: User, course_id: int
) -> tuple[CourseView, list[Student], int]:
    """A course ``user`` may see, the enrolled students they may see, and its assignment count."""
    course = visible_course(session, user, course_id)
    roster = list(
        session.scalars(
            select(Student)
            .where(
                Student.id.in_(
                    select(Enrollment.student_id)
                    .where(Enrollment.course_id == course.id)
                    .scalar_subquery()
                ),
                student_filter(user, Student.id),
            )
            .order_by(Student.name_search, Student.id)
        )
    )
    assignments = session.execute(
        select(func.count()).select_from(Assignment).where(Assignment.course_id == course.id)
    ).scalar_one()
    return _course_views(session, [course])[0], roster, assignments


def _course_views(session: Session, courses: list[Course]) -> list[CourseView]:
    if not courses:
        return []
    ids = [course.id for course in courses]
    counted = session.execute(
        select(Enrollment.course_id, func.count(func.distinct(Enrollment.student_id)))
        .where(Enrollment.course_id.in_(ids))
        .group_by(Enrollment.course_id)
    )
    counts = {course_id: count for course_id, count in counted}
    named = session.execute(
        select(User.id, User.name).where(User.id.in_({c.teacher_id for c in courses}))
    )
    teachers = {user_id: name for user_id, name in named}
    return [
        CourseView(course, teachers.get(course.teacher_id, ""), counts.get(course.id, 0))
        for course in courses
    ]


def _course_visible(session: Session, user: User, course_id: int) -> bool:
    query = select(Course.id).where(Course.id == course_id, course_filter(user, Course.id))
    return session.execute(query).first() is not None


def _count(session: Session, query: Select[Student] | Select[Course]) -> int:
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return session.execute(counted).scalar_one()


@dataclass(frozen=True)
class TermView:
    term: str
    start_date: dt.date
    end_date: dt.date


def student_terms(session: Session, user: User, student_id: int) -> list[TermView]:
    """The terms of the courses a student is enrolled in that ``user`` may see, latest first:
    each from its first course's start to its last course's end."""
    rows = session.execute(
        select(Course.term, func.min(Course.start_date), func.max(Course.end_date))
        .join(Enrollment, Enrollment.course_id == Course.id)
        .where(Enrollment.student_id == student_id, course_row_filter(user, Course.id))
        .group_by(Course.term)
        .order_by(func.min(Course.start_date).desc(), Course.term)
    )
    return [TermView(term, start, end) for term, start, end in rows if start and end]
