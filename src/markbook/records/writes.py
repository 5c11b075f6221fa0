"""Batch writes of the records reports depend on: grades, attendance, analytics.

A batch is applied atomically: every row is checked first, and if any fails none is
written and the answer names each failing row. Admins may write anything; a
teacher only rows of the courses they teach, for students enrolled in them. Every
write bumps the affected students' data_version in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.db import upsert
from markbook.errors import Forbidden, InvalidInput, PayloadTooLarge
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    AttendanceStatus,
    Course,
    Enrollment,
    Grade,
    GradeStatus,
    Student,
)
from markbook.records.versioning import bump_data_version
from markbook.schemas import Id, Text, Timestamp

# Most row errors listed in one answer; past this the count says how many more.
MAX_LISTED_ERRORS = 200
_IN_CHUNK = 5_000


class GradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignment_id: Id
    student_id: Id
    status: GradeStatus
    score: Decimal | None = Field(None, ge=0, max_digits=8, decimal_places=2)
    submitted_at: Timestamp | None = None
    feedback: Text | None = Field(None, max_length=10_000)

    @model_validator(mode="after")
    def _score_fits_status(self) -> GradeIn:
        if self.status in (GradeStatus.graded, GradeStatus.late) and self.score is None:
            raise ValueError(f"a {self.status} grade needs a score")
        if self.status in (GradeStatus.missing, GradeStatus.excused) and self.score is not None:
            raise ValueError(f"a {self.status} grade has no score; leave score out")
        return self


class AttendanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: Id
    course_id: Id
    date: dt.date
    status: AttendanceStatus


class AnalyticsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: Id
    course_id: Id | None = None
    metric_type: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    value: float
    recorded_at: Timestamp
    source: Text | None = Field(None, max_length=64)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class GradeBatch(BaseModel):
    grades: list[GradeIn] = Field(min_length=1)


class AttendanceBatch(BaseModel):
    records: list[AttendanceIn] = Field(min_length=1)


class AnalyticsBatch(BaseModel):
    records: list[AnalyticsIn] = Field(min_length=1)


@dataclass(frozen=True)
class BatchResult:
    written: int
    created: int
    updated: int
    students: int


class _Errors:
    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.items: list[dict[str, Any]] = []

    def add(self, index: int, field: str, message: str) -> None:
        self.items.append({"field": f"{self.collection}[{index}].{field}", "message": message})

    def raise_if_any(self, total: int, noun: str) -> None:
        if not self.items:
            return
        listed = self.items[:MAX_LISTED_ERRORS]
        more = len(self.items) - len(listed)
        suffix = f" The first {len(listed)} are listed; {more} more were found." if more else ""
        raise InvalidInput(
            f"{len(self.items)} of {total} {noun} cannot be written, so none were written. "
            f"Fix the rows listed under errors and send the batch again.{suffix}",
            errors=listed,
        )


def _check_batch(user: User, rows: Sequence[object], limit: int, noun: str) -> None:
    if user.role not in (Role.admin, Role.teacher):
        raise Forbidden(f"Only administrators and teachers may write {noun}.")
    if len(rows) > limit:
        raise PayloadTooLarge(
            f"The batch has {len(rows)} {noun}; at most {limit} are accepted in one request. "
            "Split it into smaller batches."
        )


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start : start + _IN_CHUNK]


def _course_teachers(session: Session, course_ids: Iterable[int]) -> dict[int, int]:
    teachers: dict[int, int] = {}
    for chunk in _chunks(course_ids):
        rows = session.execute(select(Course.id, Course.teacher_id).where(Course.id.in_(chunk)))
        teachers.update((course_id, teacher_id) for course_id, teacher_id in rows)
    return teachers


def _existing_students(session: Session, student_ids: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(student_ids):
        found.update(session.scalars(select(Student.id).where(Student.id.in_(chunk))))
    return found


def _enrollment_spans(
    session: Session, student_ids: Iterable[int], course_ids: Iterable[int]
) -> dict[tuple[int, int], list[tuple[dt.date, dt.date | None]]]:
    spans: dict[tuple[int, int], list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    courses = sorted(set(course_ids))
    for chunk in _chunks(student_ids):
        rows = session.execute(
            select(
                Enrollment.student_id,
                Enrollment.course_id,
                Enrollment.start_date,
                Enrollment.end_date,
            ).where(Enrollment.student_id.in_(chunk), Enrollment.course_id.in_(courses))
        )
        for student_id, course_id, start, end in rows:
            spans[(student_id, course_id)].append((start, end))
    return spans


def _may_write(user: User, teacher_id: int | None) -> bool:
    return teacher_id is not None and (user.role == Role.admin or teacher_id == user.id)


def write_grades(session: Session, user: User, rows: list[GradeIn], limit: int) -> BatchResult:
    """Insert or update grades, keyed by (assignment, student)."""
    _check_batch(user, rows, limit, "grades")
    assignment_course: dict[int, int] = {}
    for chunk in _chunks(row.assignment_id for row in rows):
        found = session.execute(
            select(Assignment.id, Assignment.course_id).where(Assignment.id.in_(chunk))
        )
        assignment_course.update((a_id, c_id) for a_id, c_id in found)
    teachers = _course_teachers(session, assignment_course.values())
    students = _existing_students(session, (row.student_id for row in rows))
    spans = _enrollment_spans(session, students, teachers)

    errors = _Errors("grades")
    seen: dict[tuple[int, int], int] = {}
    for index, row in enumerate(rows):
        course_id = assignment_course.get(row.assignment_id)
        if course_id is None or not _may_write(user, teachers.get(course_id)):
            errors.add(
                index,
                "assignment_id",
                f"there is no assignment {row.assignment_id} in a course you may write to",
            )
            continue
        # Only admins may learn whether a student exists at all: for a teacher, an
        # unknown student and one outside their course read the same.
        if row.student_id not in students and user.role == Role.admin:
            errors.add(index, "student_id", f"there is no student {row.student_id}")
        elif (row.student_id, course_id) not in spans:
            errors.add(
                index,
                "student_id",
                f"student {row.student_id} is not enrolled in course {course_id}",
            )
        key = (row.assignment_id, row.student_id)
        if key in seen:
            errors.add(
                index, "assignment_id", f"repeats grades[{seen[key]}] (same assignment and student)"
            )
        seen.setdefault(key, index)
    errors.raise_if_any(len(rows), "grades")

    existing = _existing_keys(session, Grade.assignment_id, Grade.student_id, list(seen))
    upsert(
        session,
        Grade.__table__,  # type: ignore[arg-type]
        [
            {
                "assignment_id": row.assignment_id,
                "student_id": row.student_id,
                "score": row.score,
                "status": row.status.value,
                "submitted_at": row.submitted_at,
                "feedback": row.feedback,
            }
            for row in rows
        ],
        key=("assignment_id", "student_id"),
        update=("score", "status", "submitted_at", "feedback"),
    )
    touched = {row.student_id for row in rows}
    bump_data_version(session, touched)
    return BatchResult(len(rows), len(rows) - len(existing), len(existing), len(touched))


def write_attendance(
    session: Session, user: User, rows: list[AttendanceIn], limit: int
) -> BatchResult:
    """Insert or update attendance marks, keyed by (student, date, course)."""
    _check_batch(user, rows, limit, "attendance records")
    teachers = _course_teachers(session, (row.course_id for row in rows))
    students = _existing_students(session, (row.student_id for row in rows))
    spans = _enrollment_spans(session, students, teachers)

    errors = _Errors("records")
    seen: dict[tuple[int, dt.date, int], int] = {}
    for index, row in enumerate(rows):
        if not _may_write(user, teachers.get(row.course_id)):
            errors.add(index, "course_id", f"there is no course {row.course_id} you may write to")
            continue
        enrolled = spans.get((row.student_id, row.course_id))
        if row.student_id not in students and user.role == Role.admin:
            errors.add(index, "student_id", f"there is no student {row.student_id}")
        elif not enrolled:
            errors.add(
                index,
                "student_id",
                f"student {row.student_id} is not enrolled in course {row.course_id}",
            )
        elif not any(
            start <= row.date and (end is None or row.date <= end) for start, end in enrolled
        ):
            errors.add(
                index,
                "date",
                f"student {row.student_id} was not enrolled in course {row.course_id} on "
                f"{row.date.isoformat()}",
            )
        key = (row.student_id, row.date, row.course_id)
        if key in seen:
            errors.add(
                index, "date", f"repeats records[{seen[key]}] (same student, course and date)"
            )
        seen.setdefault(key, index)
    errors.raise_if_any(len(rows), "attendance records")

    existing = _existing_keys(
        session, Attendance.student_id, Attendance.date, list(seen), third=Attendance.course_id
    )
    upsert(
        session,
        Attendance.__table__,  # type: ignore[arg-type]
        [
            {
                "student_id": row.student_id,
                "course_id": row.course_id,
                "date": row.date,
                "status": row.status.value,
            }
            for row in rows
        ],
        key=("student_id", "date", "course_id"),
        update=("status",),
    )
    touched = {row.student_id for row in rows}
    bump_data_version(session, touched)
    return BatchResult(len(rows), len(rows) - len(existing), len(existing), len(touched))


def write_analytics(
    session: Session, user: User, rows: list[AnalyticsIn], limit: int
) -> BatchResult:
    """Append analytics measurements (they are events: nothing is overwritten)."""
    _check_batch(user, rows, limit, "analytics records")
    course_ids = {row.course_id for row in rows if row.course_id is not None}
    teachers = _course_teachers(session, course_ids)
    students = _existing_students(session, (row.student_id for row in rows))
    spans = _enrollment_spans(session, students, course_ids)

    errors = _Errors("records")
    for index, row in enumerate(rows):
        if row.course_id is None:
            if user.role != Role.admin:
                errors.add(
                    index,
                    "course_id",
                    "only administrators may record analytics that belong to no course; "
                    "give the course_id of a course you teach",
                )
            elif row.student_id not in students:
                errors.add(index, "student_id", f"there is no student {row.student_id}")
            continue
        if not _may_write(user, teachers.get(row.course_id)):
            errors.add(index, "course_id", f"there is no course {row.course_id} you may write to")
        elif row.student_id not in students and user.role == Role.admin:
            errors.add(index, "student_id", f"there is no student {row.student_id}")
        elif (row.student_id, row.course_id) not in spans:
            errors.add(
                index,
                "student_id",
                f"student {row.student_id} is not enrolled in course {row.course_id}",
            )
    errors.raise_if_any(len(rows), "analytics records")

    session.execute(
        insert(AnalyticsData),
        [
            {
                "student_id": row.student_id,
                "course_id": row.course_id,
                "metric_type": row.metric_type,
                "value": row.value,
                "recorded_at": row.recorded_at,
                "source": row.source,
            }
            for row in rows
        ],
    )
    touched = {row.student_id for row in rows}
    bump_data_version(session, touched)
    return BatchResult(len(rows), len(rows), 0, len(touched))


def _existing_keys(
    session: Session,
    first: Any,
    second: Any,
    keys: list[tuple[Any, ...]],
    third: Any = None,
) -> set[tuple[Any, ...]]:
    """Which of these composite keys already have a row (to report created vs updated)."""
    columns = [first, second] + ([third] if third is not None else [])
    found: set[tuple[Any, ...]] = set()
    for start in range(0, len(keys), 2_000):
        chunk = keys[start : start + 2_000]
        rows = session.execute(select(*columns).where(tuple_(*columns).in_(chunk)))
        found.update(tuple(row) for row in rows)
    return found
