"""Who may see what, for every role, decided in SQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.auth.scope import (
    can_see_student,
    course_filter,
    course_row_filter,
    student_filter,
    visible_course,
    visible_student,
)
from markbook.errors import CourseNotFound, StudentNotFound
from markbook.records.models import Course, Enrollment, Student
from tests import factories as f


@dataclass
class School:
    admin: User
    teacher_a: User
    teacher_b: User
    tutor: User
    guardian: User
    student_user: User
    students: dict[str, Student]
    course_a: Course
    course_b: Course


@pytest.fixture
def school(session: Session) -> School:
    admin = f.user(session, Role.admin)
    teacher_a = f.user(session, Role.teacher)
    teacher_b = f.user(session, Role.teacher)
    tutor = f.user(session, Role.tutor)
    guardian = f.user(session, Role.guardian)
    student_user = f.user(session, Role.student)
    s = {name: f.student(session, name) for name in ("s1", "s2", "s3", "s4", "s5")}
    s["s4"].user_id = student_user.id
    course_a = f.course(session, teacher_a, "Algebra")
    course_b = f.course(session, teacher_b, "Biology")
    f.enroll(session, s["s1"], course_a)
    f.enroll(session, s["s2"], course_a)
    f.enroll(session, s["s2"], course_b)
    f.enroll(session, s["s3"], course_b)
    f.tutor_of(session, tutor, s["s3"])
    f.guardian_of(session, guardian, s["s1"])
    session.commit()
    return School(admin, teacher_a, teacher_b, tutor, guardian, student_user, s, course_a, course_b)


def _visible_names(session: Session, user: User) -> set[str]:
    return set(session.scalars(select(Student.name).where(student_filter(user, Student.id))))


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", {"s1", "s2", "s3", "s4", "s5"}),
        ("teacher_a", {"s1", "s2"}),
        ("teacher_b", {"s2", "s3"}),
        ("tutor", {"s3"}),
        ("guardian", {"s1"}),
        ("student_user", {"s4"}),
    ],
)
def test_each_role_sees_exactly_its_students(
    session: Session, school: School, who: str, expected: set[str]
) -> None:
    assert _visible_names(session, getattr(school, who)) == expected


def test_a_user_with_no_links_sees_nobody(session: Session, school: School) -> None:
    for role in (Role.teacher, Role.tutor, Role.guardian, Role.student):
        assert _visible_names(session, f.user(session, role)) == set()


def test_teacher_sees_only_rows_of_courses_they_teach(session: Session, school: School) -> None:
    # s2 takes both courses; teacher A must not see s2's Biology enrollment.
    rows = session.execute(
        select(Enrollment.student_id, Enrollment.course_id).where(
            student_filter(school.teacher_a, Enrollment.student_id),
            course_row_filter(school.teacher_a, Enrollment.course_id),
        )
    ).all()
    assert {course_id for _, course_id in rows} == {school.course_a.id}
    assert len(rows) == 2


def test_non_teachers_see_every_course_row_of_their_students(
    session: Session, school: School
) -> None:
    rows = session.execute(
        select(Enrollment.course_id).where(
            student_filter(school.tutor, Enrollment.student_id),
            course_row_filter(school.tutor, Enrollment.course_id),
        )
    ).scalars()
    assert set(rows) == {school.course_b.id}


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", {"Algebra", "Biology"}),
        ("teacher_a", {"Algebra"}),
        ("tutor", {"Biology"}),
        ("guardian", {"Algebra"}),
        ("student_user", set()),
    ],
)
def test_courses_each_role_sees(
    session: Session, school: School, who: str, expected: set[str]
) -> None:
    user = getattr(school, who)
    names = set(session.scalars(select(Course.name).where(course_filter(user, Course.id))))
    assert names == expected


def test_an_invisible_student_is_the_same_404_as_a_missing_one(
    session: Session, school: School
) -> None:
    hidden = school.students["s3"]
    missing_id = max(s.id for s in school.students.values()) + 100
    with pytest.raises(StudentNotFound) as invisible:
        visible_student(session, school.teacher_a, hidden.id)
    with pytest.raises(StudentNotFound) as missing:
        visible_student(session, school.teacher_a, missing_id)
    assert invisible.value.status == missing.value.status == 404
    assert invisible.value.detail.replace(str(hidden.id), "N") == missing.value.detail.replace(
        str(missing_id), "N"
    )
    assert not can_see_student(session, school.teacher_a, hidden.id)
    assert can_see_student(session, school.teacher_b, hidden.id)
    assert visible_student(session, school.teacher_b, hidden.id).name == "s3"


def test_invisible_course_is_not_found(session: Session, school: School) -> None:
    with pytest.raises(CourseNotFound):
        visible_course(session, school.teacher_a, school.course_b.id)
    assert visible_course(session, school.teacher_b, school.course_b.id).name == "Biology"
