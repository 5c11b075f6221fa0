"""Student performance report: a few set-based queries, then the grading rules.

:func:`performance_report` runs the same small number of SQL statements whatever
the number of courses, assignments or days (rows, never ORM objects), then hands
plain values to :mod:`markbook.reports.grading`. Callers check who may see the
student first; :func:`scope_for` says which of the student's rows a viewer may see.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

from pydantic import TypeAdapter
from sqlalchemy import BindParameter, Select, and_, bindparam, func, or_, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.errors import InvalidInput
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    AttendanceStatus,
    Course,
    Enrollment,
    Grade,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorWeeklyReport,
)
from markbook.reports import grading
from markbook.reports.model import (
    AssignmentCounts,
    AssignmentLine,
    AttendanceCounts,
    AttendanceRecord,
    Comment,
    CourseLine,
    Flag,
    MetricSummary,
    PerformanceReport,
    Period,
    StudentInfo,
    StudentReportComment,
    Summary,
    TeacherWeeklyComment,
    TutorWeeklyComment,
    decimal_or_none,
)

# Longest period a report may cover: longer ones are almost always a typo
# (2062 for 2026) and would read years of rows.
MAX_PERIOD_DAYS = 5 * 366
# Dates a report may name. Far outside them the arithmetic of a report (the period
# before, the week's Monday, the day after) would leave the calendar Python knows.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2199, 12, 31)
# When the school has no courses at all, the default period is the last 30 days.
FALLBACK_PERIOD_DAYS = 30


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Which of a student's rows a report includes.

    ``teacher_id``: only the courses this teacher teaches (a teacher sees only their
    courses' rows). ``course_id``: only this course. Written reports not tied to a
    course (term reports, tutors' weeklies) are left out of both, except a teacher's
    own term reports.
    """

    teacher_id: int | None = None
    course_id: int | None = None

    @property
    def key(self) -> str:
        return f"t{self.teacher_id or 0}c{self.course_id or 0}"


def scope_for(user: User, course_id: int | None = None) -> ReportScope:
    teacher = user.id if Role(user.role) is Role.teacher else None
    return ReportScope(teacher_id=teacher, course_id=course_id)


# --- the period ---------------------------------------------------------------------


def resolve_period(
    session: Session, start: dt.date | None, end: dt.date | None, today: dt.date
) -> Period:
    """The period asked for, defaults filled in from the current term, checked."""
    if start is None or end is None:
        default = default_period(session, today)
        start = start or (default.start if end is None or default.start <= end else end)
        end = end or (default.end if default.end >= start else start)
    for field, day in (("start", start), ("end", end)):
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise InvalidInput(
                f"{field} {day} is outside the dates reports cover ({EARLIEST_DAY} to "
                f"{LATEST_DAY}); check the year.",
                errors=[
                    {"field": field, "message": f"must be between {EARLIEST_DAY} and {LATEST_DAY}"}
                ],
            )
    if start > end:
        raise InvalidInput(
            f"The period starts ({start}) after it ends ({end}): swap the dates.",
            errors=[{"field": "start", "message": "must be on or before end"}],
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"The period {start} to {end} is longer than 5 years; ask for a shorter one.",
            errors=[{"field": "end", "message": "the period may cover at most 5 years"}],
        )
    return Period(start=start, end=end)


def default_period(session: Session, today: dt.date) -> Period:
    """The term containing ``today``, else the latest term to have started, else the
    last 30 days. A term spans its courses' dates."""
    terms = session.execute(
        select(
            Course.term, func.min(Course.start_date).label("start"), func.max(Course.end_date)
        ).group_by(Course.term)
    ).all()
    spans = [(row[1], row[2]) for row in terms]
    current = [span for span in spans if span[0] <= today <= span[1]]
    started = [span for span in spans if span[0] <= today]
    chosen = min(current or [], default=None) or max(started or spans, default=None)
    if chosen is None:
        return Period(start=today - dt.timedelta(days=FALLBACK_PERIOD_DAYS - 1), end=today)
    return Period(start=chosen[0], end=chosen[1])


# --- the report ---------------------------------------------------------------------


def performance_report(
    session: Session,
    student: Student,
    start: dt.date,
    end: dt.date,
    course_id: int | None = None,
    *,
    scope: ReportScope | None = None,
    now: dt.datetime | None = None,
) -> PerformanceReport:
    """The report of ``student`` over ``start``..``end`` (inclusive), as ``scope`` allows."""
    scope = scope or ReportScope()
    if course_id is not None:
        scope = ReportScope(teacher_id=scope.teacher_id, course_id=course_id)
    period = Period(start=start, end=end)
    before_start, _ = grading.previous_period(start, end)

    # Core rows, not the ORM's result machinery: these statements select columns only.
    db = session.connection()
    courses = _courses(db, student.id, scope, before_start, end)
    course_ids = sorted(courses)
    works, lines = _assignments(db, student.id, courses, before_start, start, end)
    attendance_counts = _attendance_counts(db, student.id, course_ids, start, end)
    in_period = [work for work in works if work.due_date >= start]

    course_lines = _course_lines(courses, in_period, attendance_counts, start, end)
    return PerformanceReport(
        student=StudentInfo(
            id=student.id,
            external_id=student.external_id,
            name=student.name,
            grade_level=student.grade_level,
            email=student.email,
        ),
        period=period,
        summary=_summary(course_lines, works, courses, attendance_counts, start, end),
        courses=course_lines,
        assignments=lines,
        attendance_records=_attendance_records(db, student.id, courses, start, end),
        analytics=_analytics(db, student.id, scope, course_ids, start, end),
        comments=_comments(db, student.id, scope, course_ids, start, end),
        generated_at=now or dt.datetime.now(dt.UTC),
        data_version=student.data_version,
    )


@dataclass(slots=True)
class _CourseRow:
    id: int
    name: str
    subject: str
    term: str
    teacher: str
    credits: Decimal
    # Enrollment spans (start, end or None while enrolled).
    spans: list[tuple[dt.date, dt.date | None]]

    def enrolled_on(self, day: dt.date) -> bool:
        # A loop, not any(<generator>): this runs once per assignment row.
        for begin, until in self.spans:  # noqa: SIM110
            if begin <= day and (until is None or day <= until):
                return True
        return False

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        return any(
            begin <= end and (until is None or until >= start) for begin, until in self.spans
        )


# Statements are built once with bound parameters: building a SELECT costs more
# Python time than SQLite takes to run it.
_STUDENT: BindParameter[int] = bindparam("student_id")
_START: BindParameter[Any] = bindparam("start")
_END: BindParameter[Any] = bindparam("end")
_COURSE_IDS: BindParameter[list[int]] = bindparam("course_ids", expanding=True)
# Any SELECT, whatever its columns.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


@functools.cache
def _courses_statement(by_teacher: bool, by_course: bool) -> AnySelect:
    query: AnySelect = (
        select(
            Course.id,
            Course.name,
            Course.subject,
            Course.term,
            User.name.label("teacher"),
            Course.credits,
            Enrollment.start_date,
            Enrollment.end_date,
        )
        .join(Enrollment, Enrollment.course_id == Course.id)
        .join(User, User.id == Course.teacher_id)
        .where(
            Enrollment.student_id == _STUDENT,
            Enrollment.start_date <= _END,
            or_(Enrollment.end_date.is_(None), Enrollment.end_date >= _START),
        )
    )
    if by_teacher:
        query = query.where(Course.teacher_id == bindparam("teacher_id"))
    if by_course:
        query = query.where(Course.id == bindparam("course_id"))
    return query


def _courses(
    db: Connection, student_id: int, scope: ReportScope, start: dt.date, end: dt.date
) -> dict[int, _CourseRow]:
    """The student's courses with an enrollment overlapping ``start``..``end``."""
    statement = _courses_statement(scope.teacher_id is not None, scope.course_id is not None)
    rows = db.execute(
        statement,
        {
            "student_id": student_id,
            "start": start,
            "end": end,
            "teacher_id": scope.teacher_id,
            "course_id": scope.course_id,
        },
    ).all()
    courses: dict[int, _CourseRow] = {}
    for row in rows:
        course = courses.get(row.id)
        if course is None:
            course = courses[row.id] = _CourseRow(
                row.id, row.name, row.subject, row.term, row.teacher, row.credits, []
            )
        course.spans.append((row.start_date, row.end_date))
    return courses


_ASSIGNMENTS = (
    select(
        Assignment.id,
        Assignment.course_id,
        Assignment.title,
        Assignment.category,
        Assignment.due_date,
        Assignment.max_points,
        Assignment.weight,
        Grade.score,
        Grade.status,
    )
    .outerjoin(Grade, and_(Grade.assignment_id == Assignment.id, Grade.student_id == _STUDENT))
    .where(Assignment.course_id.in_(_COURSE_IDS), Assignment.due_date.between(_START, _END))
    .order_by(Assignment.due_date, Assignment.id)
)


def _assignments(
    db: Connection,
    student_id: int,
    courses: dict[int, _CourseRow],
    before_start: dt.date,
    start: dt.date,
    end: dt.date,
) -> tuple[list[grading.Work], list[AssignmentLine]]:
    """Work due from the previous period's start to ``end`` while enrolled (for the
    trend), and the lines of the work due in the period itself."""
    if not courses:
        return [], []
    rows = db.execute(
        _ASSIGNMENTS,
        {"student_id": student_id, "course_ids": list(courses), "start": before_start, "end": end},
    ).all()
    works: list[grading.Work] = []
    lines: list[dict[str, Any]] = []
    for id_, course_id, title, category, due, max_points, weight, score, grade_status in rows:
        course = courses[course_id]
        if not course.enrolled_on(due):
            continue
        status = grade_status or grading.PENDING
        percent = grading.assignment_percent(status, score, max_points)
        works.append(grading.Work(course_id, due, weight, status, percent))
        if due < start:
            continue
        lines.append(
            {
                "id": id_,
                "course_id": course_id,
                "course": course.name,
                "title": title,
                "category": category,
                "due_date": due,
                "max_points": max_points,
                "weight": weight,
                "score": score,
                "percent": None if percent is None else grading.round2(percent),
                "status": status,
            }
        )
    # One validation call for the whole list: far cheaper than a model per line.
    return works, _ASSIGNMENT_LINES.validate_python(lines)


_ASSIGNMENT_LINES = TypeAdapter(list[AssignmentLine])


_ATTENDANCE_COUNTS = (
    select(Attendance.course_id, Attendance.status, func.count())
    .where(
        Attendance.student_id == _STUDENT,
        Attendance.date.between(_START, _END),
        Attendance.course_id.in_(_COURSE_IDS),
    )
    .group_by(Attendance.course_id, Attendance.status)
)
_ATTENDANCE_RECORDS = (
    select(Attendance.date, Attendance.course_id, Attendance.status)
    .where(
        Attendance.student_id == _STUDENT,
        Attendance.date.between(_START, _END),
        Attendance.course_id.in_(_COURSE_IDS),
        Attendance.status != AttendanceStatus.present.value,
    )
    .order_by(Attendance.date, Attendance.course_id)
)


def _attendance_counts(
    db: Connection, student_id: int, course_ids: Sequence[int], start: dt.date, end: dt.date
) -> dict[int, Counter[str]]:
    """Attendance rows per course and status over the period."""
    if not course_ids:
        return {}
    rows = db.execute(
        _ATTENDANCE_COUNTS,
        {"student_id": student_id, "course_ids": list(course_ids), "start": start, "end": end},
    )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for course_id, status, count in rows:
        counts[course_id][status] += count
    return counts


def _attendance_records(
    db: Connection,
    student_id: int,
    courses: dict[int, _CourseRow],
    start: dt.date,
    end: dt.date,
) -> list[AttendanceRecord]:
    if not courses:
        return []
    rows = db.execute(
        _ATTENDANCE_RECORDS,
        {"student_id": student_id, "course_ids": list(courses), "start": start, "end": end},
    )
    return _ATTENDANCE_LIST.validate_python(
        [
            {
                "date": day,
                "course_id": course_id,
                "course": courses[course_id].name,
                "status": status,
            }
            for day, course_id, status in rows
        ]
    )


_ATTENDANCE_LIST = TypeAdapter(list[AttendanceRecord])


def _assignment_counts(works: Sequence[grading.Work]) -> AssignmentCounts:
    by_status = Counter(work.status for work in works)
    return AssignmentCounts(
        counted=sum(1 for work in works if work.counted),
        graded=by_status["graded"],
        late=by_status["late"],
        missing=by_status["missing"],
        excused=by_status["excused"],
        pending=by_status[grading.PENDING],
    )


def _attendance_of(counts: Counter[str]) -> AttendanceCounts:
    return AttendanceCounts(
        present=counts["present"],
        late=counts["late"],
        absent=counts["absent"],
        excused=counts["excused"],
    )


def _course_lines(
    courses: dict[int, _CourseRow],
    works: Sequence[grading.Work],
    attendance: dict[int, Counter[str]],
    start: dt.date,
    end: dt.date,
) -> list[CourseLine]:
    by_course: dict[int, list[grading.Work]] = defaultdict(list)
    for work in works:
        by_course[work.course_id].append(work)
    lines: list[CourseLine] = []
    for course in sorted(courses.values(), key=lambda c: (c.term, c.name, c.id)):
        if not course.overlaps(start, end):
            continue  # enrolled only in the previous period (counted in the trend)
        course_works = by_course.get(course.id, [])
        average = grading.course_average(course_works)
        letter, points = grading.letter_for(average) if average is not None else (None, None)
        counts = _attendance_of(attendance.get(course.id, Counter()))
        lines.append(
            CourseLine(
                id=course.id,
                name=course.name,
                subject=course.subject,
                term=course.term,
                teacher=course.teacher,
                credits=course.credits,
                average=average,
                letter=letter,
                grade_points=points,
                attendance_rate=grading.attendance_rate(counts.present, counts.late, counts.absent),
                assignments=_assignment_counts(course_works),
            )
        )
    return lines


def _summary(
    course_lines: Sequence[CourseLine],
    works: Sequence[grading.Work],
    courses: dict[int, _CourseRow],
    attendance: dict[int, Counter[str]],
    start: dt.date,
    end: dt.date,
) -> Summary:
    overall, gpa = grading.overall(
        [grading.CourseMark(line.credits, line.average) for line in course_lines]
    )
    credits = {course.id: course.credits for course in courses.values()}
    previous = grading.overall_of_works((work for work in works if work.due_date < start), credits)
    change = grading.trend(overall, previous)
    in_period = [work for work in works if work.due_date >= start]
    counts = _assignment_counts(in_period)
    total: Counter[str] = Counter()
    for course_counts in attendance.values():
        total.update(course_counts)
    attended = _attendance_of(total)
    attendance_rate = grading.attendance_rate(attended.present, attended.late, attended.absent)
    raised = grading.flags(
        attendance=attendance_rate,
        course_averages=[(line.id, line.name, line.average) for line in course_lines],
        missing=counts.missing,
        trend_value=change,
    )
    return Summary(
        overall_average=overall,
        letter=grading.letter_for(overall)[0] if overall is not None else None,
        gpa=gpa,
        attendance_rate=attendance_rate,
        completion_rate=grading.completion_rate(counts.graded, counts.late, counts.missing),
        trend=change,
        assignments=counts,
        attendance=attended,
        flags=[
            Flag(code=flag.code, message=flag.message, course_id=flag.course_id) for flag in raised
        ],
    )


def _day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period as UTC instants: from ``start`` 00:00 up to (not including) the day
    after ``end``."""
    begin = dt.datetime.combine(start, dt.time(), dt.UTC)
    return begin, dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)


@functools.cache
def _analytics_statements(by_course: bool) -> tuple[AnySelect, AnySelect]:
    """Per metric type: (count, mean, min, max), and the latest value.

    A course-bound view (a teacher's, or one course's) shows only those courses'
    figures; others see every metric, including those tied to no course.
    """
    in_period = and_(
        AnalyticsData.student_id == _STUDENT,
        AnalyticsData.recorded_at >= _START,
        AnalyticsData.recorded_at < _END,
        AnalyticsData.course_id.in_(_COURSE_IDS) if by_course else true(),
    )
    totals = (
        select(
            AnalyticsData.metric_type,
            func.count(),
            func.avg(AnalyticsData.value),
            func.min(AnalyticsData.value),
            func.max(AnalyticsData.value),
        )
        .where(in_period)
        .group_by(AnalyticsData.metric_type)
        .order_by(AnalyticsData.metric_type)
    )
    ranked = (
        select(
            AnalyticsData.metric_type,
            AnalyticsData.value,
            AnalyticsData.recorded_at,
            func.row_number()
            .over(
                partition_by=AnalyticsData.metric_type,
                order_by=(AnalyticsData.recorded_at.desc(), AnalyticsData.id.desc()),
            )
            .label("rank"),
        )
        .where(in_period)
        .subquery()
    )
    latest = select(ranked.c.metric_type, ranked.c.value, ranked.c.recorded_at).where(
        ranked.c.rank == 1
    )
    return totals, latest


def _analytics(
    db: Connection,
    student_id: int,
    scope: ReportScope,
    course_ids: Sequence[int],
    start: dt.date,
    end: dt.date,
) -> list[MetricSummary]:
    by_course = scope.course_id is not None or scope.teacher_id is not None
    if by_course and not course_ids:
        return []
    begin, until = _day_bounds(start, end)
    totals, latest = _analytics_statements(by_course)
    params = {"student_id": student_id, "start": begin, "end": until}
    if by_course:
        params["course_ids"] = list(course_ids)
    last = {metric_type: (value, at) for metric_type, value, at in db.execute(latest, params)}
    summaries: list[MetricSummary] = []
    for metric_type, count, mean, low, high in db.execute(totals, params):
        value, at = last[metric_type]
        summaries.append(
            MetricSummary(
                metric_type=metric_type,
                count=count,
                mean=grading.round2(decimal_or_none(mean) or Decimal(0)),
                min=low,
                max=high,
                latest=value,
                latest_at=_as_utc(at),
            )
        )
    return summaries


def _as_utc(value: dt.datetime | str) -> dt.datetime:
    # A window-function subquery loses the column's type on SQLite: the driver then
    # hands back the stored text.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _comments(
    db: Connection,
    student_id: int,
    scope: ReportScope,
    course_ids: Sequence[int],
    start: dt.date,
    end: dt.date,
) -> list[Comment]:
    params: dict[str, Any] = {"student_id": student_id, "start": start, "end": end}
    comments: list[Comment] = []
    if scope.course_id is None:
        by_author = scope.teacher_id is not None
        statement = _STUDENT_REPORTS_BY_AUTHOR if by_author else _STUDENT_REPORTS
        rows = db.execute(statement, {**params, "author_id": scope.teacher_id})
        comments.extend(StudentReportComment(**row._mapping) for row in rows)
    if course_ids:
        rows = db.execute(_TEACHER_WEEKLIES, {**params, "course_ids": list(course_ids)})
        comments.extend(TeacherWeeklyComment(**row._mapping) for row in rows)
    if scope.course_id is None and scope.teacher_id is None:
        rows = db.execute(_TUTOR_WEEKLIES, params)
        comments.extend(TutorWeeklyComment(**row._mapping) for row in rows)
    comments.sort(key=lambda comment: (comment.date, comment.kind))
    return comments


_STUDENT_REPORTS = (
    select(
        User.name.label("author"),
        StudentReport.period_end.label("date"),
        StudentReport.period_start,
        StudentReport.period_end,
        StudentReport.summary,
        StudentReport.strengths,
        StudentReport.concerns,
        StudentReport.recommendations,
    )
    .join(User, User.id == StudentReport.author_id)
    .where(
        StudentReport.student_id == _STUDENT,
        StudentReport.period_start <= _END,
        StudentReport.period_end >= _START,
    )
)
_STUDENT_REPORTS_BY_AUTHOR = _STUDENT_REPORTS.where(
    StudentReport.author_id == bindparam("author_id")
)
_TEACHER_WEEKLIES = (
    select(
        User.name.label("author"),
        TeacherWeeklyReport.week_start.label("date"),
        TeacherWeeklyReport.course_id,
        Course.name.label("course"),
        TeacherWeeklyReport.progress_summary,
        TeacherWeeklyReport.homework_completion,
        TeacherWeeklyReport.behaviour,
        TeacherWeeklyReport.next_steps,
    )
    .join(User, User.id == TeacherWeeklyReport.teacher_id)
    .join(Course, Course.id == TeacherWeeklyReport.course_id)
    .where(
        TeacherWeeklyReport.student_id == _STUDENT,
        TeacherWeeklyReport.week_start.between(_START, _END),
        TeacherWeeklyReport.course_id.in_(_COURSE_IDS),
    )
)
_TUTOR_WEEKLIES = (
    select(
        User.name.label("author"),
        TutorWeeklyReport.week_start.label("date"),
        TutorWeeklyReport.topics,
        TutorWeeklyReport.hours,
        TutorWeeklyReport.progress_rating,
        TutorWeeklyReport.notes,
    )
    .join(User, User.id == TutorWeeklyReport.tutor_id)
    .where(
        TutorWeeklyReport.student_id == _STUDENT,
        TutorWeeklyReport.week_start.between(_START, _END),
    )
)
