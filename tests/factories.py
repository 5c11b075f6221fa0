"""Small builders for test records, committed through the ORM (hooks and all)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.auth.tokens import issue_token
from markbook.records.models import (
    Assignment,
    Course,
    Enrollment,
    Guardianship,
    Student,
    TutorAssignment,
)

_counter = itertools.count(1)
# argon2 is slow on purpose; tests that do not sign in with a password share one hash.
PASSWORD = "correct horse battery staple"
_password_hash: str | None = None


def password_hash() -> str:
    global _password_hash
    if _password_hash is None:
        from markbook.auth.passwords import hash_password

        _password_hash = hash_password(PASSWORD)
    return _password_hash


def user(
    session: Session, role: Role | str, name: str | None = None, email: str | None = None
) -> User:
    n = next(_counter)
    role = Role(role)
    created = User(
        email=email or f"{role.value}{n}@school.example.org",
        name=name or f"{role.value.title()} {n}",
        role=role.value,
        password_hash=password_hash(),
        active=True,
    )
    session.add(created)
    session.flush()
    return created


def token(session: Session, owner: User) -> str:
    _, value = issue_token(session, owner, "test", None)
    return value


def auth(session: Session, owner: User) -> dict[str, str]:
    """Headers that sign in as ``owner``; commits so the app's own session sees the token."""
    value = token(session, owner)
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def student(
    session: Session, name: str | None = None, grade_level: int = 10, account: User | None = None
) -> Student:
    n = next(_counter)
    created = Student(
        external_id=f"S{n:06d}",
        name=name or f"Student {n}",
        email=f"s{n}@students.example.org",
        grade_level=grade_level,
        user_id=account.id if account else None,
    )
    session.add(created)
    session.flush()
    return created


def course(
    session: Session,
    teacher: User,
    name: str | None = None,
    credits: str = "1.0",
    start: dt.date = dt.date(2026, 8, 24),
    end: dt.date = dt.date(2027, 1, 15),
    term: str = "2026-27 Fall",
    subject: str = "Mathematics",
) -> Course:
    n = next(_counter)
    created = Course(
        external_id=f"C{n:05d}",
        name=name or f"Course {n}",
        subject=subject,
        term=term,
        teacher_id=teacher.id,
        credits=Decimal(credits),
        start_date=start,
        end_date=end,
    )
    session.add(created)
    session.flush()
    return created


def enroll(
    session: Session,
    pupil: Student,
    into: Course,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Enrollment:
    created = Enrollment(
        student_id=pupil.id, course_id=into.id, start_date=start or into.start_date, end_date=end
    )
    session.add(created)
    session.flush()
    return created


def assignment(
    session: Session,
    into: Course,
    due: dt.date = dt.date(2026, 9, 15),
    max_points: str = "100",
    weight: str = "1",
    category: str = "Homework",
    title: str | None = None,
) -> Assignment:
    created = Assignment(
        course_id=into.id,
        title=title or f"Assignment {next(_counter)}",
        category=category,
        max_points=Decimal(max_points),
        weight=Decimal(weight),
        due_date=due,
    )
    session.add(created)
    session.flush()
    return created


def guardian_of(session: Session, guardian: User, pupil: Student) -> None:
    session.add(
        Guardianship(guardian_id=guardian.id, student_id=pupil.id, relationship_label="parent")
    )
    session.flush()


def tutor_of(session: Session, tutor: User, pupil: Student) -> None:
    session.add(TutorAssignment(tutor_id=tutor.id, student_id=pupil.id))
    session.flush()
