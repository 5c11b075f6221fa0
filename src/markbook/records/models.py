"""The school's records: students, courses and everything reports are computed from."""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from markbook.auth.models import User, _in
from markbook.db import Base, utcnow


class GradeStatus(enum.StrEnum):
    graded = "graded"
    late = "late"
    missing = "missing"
    excused = "excused"


class AttendanceStatus(enum.StrEnum):
    present = "present"
    late = "late"
    absent = "absent"
    excused = "excused"


# Grade levels: 0 is kindergarten, 12 the last year of secondary school.
MIN_GRADE_LEVEL = 0
MAX_GRADE_LEVEL = 12


def search_key(name: str) -> str:
    """The form of a name that search matches against: no accents, no case.

    "José Núñez" -> "jose nunez", "Анна" -> "анна"; so a search typed on any
    keyboard finds the name, and it works the same on SQLite (whose LIKE only folds
    ASCII) and PostgreSQL.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (
        CheckConstraint(
            f"grade_level BETWEEN {MIN_GRADE_LEVEL} AND {MAX_GRADE_LEVEL}", name="grade_level"
        ),
        CheckConstraint("data_version >= 1", name="data_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The student information system's id: what schools type and import by.
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_search: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    grade_level: Mapped[int] = mapped_column(SmallInteger, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    # Bumped in the same transaction as every write that changes this student's
    # figures (records.versioning); caches key on it.
    data_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())

    user: Mapped[User | None] = relationship()


@event.listens_for(Student, "before_insert")
@event.listens_for(Student, "before_update")
def _keep_search_key(_mapper: object, _connection: object, student: Student) -> None:
    student.name_search = search_key(student.name)


class Guardianship(Base):
    __tablename__ = "guardianships"

    guardian_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    relationship_label: Mapped[str | None] = mapped_column("relationship", String(40))


class TutorAssignment(Base):
    __tablename__ = "tutor_assignments"

    tutor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("credits >= 0", name="credits"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))
    term: Mapped[str] = mapped_column(String(40), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    credits: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)

    teacher: Mapped[User] = relationship()


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("student_id", "course_id", "start_date"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    # None: still enrolled.
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint("max_points > 0", name="max_points"),
        CheckConstraint("weight >= 0", name="weight"),
        Index("ix_assignments_course_id_due_date", "course_id", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    max_points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    weight: Mapped[Decimal] = mapped_column(
        Numeric(6, 3), default=Decimal(1), server_default=text("1")
    )
    due_date: Mapped[dt.date] = mapped_column(Date)


class Grade(Base):
    __tablename__ = "grades"
    __table_args__ = (
        UniqueConstraint("assignment_id", "student_id"),
        CheckConstraint(_in("status", GradeStatus), name="status"),
        CheckConstraint("score >= 0", name="score"),
        # A graded or late piece of work has a score; missing and excused may not.
        CheckConstraint(
            "status NOT IN ('graded', 'late') OR score IS NOT NULL", name="score_present"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[dt.datetime | None]
    feedback: Mapped[str | None] = mapped_column(Text)


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        # Student first, then date: the unique key doubles as the index that
        # reports read a student's attendance over a period by.
        UniqueConstraint("student_id", "date", "course_id"),
        CheckConstraint(_in("status", AttendanceStatus), name="status"),
        Index("ix_attendance_course_id_date", "course_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))


class AnalyticsData(Base):
    __tablename__ = "analytics_data"
    __table_args__ = (
        Index("ix_analytics_data_student_id_recorded_at", "student_id", "recorded_at"),
        Index("ix_analytics_data_course_id_recorded_at", "course_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    metric_type: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[dt.datetime]
    source: Mapped[str | None] = mapped_column(String(64))


class StudentReport(Base):
    """A written report on a student for a period (a term report, a progress report)."""

    __tablename__ = "student_reports"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period"),
        Index("ix_student_reports_student_id_period_end", "student_id", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)
    strengths: Mapped[str | None] = mapped_column(Text)
    concerns: Mapped[str | None] = mapped_column(Text)
    recommendations: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class TeacherWeeklyReport(Base):
    __tablename__ = "teacher_weekly_reports"
    __table_args__ = (
        UniqueConstraint("student_id", "week_start", "course_id"),
        CheckConstraint(
            "homework_completion IS NULL OR homework_completion BETWEEN 0 AND 100",
            name="homework_completion",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    week_start: Mapped[dt.date] = mapped_column(Date)
    progress_summary: Mapped[str] = mapped_column(Text)
    homework_completion: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    behaviour: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class TutorWeeklyReport(Base):
    __tablename__ = "tutor_weekly_reports"
    __table_args__ = (
        UniqueConstraint("student_id", "week_start", "tutor_id"),
        CheckConstraint("hours >= 0", name="hours"),
        CheckConstraint("progress_rating BETWEEN 1 AND 5", name="progress_rating"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    week_start: Mapped[dt.date] = mapped_column(Date)
    topics: Mapped[str] = mapped_column(Text)
    hours: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    progress_rating: Mapped[int] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
