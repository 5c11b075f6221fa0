"""Student performance reports: JSON, PDF, CSV and XLSX, and their cache."""

from __future__ import annotations

import datetime as dt
import enum
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from markbook.audit import AuditAction, Channel, record_access
from markbook.cache import Cache
from markbook.deps import (
    AdminUser,
    BearerToken,
    CacheDep,
    ClientIP,
    SettingsDep,
    Today,
    authenticate,
    in_one_thread,
)
from markbook.downloads import content_disposition
from markbook.errors import API_ERRORS
from markbook.reports import bulk, service
from markbook.reports.model import Flag, PerformanceReport, Period
from markbook.reports.service import MEDIA_TYPES, RenderedReport, ReportFormat, ReportRequest
from markbook.schemas import Id, JsonDecimal, PathId, QueryId, Schema
from markbook.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=API_ERRORS)

_DOCUMENTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: JSON, or a download (Content-Disposition: attachment).",
        "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
    }
}


class PerformanceRequest(Schema):
    """The body of the older report API."""

    model_config = ConfigDict(extra="forbid")

    student_id: Id
    start_date: dt.date | None = Field(None, description="First day (inclusive); default: term.")
    end_date: dt.date | None = Field(None, description="Last day (inclusive); default: term.")
    course_id: Id | None = Field(None, description="Only this course.")


class PerformanceDownloadRequest(PerformanceRequest):
    format: ReportFormat = ReportFormat.pdf
    bom: bool = Field(False, description="CSV only: start with a UTF-8 byte order mark.")


class CacheCleared(Schema):
    deleted: int


async def _serve(
    http: Request,
    request: ReportRequest,
    *,
    token: BearerToken,
    cache: Cache,
    settings: Settings,
    ip: str | None,
    today: dt.date,
    attachment: bool,
) -> Response:
    """Sign in, render (or take from the cache) and audit, in one unit of work."""

    def work(session: Session) -> RenderedReport:
        return service.audited_report(
            session,
            cache,
            authenticate(session, token),
            request,
            channel=Channel.api,
            attachment=attachment,
            ip=ip,
            today=today,
            school_name=settings.school_name,
            ttl_seconds=settings.report_cache_ttl_seconds,
        )

    rendered = await in_one_thread(http, work)
    headers = {"X-Cache": "hit" if rendered.cache_hit else "miss"}
    if attachment:
        headers["Content-Disposition"] = rendered.content_disposition
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


# The report routes are `async def` and do their database work through
# `in_one_thread`: a cached report is answered in about the time one trip to the
# thread pool takes, so they make only one.


@router.get(
    "/students/{student_id}/performance",
    response_model=PerformanceReport,
    responses=_DOCUMENTS,
)
async def student_performance(
    http: Request,
    student_id: PathId,
    token: BearerToken,
    cache: CacheDep,
    settings: SettingsDep,
    ip: ClientIP,
    today: Today,
    start: Annotated[dt.date | None, Query(description="First day (inclusive).")] = None,
    end: Annotated[dt.date | None, Query(description="Last day (inclusive).")] = None,
    course_id: Annotated[QueryId, Query(description="Only this course.")] = None,
    format: ReportFormat = ReportFormat.json,
    bom: Annotated[bool, Query(description="CSV: start with a UTF-8 BOM.")] = False,
) -> Response:
    """A student's performance report over a period (default: the current term)."""
    return await _serve(
        http,
        ReportRequest(student_id, start, end, course_id, format, bom),
        token=token,
        cache=cache,
        settings=settings,
        ip=ip,
        today=today,
        attachment=format is not ReportFormat.json,
    )


@router.post("/reports/student-performance", response_model=PerformanceReport)
async def legacy_report(
    http: Request,
    body: PerformanceRequest,
    token: BearerToken,
    cache: CacheDep,
    settings: SettingsDep,
    ip: ClientIP,
    today: Today,
) -> Response:
    """The performance report as JSON (the older API; same report as GET .../performance)."""
    return await _serve(
        http,
        _legacy_request(body, ReportFormat.json, bom=False),
        token=token,
        cache=cache,
        settings=settings,
        ip=ip,
        today=today,
        attachment=False,
    )


@router.post("/reports/student-performance/download", responses=_DOCUMENTS)
async def legacy_download(
    http: Request,
    body: PerformanceDownloadRequest,
    token: BearerToken,
    cache: CacheDep,
    settings: SettingsDep,
    ip: ClientIP,
    today: Today,
) -> Response:
    """The performance report as a file: pdf, csv, json or xlsx (the older API)."""
    return await _serve(
        http,
        _legacy_request(body, body.format, bom=body.bom),
        token=token,
        cache=cache,
        settings=settings,
        ip=ip,
        today=today,
        attachment=True,
    )


def _legacy_request(body: PerformanceRequest, fmt: ReportFormat, *, bom: bool) -> ReportRequest:
    return ReportRequest(
        body.student_id,
        body.start_date,
        body.end_date,
        body.course_id,
        fmt,
        bom,
        start_field="start_date",
        end_field="end_date",
    )


class BulkFormat(enum.StrEnum):
    json = "json"
    csv = "csv"


class BulkPerformanceRequest(Schema):
    """The body of the synchronous bulk report (the older API's field names)."""

    model_config = ConfigDict(extra="forbid")

    student_ids: list[Id] = Field(
        min_length=1,
        max_length=bulk.MAX_JOB_STUDENTS,
        description=f"At most {bulk.MAX_SYNC_STUDENTS} students, answered in this order (each "
        "once); for more, start a report_cards job with POST /api/v1/jobs.",
    )
    start_date: dt.date | None = Field(None, description="First day (inclusive); default: term.")
    end_date: dt.date | None = Field(None, description="Last day (inclusive); default: term.")
    course_id: Id | None = Field(None, description="Only this course.")
    format: BulkFormat = BulkFormat.json
    bom: bool = Field(False, description="CSV only: start with a UTF-8 byte order mark.")


class StudentFiguresResult(Schema):
    """A student whose report was made: its key figures."""

    student_id: int
    success: Literal[True] = True
    name: str
    external_id: str
    grade_level: int
    average: JsonDecimal | None = Field(description="Overall average (credit-weighted).")
    letter: str | None
    gpa: JsonDecimal | None
    attendance_rate: JsonDecimal | None
    completion_rate: JsonDecimal | None
    courses: int = Field(description="Courses in the report.")
    flags: list[Flag]


class StudentFailureResult(Schema):
    """A student without figures: unknown, not one you may see, or their report failed."""

    student_id: int = Field(description="The id as it was asked for.")
    success: Literal[False] = False
    error: str = Field(description="Why, as a sentence.")


class BulkPerformance(Schema):
    period: Period
    total: int = Field(description="Students asked for (each counted once).")
    succeeded: int
    failed: int
    results: list[
        Annotated[StudentFiguresResult | StudentFailureResult, Field(discriminator="success")]
    ]


_BULK_DOCUMENTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figures as JSON, or as a CSV download (one row per student, then "
        "the failed students and why).",
        "content": {"application/json": {}, "text/csv": {}},
    }
}


@router.post(
    "/reports/bulk/student-performance",
    response_model=BulkPerformance,
    responses=_BULK_DOCUMENTS,
)
async def bulk_student_performance(
    http: Request,
    body: BulkPerformanceRequest,
    token: BearerToken,
    ip: ClientIP,
    today: Today,
) -> Response:
    """Key figures of up to 50 students' performance reports, as JSON or CSV (more: a
    report_cards job)."""
    csv = body.format is BulkFormat.csv

    def work(session: Session) -> bulk.StudentFigures:
        user = authenticate(session, token)
        figures = bulk.student_figures(
            session,
            user,
            body.student_ids,
            start=body.start_date,
            end=body.end_date,
            course_id=body.course_id,
            today=today,
        )
        if figures.rows:
            record_access(
                session,
                user,
                AuditAction.download if csv else AuditAction.read,
                Channel.api,
                "performance_report",
                [row.student_id for row in figures.rows],
                ip=ip,
                detail={
                    "start": figures.period.start.isoformat(),
                    "end": figures.period.end.isoformat(),
                    "format": body.format.value,
                    "bulk": True,
                },
            )
        return figures

    figures = await in_one_thread(http, work)
    if csv:
        sink = io.BytesIO()
        bulk.write_summary_csv(sink, figures.rows, figures.failures, bom=body.bom)
        name = f"student-performance_{figures.period.start}_{figures.period.end}.csv"
        return Response(
            sink.getvalue(),
            media_type=MEDIA_TYPES[ReportFormat.csv],
            headers={"Content-Disposition": content_disposition(name, name)},
        )
    return Response(_bulk_answer(figures).model_dump_json(), media_type="application/json")


def _bulk_answer(figures: bulk.StudentFigures) -> BulkPerformance:
    results: list[StudentFiguresResult | StudentFailureResult] = []
    for outcome in figures.outcomes:
        if isinstance(outcome.result, bulk.Failure):
            results.append(
                StudentFailureResult(student_id=outcome.student_id, error=outcome.result.reason)
            )
        else:
            results.append(StudentFiguresResult.model_validate(outcome.result))
    succeeded = sum(isinstance(result, StudentFiguresResult) for result in results)
    return BulkPerformance(
        period=figures.period,
        total=len(results),
        succeeded=succeeded,
        failed=len(results) - succeeded,
        results=results,
    )


@router.delete("/reports/cache/{student_id}", response_model=CacheCleared)
def clear_student_cache(student_id: PathId, _admin: AdminUser, cache: CacheDep) -> CacheCleared:
    """Drop one student's cached reports (admins only)."""
    return CacheCleared(deleted=service.clear_cache(cache, student_id))


@router.delete("/reports/cache", response_model=CacheCleared)
def clear_report_cache(_admin: AdminUser, cache: CacheDep) -> CacheCleared:
    """Drop every cached report (admins only)."""
    return CacheCleared(deleted=service.clear_cache(cache))
