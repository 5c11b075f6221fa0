"""Pages: the students list, one student's report, and the report's downloads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import User
from markbook.cache import Cache
from markbook.deps import CacheDep, ClientIP, SessionDep, SettingsDep, Today
from markbook.errors import InvalidInput
from markbook.records import service as records
from markbook.records.models import MAX_GRADE_LEVEL, MIN_GRADE_LEVEL, Student
from markbook.reports import service as reports
from markbook.reports.model import PerformanceReport, weekly_averages
from markbook.reports.service import RenderedReport, ReportFormat, ReportRequest
from markbook.schemas import PathId
from markbook.settings import Settings
from markbook.web import charts
from markbook.web.forms import optional_date, optional_int
from markbook.web.session import WebUser
from markbook.web.templating import page

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
# Enough for every course a school runs in a year; the filter is a plain <select>.
MAX_COURSE_CHOICES = 500

SearchText = Annotated[str | None, Query(max_length=200)]
Blank = Annotated[str | None, Query(max_length=40)]


def course_choices(session: SessionDep, user: User) -> list[records.CourseView]:
    """The courses ``user`` may see, for a filter's drop-down list."""
    views, _ = records.search_courses(
        session, user, page=records.PageRequest(1, MAX_COURSE_CHOICES)
    )
    return sorted(views, key=lambda v: (v.course.term, v.course.name))


def audit_listed(session: Session, user: User, students: list[Student], ip: str | None) -> None:
    """Put the students a page lists (their names are on it) in the audit trail."""
    if students:
        record_access(
            session,
            user,
            AuditAction.read,
            Channel.web,
            "student_list",
            [student.id for student in students],
            ip=ip,
        )


@router.get("/students")
def students_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    ip: ClientIP,
    q: SearchText = None,
    course_id: Blank = None,
    grade_level: Blank = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """Search by name or SIS id, filter by course and grade level, a page at a time."""
    courses = course_choices(session, user)
    error = None
    students: list[Student] = []
    total = 0
    try:
        chosen_course = optional_int(course_id, "course_id", "The course")
        chosen_grade = optional_int(grade_level, "grade_level", "The grade level")
        if chosen_grade is not None and not MIN_GRADE_LEVEL <= chosen_grade <= MAX_GRADE_LEVEL:
            raise InvalidInput(
                f"Grade levels run from {MIN_GRADE_LEVEL} to {MAX_GRADE_LEVEL}.",
                errors=[{"field": "grade_level", "message": "out of range"}],
            )
        students, total = records.search_students(
            session,
            user,
            q=q,
            course_id=chosen_course,
            grade_level=chosen_grade,
            page=records.PageRequest(page_number, PER_PAGE),
        )
    except InvalidInput as invalid:
        chosen_course = chosen_grade = None
        error = invalid.detail.replace(
            " list yours with GET /api/v1/courses.", " choose one from the list."
        )
    audit_listed(session, user, students, ip)
    pages = max(1, -(-total // PER_PAGE))
    return page(
        request,
        "students.html",
        {
            "students": students,
            "total": total,
            "page_number": page_number,
            "pages": pages,
            "q": q or "",
            "courses": courses,
            "course_id": chosen_course,
            "grade_level": chosen_grade,
            "grade_levels": range(MIN_GRADE_LEVEL, MAX_GRADE_LEVEL + 1),
            "error": error,
        },
        status_code=422 if error else 200,
    )


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    start: dt.date
    end: dt.date


def period_presets(terms: list[records.TermView], today: dt.date) -> list[Preset]:
    presets = [Preset(f"term-{i}", t.term, t.start_date, t.end_date) for i, t in enumerate(terms)]
    if terms:
        first = min(t.start_date for t in terms)
        last = max(t.end_date for t in terms)
        if len(terms) > 1:
            presets.append(Preset("all-terms", "All terms", first, last))
    presets.append(Preset("last-30", "Last 30 days", today - dt.timedelta(days=29), today))
    return presets


def _read_period(
    presets: list[Preset], period: str | None, start: str | None, end: str | None
) -> tuple[dt.date | None, dt.date | None]:
    chosen = next((p for p in presets if p.key == period), None)
    if chosen is not None:
        return chosen.start, chosen.end
    first = optional_date(start, "start", "The start date")
    return first, optional_date(end, "end", "The end date")


@router.get("/students/{student_id}")
def student_page(
    request: Request,
    student_id: PathId,
    user: WebUser,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    today: Today,
    ip: ClientIP,
    period: Blank = None,
    start: Blank = None,
    end: Blank = None,
    course_id: Blank = None,
) -> Response:
    """A student's performance report, on screen: the JSON report's figures, drawn."""
    student, enrollments = records.student_detail(session, user, student_id)
    presets = period_presets(records.student_terms(session, user, student_id), today)
    context = {
        "student": student,
        "enrollments": enrollments,
        "presets": presets,
        "course_id": None,
    }
    try:
        first, last = _read_period(presets, period, start, end)
        chosen_course = optional_int(course_id, "course_id", "The course")
        rendered = _audited(
            session,
            cache,
            settings,
            user,
            ReportRequest(student_id, first, last, chosen_course),
            today=today,
            ip=ip,
            attachment=False,
        )
    except InvalidInput as invalid:
        context.update(error=invalid.detail, start=start, end=end, period="custom")
        return page(request, "student.html", context, status_code=422)
    # The page is drawn from the JSON report itself (the same cached bytes the API
    # sends), so its figures cannot drift from the API's.
    report = PerformanceReport.model_validate_json(rendered.body)
    selected = next(
        (p.key for p in presets if (p.start, p.end) == (report.period.start, report.period.end)),
        "custom",
    )
    query = f"start={report.period.start}&end={report.period.end}"
    if chosen_course:
        query += f"&course_id={chosen_course}"
    context.update(
        report=report,
        period=selected,
        start=report.period.start.isoformat(),
        end=report.period.end.isoformat(),
        course_id=chosen_course,
        download_query=query,
        charts=_charts(report),
    )
    return page(request, "student.html", context)


def _audited(
    session: Session,
    cache: Cache,
    settings: Settings,
    user: User,
    request: ReportRequest,
    *,
    today: dt.date,
    ip: str | None,
    attachment: bool,
) -> RenderedReport:
    return reports.audited_report(
        session,
        cache,
        user,
        request,
        channel=Channel.web,
        attachment=attachment,
        ip=ip,
        today=today,
        school_name=settings.school_name,
        ttl_seconds=settings.report_cache_ttl_seconds,
    )


def _charts(report: PerformanceReport) -> dict[str, object]:
    attendance = report.summary.attendance
    return {
        "courses": charts.bar_chart(
            [charts.Bar(c.name, c.average, c.letter or "") for c in report.courses],
            title="Course averages",
        ),
        "trend": charts.line_chart(
            weekly_averages(report),
            title="Weekly average (running)",
            y_label="average %",
            fixed_range=(0.0, 100.0),
        ),
        "attendance": charts.stacked_bar(
            [
                charts.Segment("Present", attendance.present, "present"),
                charts.Segment("Late", attendance.late, "late"),
                charts.Segment("Absent", attendance.absent, "absent"),
                charts.Segment("Excused", attendance.excused, "excused"),
            ],
            title="Attendance",
        ),
    }


@router.get("/students/{student_id}/report.{fmt}")
def report_download(
    student_id: PathId,
    fmt: ReportFormat,
    user: WebUser,
    session: SessionDep,
    cache: CacheDep,
    settings: SettingsDep,
    today: Today,
    ip: ClientIP,
    start: Blank = None,
    end: Blank = None,
    course_id: Blank = None,
) -> Response:
    """The report as a file, exactly as the API sends it."""
    request = ReportRequest(
        student_id,
        optional_date(start, "start", "The start date"),
        optional_date(end, "end", "The end date"),
        optional_int(course_id, "course_id", "The course"),
        fmt,
        # Excel reads a CSV as UTF-8 only when it starts with a byte order mark.
        bom=fmt is ReportFormat.csv,
    )
    rendered = _audited(
        session, cache, settings, user, request, today=today, ip=ip, attachment=True
    )
    return Response(
        rendered.body,
        media_type=rendered.media_type,
        headers={"Content-Disposition": rendered.content_disposition, "Cache-Control": "no-store"},
    )
