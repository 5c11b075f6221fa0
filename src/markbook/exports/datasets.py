"""The datasets a school can export: named, typed columns over SQL scoped to the caller.

Each dataset declares its columns once (name, label, kind, in default order) and
builds one SELECT labelled with those names. The SELECT is already limited, in SQL,
to what the caller may see (``markbook.auth.scope``): a teacher's export holds only
the rows of the courses they teach. The export spec then picks columns, filters,
sorts and limits on top of it by declared name only, so no SQL ever comes from the
caller.

Every SELECT also carries two hidden columns: ``_student_id`` (whose records a row
discloses, for the audit trail; NULL for rows about no student) and, for
class_analytics, the sums the mean and standard deviation are finished from.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    String,
    case,
    cast,
    false,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from markbook.audit import AuditEvent
from markbook.auth.models import Role, User
from markbook.auth.scope import course_filter, course_row_filter, student_filter
from markbook.exports.writers.cells import Column, Kind
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    Course,
    Enrollment,
    Grade,
    GradeStatus,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorWeeklyReport,
)

AnySelect: TypeAlias = Select[*tuple[Any, ...]]

STUDENT_ID = "_student_id"


@dataclass(frozen=True)
class Scope:
    """What the spec narrows the rows to before the generic filters: the caller, the
    period on the dataset's date column, and the id/metric lists."""

    user: User
    start: dt.date | None = None
    end: dt.date | None = None
    student_ids: Sequence[int] | None = None
    course_ids: Sequence[int] | None = None
    metric_types: Sequence[str] | None = None
    weekly: bool = False
    dialect: str = "sqlite"


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    columns: tuple[Column, ...]
    build: Callable[[Scope], AnySelect]
    # The column start/end apply to, if any.
    date_column: str | None = None
    admin_only: bool = False
    # Which of the spec's list filters the dataset understands.
    accepts: frozenset[str] = frozenset()
    # Columns the SQL gives that are finished in polars (not filterable or sortable
    # in SQL), and the step that finishes them (a name in pipeline.FINISHERS, which
    # runs in the export worker).
    computed: frozenset[str] = frozenset()
    finish: str | None = None
    # Default column list where it differs from all columns.
    defaults: Callable[[Scope], tuple[str, ...]] | None = None
    default_sort: tuple[str, ...] = ()
    chart: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}

    def default_columns(self, scope: Scope) -> tuple[str, ...]:
        if self.defaults is not None:
            return self.defaults(scope)
        return tuple(column.name for column in self.columns)


def _c(name: str, label: str, kind: Kind = Kind.TEXT) -> Column:
    return Column(name, label, kind)


class cents(FunctionElement[float]):  # noqa: N801 - an SQL function's name
    """A figure rounded half away from zero to two places, as a double.

    Rounded in SQL, so a filter on a decimal column compares the figure the file
    shows (85.50, not 85.50000000000001). PostgreSQL rounds numerics half away from
    zero but doubles half to even, so it rounds a numeric.
    """

    type = Float()
    inherit_cache = True


@compiles(cents)
def _cents(element: cents, compiler: Any, **kw: Any) -> str:
    # SQLite's own round() changed in 3.43 (2.675, stored as 2.67499..., gave 2.68
    # before and 2.67 after), and the export reader's SQLite need not be the
    # server's: nudge by the slack frames.round_cents allows, then round.
    value = f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"
    slack = f"MAX(1e-9, ABS({value}) * 4e-16)"
    return f"ROUND({value} + (CASE WHEN {value} >= 0 THEN {slack} ELSE -{slack} END), 2)"


@compiles(cents, "postgresql")
def _cents_postgresql(element: cents, compiler: Any, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"CAST(ROUND(CAST({inner} AS NUMERIC), 2) AS DOUBLE PRECISION)"


def _typed(expr: Any, kind: Kind) -> ColumnElement[Any]:
    """Cast so every dialect hands back one type per column (SQLite stores NUMERIC
    scores as INTEGER or REAL row by row)."""
    if kind is Kind.DECIMAL:
        return cents(expr)
    if kind is Kind.FLOAT:
        return cast(expr, Float)
    if kind is Kind.INTEGER:
        return cast(expr, Integer)
    return expr  # type: ignore[no-any-return]


def _select(columns: Sequence[Column], exprs: Mapping[str, Any], student: Any) -> AnySelect:
    return select(
        *(_typed(exprs[column.name], column.kind).label(column.name) for column in columns),
        (student if student is not None else cast(null(), Integer)).label(STUDENT_ID),
    )


def _day_bounds(expr: Any, scope: Scope, *, moment: bool) -> list[ColumnElement[bool]]:
    """``start <= day(expr) <= end``; a datetime column is compared at UTC midnights
    so its index is used."""
    clauses: list[ColumnElement[bool]] = []
    if scope.start is not None:
        start: dt.date = scope.start
        clauses.append(expr >= (_midnight(start) if moment else start))
    if scope.end is not None:
        if moment:
            clauses.append(expr < _midnight(scope.end + dt.timedelta(days=1)))
        else:
            clauses.append(expr <= scope.end)
    return clauses


def _midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in UTC (aware: timestamps are stored in UTC)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _lists(
    scope: Scope, student: Any = None, course: Any = None, metric: Any = None
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if scope.student_ids is not None and student is not None:
        clauses.append(student.in_(list(scope.student_ids)))
    if scope.course_ids is not None and course is not None:
        clauses.append(course.in_(list(scope.course_ids)))
    if scope.metric_types is not None and metric is not None:
        clauses.append(metric.in_(list(scope.metric_types)))
    return clauses


def _student_rows(scope: Scope, student: Any, course: Any | None) -> list[ColumnElement[bool]]:
    clauses = [student_filter(scope.user, student)]
    if course is not None:
        clauses.append(course_row_filter(scope.user, course))
    return clauses


# --- students ------------------------------------------------------------------------

STUDENT_COLUMNS = (
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("name", "Name"),
    _c("email", "Email"),
    _c("grade_level", "Grade level", Kind.INTEGER),
)


def _students(scope: Scope) -> AnySelect:
    exprs = {
        "student_id": Student.id,
        "sis_id": Student.external_id,
        "name": Student.name,
        "email": Student.email,
        "grade_level": Student.grade_level,
    }
    query = _select(STUDENT_COLUMNS, exprs, Student.id).where(
        *_student_rows(scope, Student.id, None), *_lists(scope, student=Student.id)
    )
    if scope.course_ids is not None:
        enrolled = select(Enrollment.student_id).where(
            Enrollment.course_id.in_(list(scope.course_ids)),
            course_row_filter(scope.user, Enrollment.course_id),
        )
        query = query.where(Student.id.in_(enrolled.scalar_subquery()))
    return query


# --- courses -------------------------------------------------------------------------

COURSE_COLUMNS = (
    _c("course_id", "Course id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("name", "Course"),
    _c("subject", "Subject"),
    _c("term", "Term"),
    _c("teacher_id", "Teacher id", Kind.INTEGER),
    _c("teacher_name", "Teacher"),
    _c("credits", "Credits", Kind.DECIMAL),
    _c("start_date", "Starts", Kind.DATE),
    _c("end_date", "Ends", Kind.DATE),
)


def _courses(scope: Scope) -> AnySelect:
    teacher = aliased(User)
    exprs = {
        "course_id": Course.id,
        "sis_id": Course.external_id,
        "name": Course.name,
        "subject": Course.subject,
        "term": Course.term,
        "teacher_id": Course.teacher_id,
        "teacher_name": teacher.name,
        "credits": Course.credits,
        "start_date": Course.start_date,
        "end_date": Course.end_date,
    }
    query = (
        _select(COURSE_COLUMNS, exprs, None)
        .join_from(Course, teacher, teacher.id == Course.teacher_id)
        .where(course_filter(scope.user, Course.id), *_lists(scope, course=Course.id))
    )
    # A course runs in the period when its dates overlap it.
    if scope.start is not None:
        query = query.where(Course.end_date >= scope.start)
    if scope.end is not None:
        query = query.where(Course.start_date <= scope.end)
    return query


# --- enrollments ---------------------------------------------------------------------

ENROLLMENT_COLUMNS = (
    _c("enrollment_id", "Enrollment id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("course_id", "Course id", Kind.INTEGER),
    _c("course_name", "Course"),
    _c("start_date", "Enrolled from", Kind.DATE),
    _c("end_date", "Enrolled until", Kind.DATE),
)


def _enrollments(scope: Scope) -> AnySelect:
    exprs = {
        "enrollment_id": Enrollment.id,
        "student_id": Enrollment.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "course_id": Enrollment.course_id,
        "course_name": Course.name,
        "start_date": Enrollment.start_date,
        "end_date": Enrollment.end_date,
    }
    query = (
        _select(ENROLLMENT_COLUMNS, exprs, Enrollment.student_id)
        .join_from(Enrollment, Student, Student.id == Enrollment.student_id)
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            *_student_rows(scope, Enrollment.student_id, Enrollment.course_id),
            *_lists(scope, student=Enrollment.student_id, course=Enrollment.course_id),
        )
    )
    if scope.start is not None:
        query = query.where((Enrollment.end_date.is_(None)) | (Enrollment.end_date >= scope.start))
    if scope.end is not None:
        query = query.where(Enrollment.start_date <= scope.end)
    return query


# --- grades --------------------------------------------------------------------------

GRADE_COLUMNS = (
    _c("grade_id", "Grade id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("course_id", "Course id", Kind.INTEGER),
    _c("course_name", "Course"),
    _c("assignment_id", "Assignment id", Kind.INTEGER),
    _c("assignment", "Assignment"),
    _c("category", "Category"),
    _c("due_date", "Due", Kind.DATE),
    _c("max_points", "Max points", Kind.DECIMAL),
    _c("weight", "Weight", Kind.DECIMAL),
    _c("score", "Score", Kind.DECIMAL),
    _c("percent", "Percent", Kind.DECIMAL),
    _c("status", "Status"),
    _c("submitted_at", "Submitted", Kind.DATETIME),
    _c("feedback", "Feedback"),
)


def _grades(scope: Scope) -> AnySelect:
    # The grading rules: missing counts as 0, excused as nothing, else score / max.
    percent = case(
        (Grade.status == GradeStatus.missing.value, literal(0.0)),
        (Grade.status == GradeStatus.excused.value, null()),
        (
            Assignment.max_points > 0,
            100.0 * cast(Grade.score, Float) / cast(Assignment.max_points, Float),
        ),
        else_=null(),
    )
    exprs = {
        "grade_id": Grade.id,
        "student_id": Grade.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "course_id": Assignment.course_id,
        "course_name": Course.name,
        "assignment_id": Assignment.id,
        "assignment": Assignment.title,
        "category": Assignment.category,
        "due_date": Assignment.due_date,
        "max_points": Assignment.max_points,
        "weight": Assignment.weight,
        "score": Grade.score,
        "percent": percent,
        "status": Grade.status,
        "submitted_at": Grade.submitted_at,
        "feedback": Grade.feedback,
    }
    return (
        _select(GRADE_COLUMNS, exprs, Grade.student_id)
        .join_from(Grade, Assignment, Assignment.id == Grade.assignment_id)
        .join(Student, Student.id == Grade.student_id)
        .join(Course, Course.id == Assignment.course_id)
        .where(
            *_student_rows(scope, Grade.student_id, Assignment.course_id),
            *_lists(scope, student=Grade.student_id, course=Assignment.course_id),
            *_day_bounds(Assignment.due_date, scope, moment=False),
        )
    )


# --- attendance ----------------------------------------------------------------------

ATTENDANCE_COLUMNS = (
    _c("attendance_id", "Attendance id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("course_id", "Course id", Kind.INTEGER),
    _c("course_name", "Course"),
    _c("date", "Date", Kind.DATE),
    _c("status", "Status"),
)


def _attendance(scope: Scope) -> AnySelect:
    exprs = {
        "attendance_id": Attendance.id,
        "student_id": Attendance.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "course_id": Attendance.course_id,
        "course_name": Course.name,
        "date": Attendance.date,
        "status": Attendance.status,
    }
    return (
        _select(ATTENDANCE_COLUMNS, exprs, Attendance.student_id)
        .join_from(Attendance, Student, Student.id == Attendance.student_id)
        .join(Course, Course.id == Attendance.course_id)
        .where(
            *_student_rows(scope, Attendance.student_id, Attendance.course_id),
            *_lists(scope, student=Attendance.student_id, course=Attendance.course_id),
            *_day_bounds(Attendance.date, scope, moment=False),
        )
    )


# --- analytics -----------------------------------------------------------------------

ANALYTICS_COLUMNS = (
    _c("analytics_id", "Analytics id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("course_id", "Course id", Kind.INTEGER),
    _c("course_name", "Course"),
    _c("metric_type", "Metric"),
    _c("value", "Value", Kind.FLOAT),
    _c("recorded_at", "Recorded (UTC)", Kind.DATETIME),
    _c("source", "Source"),
)


def _analytics(scope: Scope) -> AnySelect:
    exprs = {
        "analytics_id": AnalyticsData.id,
        "student_id": AnalyticsData.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "course_id": AnalyticsData.course_id,
        "course_name": Course.name,
        "metric_type": AnalyticsData.metric_type,
        "value": AnalyticsData.value,
        "recorded_at": AnalyticsData.recorded_at,
        "source": AnalyticsData.source,
    }
    return (
        _select(ANALYTICS_COLUMNS, exprs, AnalyticsData.student_id)
        .join_from(AnalyticsData, Student, Student.id == AnalyticsData.student_id)
        .outerjoin(Course, Course.id == AnalyticsData.course_id)
        .where(
            *_student_rows(scope, AnalyticsData.student_id, AnalyticsData.course_id),
            *_lists(
                scope,
                student=AnalyticsData.student_id,
                course=AnalyticsData.course_id,
                metric=AnalyticsData.metric_type,
            ),
            *_day_bounds(AnalyticsData.recorded_at, scope, moment=True),
        )
    )


# --- class analytics -----------------------------------------------------------------

CLASS_ANALYTICS_COLUMNS = (
    _c("course_id", "Course id", Kind.INTEGER),
    _c("course_name", "Course"),
    _c("metric_type", "Metric"),
    _c("week_start", "Week starting", Kind.DATE),
    _c("iso_week", "ISO week"),
    _c("students", "Students", Kind.INTEGER),
    _c("count", "Values", Kind.INTEGER),
    _c("mean", "Mean", Kind.FLOAT),
    _c("min", "Min", Kind.FLOAT),
    _c("max", "Max", Kind.FLOAT),
    _c("std_dev", "Standard deviation", Kind.FLOAT),
)
_SUM, _SUM_SQUARES = "_sum", "_sum_squares"


def _week_start(scope: Scope) -> ColumnElement[Any]:
    """The Monday of the ISO week a value was recorded in (UTC)."""
    if scope.dialect == "postgresql":
        return cast(func.date_trunc("week", AnalyticsData.recorded_at), Date)
    # SQLite: the next Sunday on or after the day, less six days.
    return func.date(AnalyticsData.recorded_at, "weekday 0", "-6 days")


def _class_analytics(scope: Scope) -> AnySelect:
    value = cast(AnalyticsData.value, Float)
    week = _week_start(scope) if scope.weekly else cast(null(), Date)
    group: list[Any] = [AnalyticsData.course_id, Course.name, AnalyticsData.metric_type]
    if scope.weekly:
        group.append(week)
    query = (
        select(
            AnalyticsData.course_id.label("course_id"),
            Course.name.label("course_name"),
            AnalyticsData.metric_type.label("metric_type"),
            week.label("week_start"),
            cast(null(), String).label("iso_week"),
            cast(func.count(func.distinct(AnalyticsData.student_id)), Integer).label("students"),
            cast(func.count(value), Integer).label("count"),
            cast(func.avg(value), Float).label("mean"),
            cast(func.min(value), Float).label("min"),
            cast(func.max(value), Float).label("max"),
            cast(null(), Float).label("std_dev"),
            cast(null(), Integer).label(STUDENT_ID),
            cast(func.sum(value), Float).label(_SUM),
            cast(func.sum(value * value), Float).label(_SUM_SQUARES),
        )
        .join_from(AnalyticsData, Course, Course.id == AnalyticsData.course_id)
        .where(
            course_filter(scope.user, typing.cast("ColumnElement[int]", AnalyticsData.course_id)),
            *_lists(scope, course=AnalyticsData.course_id, metric=AnalyticsData.metric_type),
            *_day_bounds(AnalyticsData.recorded_at, scope, moment=True),
        )
        .group_by(*group)
    )
    if Role(scope.user.role) is not Role.teacher:
        # Everyone but a course's teacher sees only their students' values in it.
        query = query.where(student_filter(scope.user, AnalyticsData.student_id))
    return query


def _class_analytics_defaults(scope: Scope) -> tuple[str, ...]:
    weekly_only = {"week_start", "iso_week"}
    return tuple(
        column.name
        for column in CLASS_ANALYTICS_COLUMNS
        if scope.weekly or column.name not in weekly_only
    )


# --- written reports -----------------------------------------------------------------

STUDENT_REPORT_COLUMNS = (
    _c("report_id", "Report id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("author_id", "Author id", Kind.INTEGER),
    _c("author_name", "Author"),
    _c("period_start", "Period start", Kind.DATE),
    _c("period_end", "Period end", Kind.DATE),
    _c("summary", "Summary"),
    _c("strengths", "Strengths"),
    _c("concerns", "Concerns"),
    _c("recommendations", "Recommendations"),
    _c("created_at", "Written (UTC)", Kind.DATETIME),
)


def _student_reports(scope: Scope) -> AnySelect:
    author = aliased(User)
    exprs = {
        "report_id": StudentReport.id,
        "student_id": StudentReport.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "author_id": StudentReport.author_id,
        "author_name": author.name,
        "period_start": StudentReport.period_start,
        "period_end": StudentReport.period_end,
        "summary": StudentReport.summary,
        "strengths": StudentReport.strengths,
        "concerns": StudentReport.concerns,
        "recommendations": StudentReport.recommendations,
        "created_at": StudentReport.created_at,
    }
    query = (
        _select(STUDENT_REPORT_COLUMNS, exprs, StudentReport.student_id)
        .join_from(StudentReport, Student, Student.id == StudentReport.student_id)
        .join(author, author.id == StudentReport.author_id)
        .where(
            student_filter(scope.user, StudentReport.student_id),
            *_lists(scope, student=StudentReport.student_id),
            *_day_bounds(StudentReport.period_end, scope, moment=False),
        )
    )
    if Role(scope.user.role) is Role.teacher:
        # A term report is not a course row: a teacher sees the ones they wrote.
        query = query.where(StudentReport.author_id == scope.user.id)
    if scope.course_ids is not None:
        query = query.where(
            StudentReport.student_id.in_(
                select(Enrollment.student_id)
                .where(Enrollment.course_id.in_(list(scope.course_ids)))
                .scalar_subquery()
            )
        )
    return query


TEACHER_WEEKLY_COLUMNS = (
    _c("report_id", "Report id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("teacher_id", "Teacher id", Kind.INTEGER),
    _c("teacher_name", "Teacher"),
    _c("course_id", "Course id", Kind.INTEGER),
    _c("course_name", "Course"),
    _c("week_start", "Week starting", Kind.DATE),
    _c("progress_summary", "Progress"),
    _c("homework_completion", "Homework completion %", Kind.DECIMAL),
    _c("behaviour", "Behaviour"),
    _c("next_steps", "Next steps"),
    _c("created_at", "Written (UTC)", Kind.DATETIME),
)


def _teacher_weekly_reports(scope: Scope) -> AnySelect:
    teacher = aliased(User)
    report = TeacherWeeklyReport
    exprs = {
        "report_id": report.id,
        "student_id": report.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "teacher_id": report.teacher_id,
        "teacher_name": teacher.name,
        "course_id": report.course_id,
        "course_name": Course.name,
        "week_start": report.week_start,
        "progress_summary": report.progress_summary,
        "homework_completion": report.homework_completion,
        "behaviour": report.behaviour,
        "next_steps": report.next_steps,
        "created_at": report.created_at,
    }
    return (
        _select(TEACHER_WEEKLY_COLUMNS, exprs, report.student_id)
        .join_from(report, Student, Student.id == report.student_id)
        .join(Course, Course.id == report.course_id)
        .join(teacher, teacher.id == report.teacher_id)
        .where(
            *_student_rows(scope, report.student_id, report.course_id),
            *_lists(scope, student=report.student_id, course=report.course_id),
            *_day_bounds(report.week_start, scope, moment=False),
        )
    )


TUTOR_WEEKLY_COLUMNS = (
    _c("report_id", "Report id", Kind.INTEGER),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("sis_id", "SIS id"),
    _c("student_name", "Student"),
    _c("tutor_id", "Tutor id", Kind.INTEGER),
    _c("tutor_name", "Tutor"),
    _c("week_start", "Week starting", Kind.DATE),
    _c("topics", "Topics"),
    _c("hours", "Hours", Kind.DECIMAL),
    _c("progress_rating", "Progress rating (1-5)", Kind.INTEGER),
    _c("notes", "Notes"),
    _c("created_at", "Written (UTC)", Kind.DATETIME),
)


def _tutor_weekly_reports(scope: Scope) -> AnySelect:
    tutor = aliased(User)
    report = TutorWeeklyReport
    exprs = {
        "report_id": report.id,
        "student_id": report.student_id,
        "sis_id": Student.external_id,
        "student_name": Student.name,
        "tutor_id": report.tutor_id,
        "tutor_name": tutor.name,
        "week_start": report.week_start,
        "topics": report.topics,
        "hours": report.hours,
        "progress_rating": report.progress_rating,
        "notes": report.notes,
        "created_at": report.created_at,
    }
    query = (
        _select(TUTOR_WEEKLY_COLUMNS, exprs, report.student_id)
        .join_from(report, Student, Student.id == report.student_id)
        .join(tutor, tutor.id == report.tutor_id)
        .where(
            student_filter(scope.user, report.student_id),
            *_lists(scope, student=report.student_id),
            *_day_bounds(report.week_start, scope, moment=False),
        )
    )
    if Role(scope.user.role) is Role.teacher:
        # Tutors' notes are not rows of a course: teachers do not get them.
        query = query.where(false())
    return query


# --- audit events --------------------------------------------------------------------

AUDIT_COLUMNS = (
    _c("event_id", "Event id", Kind.INTEGER),
    _c("occurred_at", "When (UTC)", Kind.DATETIME),
    _c("actor_id", "Actor id", Kind.INTEGER),
    _c("actor_email", "Actor"),
    _c("action", "Action"),
    _c("channel", "Channel"),
    _c("resource", "Resource"),
    _c("student_id", "Student id", Kind.INTEGER),
    _c("ip", "IP address"),
    _c("detail", "Detail"),
)


def _audit_events(scope: Scope) -> AnySelect:
    event = AuditEvent
    exprs = {
        "event_id": event.id,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "action": event.action,
        "channel": event.channel,
        "resource": event.resource,
        "student_id": event.student_id,
        "ip": event.ip,
        "detail": cast(event.detail, String),
    }
    # Reading the trail discloses no student's records: the hidden id stays NULL.
    return _select(AUDIT_COLUMNS, exprs, None).where(
        *_lists(scope, student=event.student_id),
        *_day_bounds(event.occurred_at, scope, moment=True),
    )


STUDENT, COURSE, METRIC = "student_ids", "course_ids", "metric_types"

DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            "analytics",
            "Learning analytics values, one row per value, with student and course.",
            ANALYTICS_COLUMNS,
            _analytics,
            date_column="recorded_at",
            accepts=frozenset({STUDENT, COURSE, METRIC}),
            default_sort=("analytics_id",),
        ),
        Dataset(
            "grades",
            "Grade rows with their assignment, course, percent and status.",
            GRADE_COLUMNS,
            _grades,
            date_column="due_date",
            accepts=frozenset({STUDENT, COURSE}),
            default_sort=("grade_id",),
        ),
        Dataset(
            "attendance",
            "Attendance marks: one row per student, course and day.",
            ATTENDANCE_COLUMNS,
            _attendance,
            date_column="date",
            accepts=frozenset({STUDENT, COURSE}),
            default_sort=("attendance_id",),
        ),
        Dataset(
            "students",
            "The students you may see.",
            STUDENT_COLUMNS,
            _students,
            accepts=frozenset({STUDENT, COURSE}),
            default_sort=("student_id",),
        ),
        Dataset(
            "courses",
            "The courses you may see, with their teacher; start/end keep those that run "
            "in the period.",
            COURSE_COLUMNS,
            _courses,
            date_column="start_date",
            accepts=frozenset({COURSE}),
            default_sort=("course_id",),
        ),
        Dataset(
            "enrollments",
            "Which student is enrolled in which course, and when.",
            ENROLLMENT_COLUMNS,
            _enrollments,
            date_column="start_date",
            accepts=frozenset({STUDENT, COURSE}),
            default_sort=("enrollment_id",),
        ),
        Dataset(
            "student_reports",
            "Written term reports (a teacher gets the ones they wrote).",
            STUDENT_REPORT_COLUMNS,
            _student_reports,
            date_column="period_end",
            accepts=frozenset({STUDENT, COURSE}),
            default_sort=("report_id",),
        ),
        Dataset(
            "teacher_weekly_reports",
            "Teachers' weekly notes per student and course.",
            TEACHER_WEEKLY_COLUMNS,
            _teacher_weekly_reports,
            date_column="week_start",
            accepts=frozenset({STUDENT, COURSE}),
            default_sort=("report_id",),
        ),
        Dataset(
            "tutor_weekly_reports",
            "Tutors' weekly notes per student (not given to teachers).",
            TUTOR_WEEKLY_COLUMNS,
            _tutor_weekly_reports,
            date_column="week_start",
            accepts=frozenset({STUDENT}),
            default_sort=("report_id",),
        ),
        Dataset(
            "class_analytics",
            "Per course and metric (and ISO week with weekly=true) over the period: "
            "students, values, mean, min, max and sample standard deviation.",
            CLASS_ANALYTICS_COLUMNS,
            _class_analytics,
            date_column="recorded_at",
            accepts=frozenset({COURSE, METRIC}),
            computed=frozenset({"std_dev", "iso_week"}),
            finish="class_analytics",
            defaults=_class_analytics_defaults,
            default_sort=("course_id", "metric_type", "week_start"),
            chart={"categories": "course_name", "values": "mean"},
        ),
        Dataset(
            "audit_events",
            "Who read or exported which student's records, when and how (admins only).",
            AUDIT_COLUMNS,
            _audit_events,
            date_column="occurred_at",
            admin_only=True,
            accepts=frozenset({STUDENT}),
            default_sort=("event_id",),
        ),
    )
}

HIDDEN_SUMS = (_SUM, _SUM_SQUARES)
__all__ = ["DATASETS", "HIDDEN_SUMS", "STUDENT_ID", "Dataset", "Scope"]
