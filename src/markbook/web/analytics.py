"""Pages: the courses list, one course's class analytics, and its export."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.scope import visible_course
from markbook.deps import ClientIP, SessionDep, SettingsDep, Today
from markbook.errors import InvalidInput
from markbook.exports import service as exports
from markbook.exports.routes import download_response
from markbook.exports.spec import ExportFormat
from markbook.records import service as records
from markbook.records.models import Course
from markbook.reports import class_analytics
from markbook.schemas import PathId
from markbook.web import charts
from markbook.web.forms import optional_date
from markbook.web.session import WebUser
from markbook.web.students import course_choices
from markbook.web.templating import page

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
RESOURCE = "class_analytics"

Blank = Annotated[str | None, Query(max_length=40)]
TermText = Annotated[str | None, Query(max_length=100)]


class DownloadFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@router.get("/courses")
def courses_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    term: TermText = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """The courses you may see, a term at a time if you like, each linking to its analytics."""
    terms = sorted({view.course.term for view in course_choices(session, user)}, reverse=True)
    chosen = term.strip() if term and term.strip() else None
    views, total = records.search_courses(
        session, user, term=chosen, page=records.PageRequest(page_number, PER_PAGE)
    )
    return page(
        request,
        "courses.html",
        {
            "courses": views,
            "total": total,
            "terms": terms,
            "term": chosen or "",
            "page_number": page_number,
            "pages": max(1, -(-total // PER_PAGE)),
        },
    )


def _period(
    course: Course, today: dt.date, start: str | None, end: str | None
) -> tuple[dt.date, dt.date]:
    """The period asked for; a blank date is the default period's."""
    default_start, default_end = class_analytics.default_period(course, today)
    first = optional_date(start, "start", "The start date") or default_start
    last = optional_date(end, "end", "The end date") or default_end
    class_analytics.check_period(first, last)
    return first, last


@router.get("/courses/{course_id}")
def course_page(
    request: Request,
    course_id: PathId,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    today: Today,
    ip: ClientIP,
    start: Blank = None,
    end: Blank = None,
) -> Response:
    """Each learning-analytics metric's weekly mean over the course, drawn and tabled."""
    view, roster, _ = records.course_detail(session, user, course_id)
    context: dict[str, object] = {"view": view, "course": view.course, "roster": len(roster)}
    try:
        first, last = _period(view.course, today, start, end)
        figures = class_analytics.weekly_figures(session, settings, user, view.course, first, last)
    except InvalidInput as invalid:
        context.update(error=invalid.detail, start=start or "", end=end or "")
        return page(request, "course.html", context, status_code=422)
    record_access(
        session,
        user,
        AuditAction.read,
        Channel.web,
        RESOURCE,
        list(figures.student_ids) or None,
        ip=ip,
        detail={"course_id": course_id, "start": first.isoformat(), "end": last.isoformat()},
    )
    context.update(
        figures=figures,
        start=first.isoformat(),
        end=last.isoformat(),
        download_query=f"start={first.isoformat()}&end={last.isoformat()}",
        charts=_charts(figures),
    )
    return page(request, "course.html", context)


def _charts(figures: class_analytics.ClassAnalytics) -> dict[str, Markup]:
    return {
        metric.metric_type: charts.line_chart(
            metric.points(),
            title=f"{metric.label}: weekly mean",
            y_label=f"mean {metric.label}",
        )
        for metric in figures.metrics
    }


@router.get("/courses/{course_id}/analytics.{fmt}")
def analytics_download(
    request: Request,
    course_id: PathId,
    fmt: DownloadFormat,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    today: Today,
    ip: ClientIP,
    start: Blank = None,
    end: Blank = None,
) -> Response:
    """The page's figures as a file: the class_analytics export, weekly, for this course."""
    course = visible_course(session, user, course_id)
    first, last = _period(course, today, start, end)
    export = exports.prepare(
        settings,
        request.app.state.engine,
        user,
        class_analytics.DATASET,
        ExportFormat(fmt.value),
        class_analytics.export_spec(course.id, first, last),
        on_done=exports.auditor(
            request.app.state.sessionmaker,
            user,
            Channel.web,
            ip=ip,
            detail={
                "format": fmt.value,
                "course_id": course_id,
                "start": first.isoformat(),
                "end": last.isoformat(),
            },
        ),
    )
    return download_response(export)
