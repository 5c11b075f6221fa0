"""Background jobs over HTTP: start, follow (JSON or Server-Sent Events), cancel,
download, share."""

from __future__ import annotations

import asyncio
import datetime as dt
import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import User
from markbook.db import utcnow
from markbook.deps import (
    AdminUser,
    BearerToken,
    ClientIP,
    SessionDep,
    SettingsDep,
    Today,
    authenticate,
    in_one_thread,
)
from markbook.downloads import ascii_name, content_disposition
from markbook.errors import API_ERRORS, InvalidInput, documented
from markbook.exports.spec import MEDIA_TYPES, ExportFormat
from markbook.jobs import service, storage
from markbook.jobs.links import LinkSigner
from markbook.jobs.models import ExportJob, JobStatus
from markbook.jobs.service import ACTIVE, JobRequest
from markbook.schemas import Schema

router = APIRouter(prefix="/api/v1", tags=["jobs"], responses=API_ERRORS)

# How often a live progress stream looks at the job (and a job's heartbeat writes it).
EVENT_POLL_SECONDS = 0.5


class JobOut(Schema):
    id: str
    kind: str
    status: JobStatus
    params: dict[str, Any]
    rows_done: int = Field(description="Rows written so far (students, for report cards).")
    rows_total: int | None = Field(description="Rows the file will hold, once counted.")
    percent: float | None = Field(description="rows_done of rows_total, 0–100.")
    eta_seconds: float | None = Field(description="Time left at the rate so far.")
    attempts: int
    error: str | None
    file_name: str | None
    file_size: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None = Field(description="When the file is swept away.")
    result: dict[str, Any] | None = Field(
        description="Report cards: students, succeeded, failed and each failure's reason."
    )
    url: str
    events_url: str
    download_url: str | None


class JobList(Schema):
    items: list[JobOut]
    total: int


class LinkRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    expires_in: int | None = Field(
        None,
        ge=60,
        description="Seconds the link works (default MARKBOOK_JOB_LINK_TTL_SECONDS; never "
        "past the file's expiry).",
    )


class LinkOut(Schema):
    url: str
    expires_at: dt.datetime


class CacheCleared(Schema):
    deleted: int


def job_out(job: ExportJob, request: Request, now: dt.datetime | None = None) -> JobOut:
    moment = now or utcnow()
    percent = eta = None
    if job.rows_total:
        percent = round(min(100.0, 100.0 * job.rows_done / job.rows_total), 1)
    elif job.status == JobStatus.succeeded:
        percent = 100.0
    if job.status == JobStatus.running and job.started_at and job.rows_total and job.rows_done:
        elapsed = (moment - job.started_at).total_seconds()
        if elapsed > 0:
            eta = round(max(0, job.rows_total - job.rows_done) * elapsed / job.rows_done, 1)
    base = str(request.base_url).rstrip("/") + f"/api/v1/jobs/{job.id}"
    expired = job.status == JobStatus.expired or (
        job.expires_at is not None and job.expires_at <= moment
    )
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=JobStatus.expired if job.status == JobStatus.succeeded and expired else job.status,
        params=job.params,
        rows_done=job.rows_done,
        rows_total=job.rows_total,
        percent=percent,
        eta_seconds=eta,
        attempts=job.attempts,
        error=job.error,
        file_name=job.file_name,
        file_size=job.file_size,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        expires_at=job.expires_at,
        result=job.result,
        url=base,
        events_url=base + "/events",
        download_url=base + "/download"
        if job.status == JobStatus.succeeded and not expired
        else None,
    )


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobOut,
    responses={
        200: {
            "description": "An identical job was queued, running or finished: that job.",
            "model": JobOut,
        },
        413: documented("More students than one report-cards job may hold."),
    },
)
async def create_job(
    request: Request,
    response: Response,
    body: Annotated[JobRequest, Body()],
    token: BearerToken,
    settings: SettingsDep,
    today: Today,
) -> JobOut:
    """Start an export, a workbook or report cards in the background; 202 with the
    job. Follow it at its ``url`` or ``events_url``; download it when it has
    succeeded. An identical request (same kind, parameters and data, by you) returns
    the job already queued, running or finished (200) instead of starting another."""
    engine = request.app.state.engine

    def work(session: Session) -> service.Created:
        user = authenticate(session, token)
        return service.create_job(session, settings, engine, user, body, today=today)

    created = await in_one_thread(request, work)
    # Queued after the commit: a worker never looks for a job that is not there yet.
    if created.created:
        request.app.state.jobs.submit(created.job.id)
    else:
        response.status_code = 200
    out = job_out(created.job, request)
    response.headers["Location"] = out.url
    return out


@router.get("/jobs", response_model=JobList)
async def list_jobs(
    request: Request,
    token: BearerToken,
    status: Annotated[list[JobStatus] | None, Query(description="Only these states.")] = None,
    mine: Annotated[bool, Query(description="Administrators: only my own jobs.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobList:
    """Your jobs, newest first (administrators see everyone's)."""

    def work(session: Session) -> tuple[list[ExportJob], int]:
        user = authenticate(session, token)
        return service.list_jobs(
            session, user, status=status, limit=limit, offset=offset, mine_only=mine
        )

    jobs, total = await in_one_thread(request, work)
    now = utcnow()
    return JobList(items=[job_out(job, request, now) for job in jobs], total=total)


async def _job_of_caller(request: Request, job_id: str, token: BearerToken) -> ExportJob:
    return await in_one_thread(
        request, lambda session: service.visible_job(session, authenticate(session, token), job_id)
    )


CallersJob = Annotated[ExportJob, Depends(_job_of_caller)]


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(request: Request, job: CallersJob) -> JobOut:
    """A job's state, progress, ETA, error, and its download URL once it has succeeded."""
    return job_out(job, request)


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"description": "`progress` events as the job moves, then one `end`."}},
)
async def job_events(request: Request, job: CallersJob) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: a ``progress`` event (the job, as GET /jobs/{id} gives it)
    whenever it changes, then an ``end`` event with its final state."""
    async for event in job_event_stream(request, job):
        yield event


async def job_event_stream(request: Request, job: ExportJob) -> AsyncIterator[ServerSentEvent]:
    """The events of ``job`` (already checked to be the caller's) until it ends or
    the client goes away: for the API's stream and the web pages' alike."""
    sessions = request.app.state.sessionmaker
    job_id = job.id
    last: tuple[Any, ...] | None = None
    current: ExportJob | None = job
    while current is not None:
        out = job_out(current, request)
        if out.status not in ACTIVE:
            yield ServerSentEvent(event="end", data=out.model_dump(mode="json"))
            return
        state = (out.status, out.rows_done, out.rows_total, out.attempts)
        if state != last:
            last = state
            yield ServerSentEvent(event="progress", data=out.model_dump(mode="json"))
        if await request.is_disconnected():
            return
        await asyncio.sleep(EVENT_POLL_SECONDS)
        current = await asyncio.to_thread(_load, sessions, job_id)


def _load(sessions: Any, job_id: str) -> ExportJob | None:
    with sessions() as session:
        job: ExportJob | None = session.get(ExportJob, job_id)
        return job


@router.delete("/jobs/{job_id}", response_model=JobOut)
async def cancel_job(request: Request, job_id: str, token: BearerToken) -> JobOut:
    """Cancel a queued or running job: a running one stops within about a second and
    leaves no file. A finished job answers 409."""

    def work(session: Session) -> ExportJob:
        job = service.visible_job(session, authenticate(session, token), job_id)
        return service.cancel_job(session, job)

    return job_out(await in_one_thread(request, work), request)


def file_response(job: ExportJob) -> FileResponse:
    path = Path(job.file_path or "")
    name = job.file_name or path.name
    return FileResponse(
        path,
        media_type=_media_type(name),
        headers={
            "Content-Disposition": content_disposition(name, ascii_name(name) or "download"),
            "Cache-Control": "no-store",
        },
    )


def _media_type(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower()
    if suffix == "gz":
        return "application/gzip"
    if suffix in ExportFormat.__members__:
        return MEDIA_TYPES[ExportFormat(suffix)]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def serve_download(
    session: Session,
    settings: Any,
    job: ExportJob,
    user: User | None,
    ip: str | None,
    how: str,
    channel: Channel,
) -> ExportJob:
    """Check ``job``'s file can be downloaded and audit the download (through
    ``channel``, ``how``: owner or link); the caller sends :func:`file_response`."""
    service.downloadable(job, settings)
    if not Path(job.file_path or "").is_file():
        raise service.JobGone(f"Job {job.id}'s file is no longer in storage. Start the job again.")
    students = storage.read_students(storage.job_dir(settings, job.id))
    record_access(
        session,
        user,
        AuditAction.download,
        channel,
        f"job:{job.kind}",
        students or None,
        ip=ip,
        detail={"job": job.id, "via": how, "file": job.file_name},
    )
    return job


@router.get(
    "/jobs/{job_id}/download",
    response_class=FileResponse,
    responses={
        200: {"description": "The job's file (Content-Disposition: attachment)."},
        409: documented("The job has not succeeded (yet)."),
        410: documented("The file has expired and was removed."),
    },
)
async def download_job(
    request: Request, job_id: str, token: BearerToken, settings: SettingsDep, ip: ClientIP
) -> FileResponse:
    """The finished job's file (the job's owner, or an administrator)."""

    def work(session: Session) -> ExportJob:
        user = authenticate(session, token)
        job = service.visible_job(session, user, job_id)
        return serve_download(session, settings, job, user, ip, "owner", Channel.api)

    return file_response(await in_one_thread(request, work))


@router.post(
    "/jobs/{job_id}/link",
    response_model=LinkOut,
    responses={409: documented("The job has not succeeded (yet)."), 410: documented("Expired.")},
)
async def share_link(
    request: Request,
    job_id: str,
    token: BearerToken,
    settings: SettingsDep,
    body: Annotated[LinkRequest | None, Body()] = None,
) -> LinkOut:
    """A signed URL that downloads this job's file without signing in, until it
    expires (MARKBOOK_JOB_LINK_TTL_SECONDS by default, never after the file)."""

    def work(session: Session) -> ExportJob:
        job = service.visible_job(session, authenticate(session, token), job_id)
        return service.downloadable(job, settings)

    job = await in_one_thread(request, work)
    return make_share_link(request, settings, job, body.expires_in if body else None)


def make_share_link(
    request: Request, settings: Any, job: ExportJob, expires_in: int | None = None
) -> LinkOut:
    """A signed download URL for ``job`` (already checked to be downloadable), good
    for ``expires_in`` seconds (default MARKBOOK_JOB_LINK_TTL_SECONDS), never past
    the file's expiry."""
    seconds = expires_in or settings.job_link_ttl_seconds
    expires = utcnow() + dt.timedelta(seconds=seconds)
    if job.expires_at is not None:
        expires = min(expires, job.expires_at)
    link = _signer(request).sign(job.id, expires)
    return LinkOut(
        url=str(request.base_url).rstrip("/") + f"/api/v1/downloads/{link.token}",
        expires_at=link.expires_at,
    )


def _signer(request: Request) -> LinkSigner:
    signer: LinkSigner = request.app.state.link_signer
    return signer


@router.get(
    "/downloads/{token}",
    response_class=FileResponse,
    responses={
        200: {"description": "The shared file."},
        403: documented("The link was not made by this server (changed or cut short)."),
        410: documented("The link, or the file, has expired."),
    },
)
async def shared_download(
    request: Request, token: str, settings: SettingsDep, ip: ClientIP
) -> FileResponse:
    """A file shared with POST /api/v1/jobs/{id}/link; needs no sign-in."""
    if len(token) > 500:
        raise InvalidInput("This is not a download link.")
    job_id = _signer(request).job_for(token, utcnow())

    def work(session: Session) -> ExportJob:
        job = session.get(ExportJob, job_id)
        if job is None:
            raise service.JobGone("The job this link shared no longer exists.")
        return serve_download(session, settings, job, None, ip, "link", Channel.api)

    return file_response(await in_one_thread(request, work))


@router.delete("/exports/cache", response_model=CacheCleared, tags=["exports"])
def clear_export_cache(_admin: AdminUser, session: SessionDep) -> CacheCleared:
    """Forget finished export jobs for reuse (administrators only): the next
    identical request starts a new job. Files already made stay downloadable."""
    return CacheCleared(deleted=service.clear_export_cache(session))
