"""Pages: report cards for many students, my jobs, and one job (live progress over
Server-Sent Events, its file, a share link, cancel). The exports page is in
:mod:`markbook.web.exports`, included here.

Jobs are started, followed, downloaded and shared with the same service functions
and the same helpers as the API's routes (:mod:`markbook.jobs.routes`), so a job
looks the same on a page as in ``GET /api/v1/jobs/{id}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import Channel
from markbook.auth.models import User
from markbook.auth.scope import visible_course
from markbook.deps import ClientIP, SessionDep, SettingsDep, Today, in_one_thread
from markbook.errors import Conflict, InvalidInput, MarkbookError
from markbook.jobs import routes as api
from markbook.jobs import service
from markbook.jobs.models import ExportJob, JobKind
from markbook.jobs.service import ReportCardsJobRequest
from markbook.records.models import MAX_GRADE_LEVEL, MIN_GRADE_LEVEL, Course
from markbook.reports.bulk import CardFormat
from markbook.reports.performance import default_period
from markbook.web import exports
from markbook.web.exports import invalid_input, page_sentence, signed_in, student_choices
from markbook.web.forms import optional_date, optional_int
from markbook.web.session import FormUser, WebUser, safe_next
from markbook.web.students import course_choices
from markbook.web.templating import page

router = APIRouter(include_in_schema=False)
router.include_router(exports.router)

PER_PAGE = 25

CARD_FORMATS = {
    CardFormat.pdf_zip: "A zip of PDFs: one per student, with a summary CSV",
    CardFormat.pdf: "One PDF with a bookmark per student",
    CardFormat.xlsx: "Excel summary (XLSX)",
    CardFormat.csv: "CSV summary",
}
# A report-cards job's file, in a job's name.
CARD_FILES = {
    CardFormat.pdf_zip.value: "PDFs in a zip",
    CardFormat.pdf.value: "one PDF",
    CardFormat.xlsx.value: "XLSX",
    CardFormat.csv.value: "CSV",
}
SELECTIONS = {
    "students": "Students I choose",
    "course": "Every student of a course",
    "grade_level": "Every student of a grade level",
}
KIND_LABELS: dict[str, str] = {
    JobKind.export.value: "Export",
    JobKind.workbook.value: "Workbook",
    JobKind.report_cards.value: "Report cards",
}

FormValue = Annotated[str, Form(max_length=40)]


# --- report cards -------------------------------------------------------------------


def _report_cards_page(
    request: Request,
    session: Session,
    user: User,
    today: dt.date,
    ip: str | None,
    choices: dict[str, Any] | None = None,
    error: MarkbookError | None = None,
) -> Response:
    students, total = student_choices(session, user, ip)
    term = default_period(session, today)
    chosen = {
        "selection": "students",
        "student_ids": [],
        "course_id": "",
        "grade_level": "",
        "start": "",
        "end": "",
        "format": CardFormat.pdf_zip.value,
        **(choices or {}),
    }
    message = page_sentence(error.detail) if error is not None else None
    return page(
        request,
        "report_cards.html",
        {
            "students": students,
            "student_total": total,
            "max_students": exports.MAX_STUDENT_CHOICES,
            "courses": course_choices(session, user),
            "grade_levels": range(MIN_GRADE_LEVEL, MAX_GRADE_LEVEL + 1),
            "formats": CARD_FORMATS,
            "selections": SELECTIONS,
            "term": term,
            "chosen": chosen,
            "error": message,
        },
        status_code=error.status if error is not None else 200,
    )


@router.get("/report-cards")
def report_cards_page(
    request: Request, user: WebUser, session: SessionDep, today: Today, ip: ClientIP
) -> Response:
    """Choose whose report cards to make, over which period, as which file."""
    return _report_cards_page(request, session, user, today, ip)


def _card_request(chosen: dict[str, Any]) -> ReportCardsJobRequest:
    selection = chosen["selection"]
    values: dict[str, Any] = {"kind": "report_cards"}
    if selection == "students":
        ids = [optional_int(v, "student_ids", "A student id") for v in chosen["student_ids"]]
        values["student_ids"] = [i for i in ids if i is not None]
        if not values["student_ids"]:
            raise InvalidInput(
                "Choose at least one student, or choose by course or grade level.",
                errors=[{"field": "student_ids", "message": "choose at least one student"}],
            )
    elif selection == "course":
        values["course_id"] = optional_int(chosen["course_id"], "course_id", "The course")
        if values["course_id"] is None:
            raise InvalidInput(
                "Choose a course.", errors=[{"field": "course_id", "message": "choose a course"}]
            )
    elif selection == "grade_level":
        level = optional_int(chosen["grade_level"], "grade_level", "The grade level")
        if level is None:
            raise InvalidInput(
                "Choose a grade level.",
                errors=[{"field": "grade_level", "message": "choose a grade level"}],
            )
        values["grade_level"] = level
    else:
        raise InvalidInput(
            "Choose whose report cards to make: students, a course or a grade level.",
            errors=[{"field": "selection", "message": "choose one"}],
        )
    values["start"] = optional_date(chosen["start"], "start", "The start date")
    values["end"] = optional_date(chosen["end"], "end", "The end date")
    if chosen["format"] not in CARD_FORMATS:
        raise InvalidInput(
            f"There is no report-card format {chosen['format']!r}; choose one from the list.",
            errors=[{"field": "format", "message": "choose a format"}],
        )
    values["format"] = chosen["format"]
    try:
        return ReportCardsJobRequest.model_validate(values)
    except ValidationError as error:
        raise invalid_input(error) from None


@router.post("/report-cards")
def start_report_cards(
    request: Request,
    user: FormUser,
    session: SessionDep,
    settings: SettingsDep,
    today: Today,
    ip: ClientIP,
    selection: FormValue = "students",
    student_ids: Annotated[list[str] | None, Form(max_length=20_000)] = None,
    course_id: FormValue = "",
    grade_level: FormValue = "",
    start: FormValue = "",
    end: FormValue = "",
    format: FormValue = CardFormat.pdf_zip.value,
) -> Response:
    """Start a report_cards job and go to its page."""
    chosen: dict[str, Any] = {
        "selection": selection,
        "student_ids": student_ids or [],
        "course_id": course_id,
        "grade_level": grade_level,
        "start": start,
        "end": end,
        "format": format,
    }
    try:
        cards = _card_request(chosen)
        if cards.course_id is not None and cards.start is None and cards.end is None:
            # A course's report cards cover that course's term unless dates are given
            # (the current term may be one in which the course does not run).
            course = visible_course(session, user, cards.course_id)
            cards = cards.model_copy(update={"start": course.start_date, "end": course.end_date})
        created = service.create_job(
            session, settings, request.app.state.engine, user, cards, today=today
        )
    except MarkbookError as error:
        session.rollback()
        return _report_cards_page(request, session, user, today, ip, chosen, error)
    # Queued after the commit, as the API does: a worker never looks for a job
    # that is not there yet.
    session.commit()
    if created.created:
        request.app.state.jobs.submit(created.job.id)
    return RedirectResponse(f"/jobs/{created.job.id}", status_code=303)


# --- my jobs ------------------------------------------------------------------------


def describe(job: ExportJob, course_names: dict[int, str] | None = None) -> str:
    """A job in a few words: what it makes, of what, as which file."""
    params = job.params or {}
    kind = KIND_LABELS.get(job.kind, job.kind)
    if job.kind == JobKind.export:
        dataset = str(params.get("dataset", "")).replace("_", " ")
        return f"{kind} of {dataset} · {str(params.get('format', '')).upper()}"
    if job.kind == JobKind.workbook:
        sheets = params.get("sheets") or []
        return f"{kind} · {len(sheets)} sheet{'' if len(sheets) == 1 else 's'}"
    whose = "students"
    if params.get("grade_level") is not None:
        whose = f"grade {params['grade_level']}"
    elif params.get("course_id") is not None:
        course_id = int(params["course_id"])
        whose = (course_names or {}).get(course_id, f"course {course_id}")
    elif params.get("student_ids"):
        count = len(params["student_ids"])
        whose = f"{count} student{'' if count == 1 else 's'}"
    file = str(params.get("format", ""))
    return f"{kind} · {whose} · {CARD_FILES.get(file, file)}"


def _course_names(session: Session, jobs: Sequence[ExportJob]) -> dict[int, str]:
    ids = {
        int(job.params["course_id"])
        for job in jobs
        if job.kind == JobKind.report_cards and (job.params or {}).get("course_id") is not None
    }
    if not ids:
        return {}
    rows = session.execute(select(Course.id, Course.name).where(Course.id.in_(ids)))
    return {course_id: name for course_id, name in rows}


def eta_text(seconds: float | None) -> str:
    """Time left as the page's script writes it."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min {whole % 60} s"
    return f"{minutes // 60} h {minutes % 60} min"


@router.get("/jobs")
def jobs_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """The jobs you started, newest first."""
    found, total = service.list_jobs(
        session, user, limit=PER_PAGE, offset=(page_number - 1) * PER_PAGE, mine_only=True
    )
    names = _course_names(session, found)
    rows = [
        {"job": job, "out": api.job_out(job, request), "label": describe(job, names)}
        for job in found
    ]
    return page(
        request,
        "jobs.html",
        {
            "rows": rows,
            "total": total,
            "page_number": page_number,
            "pages": max(1, -(-total // PER_PAGE)),
            "active": [s.value for s in service.ACTIVE],
        },
    )


def _job_page(
    request: Request,
    session: Session,
    job: ExportJob,
    *,
    link: api.LinkOut | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    out = api.job_out(job, request)
    result = job.result or {}
    return page(
        request,
        "job.html",
        {
            "job": job,
            "out": out,
            "label": describe(job, _course_names(session, [job])),
            "unit": "students" if job.kind == JobKind.report_cards else "rows",
            "eta": eta_text(out.eta_seconds),
            "active": out.status in service.ACTIVE,
            "result": result,
            "failures": result.get("failures") or [],
            "link": link,
            "error": error,
            "params": _shown_params(job),
        },
        status_code=status_code,
    )


def _shown_params(job: ExportJob) -> list[tuple[str, str]]:
    """The job's parameters, as a list of (label, value) to show."""
    shown: list[tuple[str, str]] = []
    params = dict(job.params or {})
    spec = params.pop("spec", None) or {}
    for key, value in [*params.items(), *spec.items()]:
        if value in (None, [], "", {}) or key in ("sheets",):
            continue
        if isinstance(value, list):
            text = ", ".join(str(item) for item in value[:20])
            if len(value) > 20:
                text += f" … ({len(value)} in all)"
        else:
            text = str(value)
        shown.append((key.replace("_", " "), text))
    return shown


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, user: WebUser, session: SessionDep) -> Response:
    """A job's state, progress (live while it runs), failures and file."""
    return _job_page(request, session, service.visible_job(session, user, job_id))


async def _web_job(request: Request, job_id: str) -> ExportJob:
    """The job, if the signed-in user may see it (for the event stream: no session
    is held while it runs)."""

    def work(session: Session) -> ExportJob:
        return service.visible_job(session, signed_in(request, session), job_id)

    return await in_one_thread(request, work)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events_page(
    request: Request, job: Annotated[ExportJob, Depends(_web_job)]
) -> AsyncIterator[ServerSentEvent]:
    """The job's progress as Server-Sent Events (the API's stream, signed in by cookie)."""
    async for event in api.job_event_stream(request, job):
        yield event


@router.get("/jobs/{job_id}/download")
def job_download(
    request: Request,
    job_id: str,
    user: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIP,
) -> Response:
    """The finished job's file."""
    job = service.visible_job(session, user, job_id)
    try:
        api.serve_download(session, settings, job, user, ip, "owner", Channel.web)
    except MarkbookError as error:
        return _job_page(
            request, session, job, error=page_sentence(error.detail), status_code=error.status
        )
    return api.file_response(job)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    request: Request,
    job_id: str,
    user: FormUser,
    session: SessionDep,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Cancel a queued or running job, then back to the page the button was on."""
    job = service.visible_job(session, user, job_id)
    try:
        service.cancel_job(session, job)
    except Conflict as conflict:
        return _job_page(
            request, session, job, error=page_sentence(conflict.detail), status_code=409
        )
    return RedirectResponse(safe_next(next, f"/jobs/{job.id}"), status_code=303)


@router.post("/jobs/{job_id}/link")
def share_link(
    request: Request, job_id: str, user: FormUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """Make a link that downloads the file without signing in, and show it."""
    job = service.visible_job(session, user, job_id)
    try:
        service.downloadable(job, settings)
    except MarkbookError as error:
        return _job_page(
            request, session, job, error=page_sentence(error.detail), status_code=error.status
        )
    return _job_page(request, session, job, link=api.make_share_link(request, settings, job))
