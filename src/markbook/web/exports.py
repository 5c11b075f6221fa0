"""Page: export a dataset, as a file now or as a background job.

The form posts (with its CSRF token) to ``POST /exports``: "Start as a job" queues an
export job and goes to its page; "Download now" checks the choices and sends the
browser on to ``GET /exports/{dataset}.{fmt}?...``, which streams the file exactly
as the API's export route does (signed in by the session cookie, audited as web).
The download route also takes the form's fields straight from a query string, so a
download can be bookmarked. A choice that cannot be exported comes back as the page
with a sentence saying why and the choices kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from markbook.audit import Channel
from markbook.auth.models import Role, User
from markbook.auth.scope import student_filter
from markbook.deps import ClientIP, SessionDep, SettingsDep, Today, in_one_thread
from markbook.errors import InvalidInput, MarkbookError
from markbook.exports import service as exports
from markbook.exports.datasets import DATASETS, Dataset, Scope
from markbook.exports.routes import download_response
from markbook.exports.spec import MAX_LIST, ExportFormat, ExportSpec
from markbook.exports.writers.cells import DateStyle
from markbook.jobs import service as jobs
from markbook.records import service as records
from markbook.records.models import AnalyticsData, Student
from markbook.web.forms import optional_date, optional_int
from markbook.web.session import FormUser, SignInRequired, WebUser, user_of
from markbook.web.students import audit_listed, course_choices
from markbook.web.templating import page

router = APIRouter(include_in_schema=False)

# The longest list of students a picker shows; more are narrowed by course instead.
MAX_STUDENT_CHOICES = 500
MAX_METRIC_CHOICES = 200
# "(GET /api/v1/... lists them)": an aside for API callers, left out of a page's sentence.
_API_ASIDE = re.compile(r" \((?:GET|POST) /api/v1/[^)]*\)")

FORMAT_LABELS = {
    ExportFormat.csv: "CSV",
    ExportFormat.xlsx: "Excel (XLSX)",
    ExportFormat.ndjson: "NDJSON (one JSON object a line)",
    ExportFormat.json: "JSON",
    ExportFormat.parquet: "Parquet",
}
DATE_STYLE_LABELS = {
    DateStyle.ISO: "ISO: 2024-01-15",
    DateStyle.US: "US: 01/15/2024",
    DateStyle.EU: "European: 15.01.2024",
    DateStyle.FULL: "Full: 2024-01-15 14:30:45",
}
DELIMITER_LABELS = {
    "comma": "Comma ( , )",
    "semicolon": "Semicolon ( ; )",
    "tab": "Tab",
    "pipe": "Pipe ( | )",
}
# How a field of the form is named in a sentence.
FIELD_LABELS = {
    "columns": "Columns",
    "student_ids": "Students",
    "course_ids": "Courses",
    "metric_types": "Metric types",
    "start": "From",
    "end": "To",
    "date_format": "Date format",
    "delimiter": "Delimiter",
    "encoding": "Byte order mark",
    "format": "Format",
    "dataset": "Dataset",
    "chart": "Chart",
    "weekly": "Weekly rows",
    "compress": "Compression",
    "filter": "Filter",
    "grade_level": "Grade level",
    "course_id": "Course",
}

FormValue = Annotated[str, Form(max_length=64)]
FormList = Annotated[list[str] | None, Form(max_length=MAX_LIST)]
QueryValue = Annotated[str | None, Query(max_length=64)]
QueryList = Annotated[list[str] | None, Query(max_length=MAX_LIST)]


def invalid_input(error: ValidationError, labels: Mapping[str, str] = FIELD_LABELS) -> InvalidInput:
    """A model's validation errors as one sentence a person can act on."""
    problems: list[dict[str, str]] = []
    for item in error.errors(include_url=False):
        names = [str(part) for part in item["loc"] if not isinstance(part, int)]
        name = names[-1] if names else ""
        message = str(item["msg"])
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append({"field": name or "form", "message": message})
    shown = "; ".join(
        f"{labels.get(p['field'], p['field'])}: {p['message']}"
        if p["field"] != "form"
        else p["message"]
        for p in problems[:5]
    )
    return InvalidInput(f"Some choices need fixing. {shown}.", errors=problems)


def is_admin(user: User) -> bool:
    return Role(user.role) is Role.admin


def visible_datasets(user: User) -> list[Dataset]:
    """The datasets ``user`` may export: admin-only ones for administrators only."""
    return [d for d in DATASETS.values() if is_admin(user) or not d.admin_only]


@dataclass
class ExportChoices:
    """What the form says, as sent: kept to draw the form again after an error."""

    dataset: str = ""
    format: str = ExportFormat.csv.value
    columns: list[str] | None = None  # None: the dataset's default columns
    course_ids: list[str] = field(default_factory=list)
    student_ids: list[str] = field(default_factory=list)
    metric_types: list[str] = field(default_factory=list)
    start: str = ""
    end: str = ""
    date_format: str = DateStyle.ISO.value
    delimiter: str = "comma"
    bom: bool = True
    weekly: bool = False
    chart: bool = False

    def query(self) -> str:
        """The choices as the download route's query string."""
        pairs: list[tuple[str, str]] = [("columns", name) for name in self.columns or []]
        pairs += [("course_ids", value) for value in self.course_ids]
        pairs += [("student_ids", value) for value in self.student_ids]
        pairs += [("metric_types", value) for value in self.metric_types]
        pairs += [(name, getattr(self, name)) for name in ("start", "end") if getattr(self, name)]
        pairs += [("date_format", self.date_format), ("delimiter", self.delimiter)]
        pairs += [(name, "1") for name in ("bom", "weekly", "chart") if getattr(self, name)]
        return urlencode(pairs)


def export_format(value: str) -> ExportFormat:
    try:
        return ExportFormat(value.strip().lower())
    except ValueError:
        names = ", ".join(fmt.value for fmt in ExportFormat)
        raise InvalidInput(
            f"There is no export format {value!r}; choose one of {names}.",
            errors=[{"field": "format", "message": f"must be one of {names}"}],
        ) from None


def _ids(values: Sequence[str], name: str, label: str) -> list[int] | None:
    chosen = [optional_int(value, name, label) for value in values]
    ids = [value for value in chosen if value is not None]
    return ids or None


def export_spec(choices: ExportChoices, *, require_columns: bool = False) -> ExportSpec:
    """The spec the choices describe; an InvalidInput says what is wrong with them."""
    if require_columns and not choices.columns:
        raise InvalidInput(
            "Tick at least one column to export.",
            errors=[{"field": "columns", "message": "tick at least one column"}],
        )
    values: dict[str, Any] = {
        "columns": choices.columns or None,
        "course_ids": _ids(choices.course_ids, "course_ids", "A course id"),
        "student_ids": _ids(choices.student_ids, "student_ids", "A student id"),
        "metric_types": [m for m in choices.metric_types if m.strip()] or None,
        "start": optional_date(choices.start, "start", "The start date"),
        "end": optional_date(choices.end, "end", "The end date"),
        "date_format": choices.date_format,
        "delimiter": choices.delimiter,
        "encoding": "utf-8-sig" if choices.bom else "utf-8",
        "weekly": choices.weekly,
        "chart": choices.chart,
    }
    try:
        return ExportSpec.model_validate(values)
    except ValidationError as error:
        raise invalid_input(error) from None


def metric_type_choices(session: Session, user: User) -> list[str]:
    """The metric types recorded for students ``user`` may see."""
    rows = session.execute(
        select(AnalyticsData.metric_type)
        .where(student_filter(user, AnalyticsData.student_id))
        .distinct()
        .order_by(AnalyticsData.metric_type)
        .limit(MAX_METRIC_CHOICES)
    ).scalars()
    return list(rows)


def student_choices(session: Session, user: User, ip: str | None) -> tuple[list[Student], int]:
    """Up to :data:`MAX_STUDENT_CHOICES` students ``user`` may see, by name, and how
    many there are; the names shown are in the audit trail, as on the students page."""
    students, total = records.search_students(
        session, user, page=records.PageRequest(1, MAX_STUDENT_CHOICES)
    )
    audit_listed(session, user, students, ip)
    return students, total


def exports_context(
    session: Session,
    user: User,
    choices: ExportChoices | None,
    *,
    ip: str | None,
    error: MarkbookError | None = None,
) -> dict[str, Any]:
    """What exports.html draws: the chosen dataset's form, with ``choices`` kept."""
    datasets = visible_datasets(user)
    message = page_sentence(error.detail) if error is not None else None
    dataset = DATASETS.get(choices.dataset) if choices and choices.dataset else datasets[0]
    if dataset is None or dataset not in datasets:
        assert choices is not None
        message = message or (
            f"There is no dataset {choices.dataset!r} that you may export; choose one from "
            "the list."
        )
        dataset, choices = datasets[0], None
    if choices is None or choices.columns is None:
        checked = list(dataset.default_columns(Scope(user=user)))
    else:
        checked = list(choices.columns)
    courses = course_choices(session, user) if "course_ids" in dataset.accepts else []
    students: list[Student] = []
    student_total = 0
    if "student_ids" in dataset.accepts:
        students, student_total = student_choices(session, user, ip)
    metrics = metric_type_choices(session, user) if "metric_types" in dataset.accepts else []
    date_label = None
    if dataset.date_column is not None:
        # Not always one of the file's columns (class_analytics counts values by theirs).
        column = dataset.by_name.get(dataset.date_column)
        date_label = column.label if column else dataset.date_column.replace("_", " ")
    return {
        "datasets": datasets,
        "dataset": dataset,
        "choices": choices or ExportChoices(dataset=dataset.name),
        "checked": checked,
        "courses": courses,
        "students": students,
        "student_total": student_total,
        "max_students": MAX_STUDENT_CHOICES,
        "metric_types": metrics,
        "date_label": date_label,
        "formats": FORMAT_LABELS,
        "date_styles": DATE_STYLE_LABELS,
        "delimiters": DELIMITER_LABELS,
        "error": message,
        "error_fields": [e.get("field") for e in (error.errors or [])] if error else [],
    }


def page_sentence(detail: str) -> str:
    """A service's sentence for a page: it points API callers at API routes, and a
    page has its own lists and links."""
    detail = detail.replace(
        " Check the id, or list the courses you may see with GET /api/v1/courses.",
        " Choose one from the list.",
    ).replace(" list yours with GET /api/v1/courses.", " choose one from the list.")
    return _API_ASIDE.sub("", detail)


@router.get("/exports")
def exports_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    ip: ClientIP,
    dataset: QueryValue = None,
) -> Response:
    """Choose a dataset, its columns, filters and file options."""
    choices = ExportChoices(dataset=dataset) if dataset else None
    context = exports_context(session, user, choices, ip=ip)
    return page(request, "exports.html", context, status_code=404 if context["error"] else 200)


@router.post("/exports")
def start_export(
    request: Request,
    user: FormUser,
    session: SessionDep,
    settings: SettingsDep,
    today: Today,
    ip: ClientIP,
    dataset: FormValue = "",
    format: FormValue = ExportFormat.csv.value,
    columns: FormList = None,
    course_ids: FormList = None,
    student_ids: FormList = None,
    metric_types: FormList = None,
    start: FormValue = "",
    end: FormValue = "",
    date_format: FormValue = DateStyle.ISO.value,
    delimiter: FormValue = "comma",
    bom: FormValue = "",
    weekly: FormValue = "",
    chart: FormValue = "",
    action: FormValue = "job",
) -> Response:
    """Start the export as a job (then its page), or check it and download it now."""
    choices = ExportChoices(
        dataset=dataset,
        format=format,
        columns=columns or [],
        course_ids=course_ids or [],
        student_ids=student_ids or [],
        metric_types=metric_types or [],
        start=start,
        end=end,
        date_format=date_format,
        delimiter=delimiter,
        bom=bool(bom),
        weekly=bool(weekly),
        chart=bool(chart),
    )
    engine = request.app.state.engine
    try:
        fmt = export_format(format)
        spec = export_spec(choices, require_columns=True)
        if action == "download":
            # Checked here too, so a mistake comes back as this page, not a broken file.
            exports.plan_for(settings, engine, user, dataset, fmt, spec)
            target = f"/exports/{dataset}.{fmt.value}?{choices.query()}"
            return RedirectResponse(target, status_code=303)
        try:
            job_request = jobs.ExportJobRequest(
                kind="export", dataset=dataset, format=fmt, spec=spec
            )
        except ValidationError as error:
            raise invalid_input(error) from None
        created = jobs.create_job(session, settings, engine, user, job_request, today=today)
    except MarkbookError as error:
        session.rollback()
        context = exports_context(session, user, choices, ip=ip, error=error)
        return page(request, "exports.html", context, status_code=error.status)
    # Queued after the commit, as the API does: a worker never looks for a job
    # that is not there yet.
    session.commit()
    if created.created:
        request.app.state.jobs.submit(created.job.id)
    return RedirectResponse(f"/jobs/{created.job.id}", status_code=303)


def signed_in(request: Request, session: Session) -> User:
    user = user_of(request, session)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return user


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false", "off", "no")


@router.get("/exports/{dataset}.{fmt}")
async def download_export(
    request: Request,
    dataset: str,
    fmt: str,
    settings: SettingsDep,
    ip: ClientIP,
    columns: QueryList = None,
    course_ids: QueryList = None,
    student_ids: QueryList = None,
    metric_types: QueryList = None,
    start: QueryValue = None,
    end: QueryValue = None,
    date_format: QueryValue = None,
    delimiter: QueryValue = None,
    bom: QueryValue = None,
    encoding: QueryValue = None,
    weekly: QueryValue = None,
    chart: QueryValue = None,
) -> Response:
    """The export as a file, streamed as it is made (as GET /api/v1/exports/... does).

    Takes the exports form's fields; ``encoding`` (utf-8 or utf-8-sig) may stand in
    for the ``bom`` checkbox."""
    # Signed in and committed first: an export can take seconds, and the request
    # must not hold a database session (SQLite's lock) meanwhile.
    user = await in_one_thread(request, lambda session: signed_in(request, session))
    choices = ExportChoices(
        dataset=dataset,
        format=fmt,
        columns=[c for c in columns or [] if c.strip()] or None,
        course_ids=course_ids or [],
        student_ids=student_ids or [],
        metric_types=metric_types or [],
        start=start or "",
        end=end or "",
        date_format=date_format or DateStyle.ISO.value,
        delimiter=delimiter or "comma",
        bom=encoding == "utf-8-sig" if encoding else _flag(bom),
        weekly=_flag(weekly),
        chart=_flag(chart),
    )
    try:
        chosen = export_format(fmt)
        if encoding not in (None, "", "utf-8", "utf-8-sig"):
            raise InvalidInput(
                "The encoding is utf-8 or utf-8-sig (UTF-8 with a byte order mark).",
                errors=[{"field": "encoding", "message": "must be utf-8 or utf-8-sig"}],
            )
        spec = export_spec(choices)
        export = await run_in_threadpool(
            exports.prepare,
            settings,
            request.app.state.engine,
            user,
            dataset,
            chosen,
            spec,
            on_done=exports.auditor(
                request.app.state.sessionmaker,
                user,
                Channel.web,
                ip=ip,
                detail={"format": chosen.value},
            ),
        )
    except MarkbookError as error:
        failed = error
        context = await in_one_thread(
            request, lambda session: exports_context(session, user, choices, ip=ip, error=failed)
        )
        return page(request, "exports.html", context, status_code=error.status)
    return download_response(export)
