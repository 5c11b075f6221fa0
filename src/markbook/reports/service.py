"""The performance report as every edge asks for it: checked, cached, rendered.

HTTP routes, the CLI and (later) jobs call :func:`student_performance`; it checks
who may see the student, fills in the period, and returns the rendered document,
from the cache when an identical one is there.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import User
from markbook.auth.scope import course_filter, visible_student
from markbook.cache import Cache
from markbook.downloads import ascii_name, content_disposition, file_name
from markbook.errors import InvalidInput, StudentNotFound
from markbook.metrics import REPORT_CACHE
from markbook.records.models import Course, Student
from markbook.reports.model import REPORT_FORMAT_VERSION, PerformanceReport, Period
from markbook.reports.performance import (
    ReportScope,
    performance_report,
    resolve_period,
    scope_for,
)

log = logging.getLogger(__name__)

CACHE_PREFIX = "markbook:report:"


class ReportFormat(enum.StrEnum):
    json = "json"
    pdf = "pdf"
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ReportFormat.json: "application/json",
    ReportFormat.pdf: "application/pdf",
    ReportFormat.csv: "text/csv; charset=utf-8",
    ReportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True, slots=True)
class ReportRequest:
    student_id: int
    start: dt.date | None = None
    end: dt.date | None = None
    course_id: int | None = None
    format: ReportFormat = ReportFormat.json
    bom: bool = False
    # The names the caller used, so an error names the field they sent.
    start_field: str = "start"
    end_field: str = "end"


@dataclass(frozen=True, slots=True)
class RenderedReport:
    body: bytes
    format: ReportFormat
    student: Student
    period: Period
    cache_hit: bool

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def filename(self) -> str:
        """``{student_name}_performance_{start}_{end}.{ext}``, in the student's script."""
        return file_name(f"{self.student.name}_performance_{self._dates}.{self.format}")

    @property
    def ascii_filename(self) -> str:
        name = ascii_name(self.student.name) or f"student-{self.student.id}"
        return f"{name}_performance_{self._dates}.{self.format}"

    @property
    def content_disposition(self) -> str:
        return content_disposition(self.filename, self.ascii_filename)

    @property
    def _dates(self) -> str:
        return f"{self.period.start}_{self.period.end}"


def student_performance(
    session: Session,
    cache: Cache,
    user: User | None,
    request: ReportRequest,
    *,
    today: dt.date,
    school_name: str,
    ttl_seconds: int,
) -> RenderedReport:
    """The report ``request`` asks for, as ``user`` may see it (``None``: the operator
    at the command line, who sees everything)."""
    student = _student(session, user, request.student_id)
    if request.course_id is not None:
        _check_course(session, user, request.course_id)
    period = _period(session, request, today)
    scope = scope_for(user, request.course_id) if user else ReportScope(course_id=request.course_id)
    key = cache_key(student, period, scope, request, school_name)
    cached = cache.get(key) if ttl_seconds else None
    REPORT_CACHE.labels("hit" if cached else "miss", request.format).inc()
    if cached is not None:
        log.debug("report cache hit %s", key)
        return RenderedReport(cached, request.format, student, period, cache_hit=True)
    log.debug("report cache miss %s", key)
    report = performance_report(session, student, period.start, period.end, scope=scope)
    body = render(report, request.format, school_name=school_name, bom=request.bom)
    if ttl_seconds:
        cache.set(key, body, ttl_seconds)
    return RenderedReport(body, request.format, student, period, cache_hit=False)


def audited_report(
    session: Session,
    cache: Cache,
    user: User,
    request: ReportRequest,
    *,
    channel: Channel,
    attachment: bool,
    ip: str | None,
    today: dt.date,
    school_name: str,
    ttl_seconds: int,
) -> RenderedReport:
    """:func:`student_performance`, with the read (or the download) in the audit trail:
    what every edge that shows a report to a person calls."""
    rendered = student_performance(
        session,
        cache,
        user,
        request,
        today=today,
        school_name=school_name,
        ttl_seconds=ttl_seconds,
    )
    record_access(
        session,
        user,
        AuditAction.download if attachment else AuditAction.read,
        channel,
        "performance_report",
        [rendered.student.id],
        ip=ip,
        detail={
            "start": rendered.period.start.isoformat(),
            "end": rendered.period.end.isoformat(),
            "format": rendered.format.value,
        },
    )
    return rendered


def render(
    report: PerformanceReport, fmt: ReportFormat, *, school_name: str, bom: bool = False
) -> bytes:
    """One view of the report: the same object gives the JSON and every document."""
    # Imported when first needed: ReportLab and XlsxWriter take a while to import,
    # and a JSON answer (or `markbook report` to stdout) needs neither.
    from markbook.reports.pdf import render_pdf
    from markbook.reports.tables import render_csv, render_xlsx

    if fmt is ReportFormat.pdf:
        return render_pdf(report, school_name=school_name)
    if fmt is ReportFormat.csv:
        return render_csv(report, bom=bom)
    if fmt is ReportFormat.xlsx:
        return render_xlsx(report)
    return report.model_dump_json().encode()


def cache_key(
    student: Student,
    period: Period,
    scope: ReportScope,
    request: ReportRequest,
    school_name: str,
) -> str:
    """Every input that changes the bytes: the student and their data version, the
    period, whose view (a teacher's is narrower), the format and its options, and
    the report format's version. The student comes first so that one student's
    entries can be cleared by prefix."""
    options = ""
    if request.format is ReportFormat.pdf:
        options = hashlib.sha256(school_name.encode()).hexdigest()[:12]
    elif request.format is ReportFormat.csv and request.bom:
        options = "bom"
    return (
        f"{student_prefix(student.id)}v{REPORT_FORMAT_VERSION}:d{student.data_version}:"
        f"{period.start}:{period.end}:{scope.key}:{request.format}:{options}"
    )


def student_prefix(student_id: int) -> str:
    return f"{CACHE_PREFIX}s{student_id}:"


def clear_cache(cache: Cache, student_id: int | None = None) -> int:
    """Drop cached reports: one student's, or everyone's. Returns how many went."""
    return cache.delete_prefix(student_prefix(student_id) if student_id else CACHE_PREFIX)


def find_student(session: Session, reference: str) -> Student:
    """A student by database id or SIS id (the CLI's way of naming one)."""
    student = session.execute(
        select(Student).where(Student.external_id == reference)
    ).scalar_one_or_none()
    if student is None and reference.isdigit():
        student = session.get(Student, int(reference))
    if student is None:
        raise StudentNotFound(reference)
    return student


def _student(session: Session, user: User | None, student_id: int) -> Student:
    if user is not None:
        return visible_student(session, user, student_id)
    student = session.get(Student, student_id)
    if student is None:
        raise StudentNotFound(student_id)
    return student


def _check_course(session: Session, user: User | None, course_id: int) -> None:
    query = select(Course.id).where(Course.id == course_id)
    if user is not None:
        query = query.where(course_filter(user, Course.id))
    if session.execute(query).first() is None:
        raise InvalidInput(
            f"There is no course {course_id} that you may see: leave course_id out for "
            "every course, or pick one from GET /api/v1/courses.",
            errors=[{"field": "course_id", "message": f"unknown course {course_id}"}],
        )


def _period(session: Session, request: ReportRequest, today: dt.date) -> Period:
    try:
        return resolve_period(session, request.start, request.end, today)
    except InvalidInput as error:
        # Name the fields as this caller sent them (start_date in the older API).
        renamed = {"start": request.start_field, "end": request.end_field}
        raise InvalidInput(
            error.detail,
            errors=[
                {**item, "field": renamed.get(item["field"], item["field"])}
                for item in error.errors or []
            ],
        ) from None
