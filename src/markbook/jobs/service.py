"""Jobs as every edge asks for them: start (or reuse), look up, cancel, sweep.

The row in ``export_jobs`` is the truth; this module only moves it between states
with conditional UPDATEs, so a server, its sweeper and any number of workers can
act on one job at once and exactly one of them wins each move. The work itself is
done by :mod:`markbook.jobs.runner`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from sqlalchemy import CursorResult, Engine, func, or_, select, update
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import Role, User
from markbook.auth.scope import student_filter
from markbook.db import utcnow
from markbook.errors import Conflict, InvalidInput, MarkbookError, NotFound, PayloadTooLarge
from markbook.exports.routes import WorkbookRequest
from markbook.exports.service import plan_for
from markbook.exports.spec import ExportFormat, ExportSpec
from markbook.jobs import storage
from markbook.jobs.models import MAX_ERROR_LENGTH, ExportJob, JobStatus
from markbook.records.models import Course, Student
from markbook.reports.bulk import ReportCardsRequest, select_students
from markbook.schemas import Schema
from markbook.settings import Settings

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.queued, JobStatus.running)
FINISHED = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled, JobStatus.expired)


class ExportJobRequest(Schema):
    """One dataset as one file (the body of GET /api/v1/exports/{dataset}.{fmt}, as JSON)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["export"]
    dataset: str = Field(max_length=64, examples=["grades"])
    format: ExportFormat = ExportFormat.csv
    spec: ExportSpec = Field(default_factory=lambda: ExportSpec())


class WorkbookJobRequest(WorkbookRequest):
    """Several datasets as the sheets of one XLSX."""

    kind: Literal["workbook"]


class ReportCardsJobRequest(ReportCardsRequest):
    """Report cards for students by ids, by course or by grade level."""

    kind: Literal["report_cards"]


JobRequest = Annotated[
    ExportJobRequest | WorkbookJobRequest | ReportCardsJobRequest, Field(discriminator="kind")
]


class JobGone(MarkbookError):
    status = 410
    code = "job-expired"


@dataclass(frozen=True)
class Created:
    job: ExportJob
    created: bool  # False: an identical job was there already and is returned


def changed(session: Session, statement: Any) -> int:
    """Run an UPDATE or DELETE; how many rows it changed."""
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount)


def new_job_id() -> str:
    # Random, not sequential: a job id in a URL must not let anyone guess others'.
    return secrets.token_hex(16)


def check_request(
    session: Session,
    settings: Settings,
    engine: Engine,
    user: User,
    request: ExportJobRequest | WorkbookJobRequest | ReportCardsJobRequest,
    *,
    today: dt.date,
) -> None:
    """Everything about a request that can be found wrong before it is queued (an
    unknown dataset or column, a bad filter, a course the caller may not see), so
    those are answered at once instead of as a failed job."""
    if isinstance(request, ExportJobRequest):
        plan_for(settings, engine, user, request.dataset, request.format, request.spec)
    elif isinstance(request, WorkbookJobRequest):
        for sheet in request.sheets:
            plan_for(settings, engine, user, sheet.dataset, ExportFormat.xlsx, sheet.spec)
    else:
        selection = select_students(session, user, request, today=today)
        count = len(selection.student_ids) + len(selection.failures)
        if count == 0:
            period = selection.period
            raise InvalidInput(
                f"No student you may see matches this choice between {period.start} and "
                f"{period.end}, so there are no report cards to make. Choose another course, "
                "grade level or period.",
                errors=[
                    {
                        "field": "course_id" if request.course_id else "grade_level",
                        "message": "no students match",
                    }
                ],
            )
        if count > settings.report_cards_max_students:
            raise PayloadTooLarge(
                f"This would make report cards for {count:,} students; one job makes at most "
                f"{settings.report_cards_max_students:,} (MARKBOOK_REPORT_CARDS_MAX_STUDENTS). "
                "Split it, e.g. by course or grade level."
            )


def params_of(
    request: ExportJobRequest | WorkbookJobRequest | ReportCardsJobRequest,
) -> dict[str, Any]:
    params: dict[str, Any] = request.model_dump(mode="json", exclude={"kind"})
    return params


def dedupe_key(session: Session, user: User, kind: str, params: dict[str, Any]) -> str:
    """Same kind, same parameters, same caller (so the same scope) and the same data
    -> the same key. The data version is the count and the summed ``data_version``
    of the students the caller may see (every write to a student's figures bumps
    it), with the courses' count and the audit trail's last id where they matter."""
    count, versions = session.execute(
        select(func.count(Student.id), func.coalesce(func.sum(Student.data_version), 0)).where(
            student_filter(user, Student.id)
        )
    ).one()
    parts: list[Any] = [kind, params, f"{user.role}:{user.id}", count, int(versions)]
    text_ = json.dumps(params, sort_keys=True)
    if '"courses"' in text_ or '"class_analytics"' in text_:
        parts.append(session.execute(select(func.count(Course.id), func.max(Course.id))).one())
    if '"audit_events"' in text_:
        parts.append(session.execute(select(func.max(AuditEvent.id))).scalar())
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def create_job(
    session: Session,
    settings: Settings,
    engine: Engine,
    user: User,
    request: ExportJobRequest | WorkbookJobRequest | ReportCardsJobRequest,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
) -> Created:
    """A new queued job, or the identical job still queued, running, or finished and
    not yet expired (the export cache). The caller queues a new job after commit."""
    check_request(session, settings, engine, user, request, today=today)
    params = params_of(request)
    key = dedupe_key(session, user, request.kind, params)
    moment = now or utcnow()
    same = session.execute(
        select(ExportJob)
        .where(
            ExportJob.dedupe_key == key,
            or_(
                ExportJob.status.in_(ACTIVE),
                (ExportJob.status == JobStatus.succeeded) & (ExportJob.expires_at > moment),
            ),
        )
        .order_by(ExportJob.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if same is not None:
        return Created(same, created=False)
    job = ExportJob(
        id=new_job_id(),
        kind=request.kind,
        params=params,
        requested_by=user.id,
        status=JobStatus.queued,
        dedupe_key=key,
        rows_done=0,
        attempts=0,
        created_at=moment,
    )
    session.add(job)
    session.flush()
    return Created(job, created=True)


def visible_job(session: Session, user: User, job_id: str) -> ExportJob:
    """The job if ``user`` started it or is an administrator; else 404, exactly as
    for a job that does not exist."""
    job = session.get(ExportJob, job_id) if len(job_id) <= 64 else None
    if job is None or (Role(user.role) is not Role.admin and job.requested_by != user.id):
        raise NotFound(
            f"There is no job {job_id} of yours. GET /api/v1/jobs lists the jobs you started."
        )
    return job


def list_jobs(
    session: Session,
    user: User | None,
    *,
    status: Sequence[JobStatus] | None = None,
    limit: int = 50,
    offset: int = 0,
    mine_only: bool = False,
) -> tuple[list[ExportJob], int]:
    """Newest first: the caller's jobs, or everyone's for an administrator (None:
    the operator at the command line)."""
    query = select(ExportJob)
    if user is not None and (mine_only or Role(user.role) is not Role.admin):
        query = query.where(ExportJob.requested_by == user.id)
    if status:
        query = query.where(ExportJob.status.in_(list(status)))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(ExportJob.created_at.desc(), ExportJob.id).limit(limit).offset(offset)
    ).scalars()
    return list(rows), int(total)


def cancel_job(session: Session, job: ExportJob, now: dt.datetime | None = None) -> ExportJob:
    """Queued or running -> cancelled. A running job's worker sees it at its next
    heartbeat (twice a second), stops, and removes what it had written."""
    if job.status == JobStatus.cancelled:
        return job
    if job.status not in ACTIVE:
        raise Conflict(f"Job {job.id} has already {_past(job.status)}; there is nothing to cancel.")
    moment = now or utcnow()
    moved = changed(
        session,
        update(ExportJob)
        .where(ExportJob.id == job.id, ExportJob.status.in_(ACTIVE))
        .values(status=JobStatus.cancelled, finished_at=moment)
        .execution_options(synchronize_session=False),
    )
    session.refresh(job)
    if not moved and job.status != JobStatus.cancelled:
        raise Conflict(f"Job {job.id} has just {_past(job.status)}; there is nothing to cancel.")
    return job


def _past(status: str) -> str:
    return {
        JobStatus.succeeded: "succeeded",
        JobStatus.failed: "failed",
        JobStatus.expired: "expired",
        JobStatus.cancelled: "been cancelled",
    }.get(JobStatus(status), status)


def downloadable(job: ExportJob, settings: Settings, now: dt.datetime | None = None) -> ExportJob:
    """The job if its file can be downloaded; else a 409 (not ready) or 410 (gone)."""
    moment = now or utcnow()
    if job.status == JobStatus.expired or (
        job.status == JobStatus.succeeded
        and job.expires_at is not None
        and job.expires_at <= moment
    ):
        raise JobGone(
            f"Job {job.id}'s file has expired and was removed (files are kept "
            f"{settings.job_file_ttl_hours:g} hours). Start the job again."
        )
    if job.status != JobStatus.succeeded or not job.file_path:
        if job.status in ACTIVE:
            raise Conflict(
                f"Job {job.id} is still {job.status}; its file can be downloaded once it has "
                f"succeeded (GET /api/v1/jobs/{job.id} shows its progress)."
            )
        raise Conflict(f"Job {job.id} {_past(job.status)}, so it has no file to download.")
    return job


def clear_export_cache(session: Session) -> int:
    """Forget finished jobs for reuse: the next identical request starts a new job.
    Their files stay downloadable until they expire."""
    return int(
        changed(
            session,
            update(ExportJob)
            .where(ExportJob.dedupe_key.is_not(None), ExportJob.status.in_(FINISHED))
            .values(dedupe_key=None)
            .execution_options(synchronize_session=False),
        )
    )


def error_text(text_: str) -> str:
    return text_ if len(text_) <= MAX_ERROR_LENGTH else text_[: MAX_ERROR_LENGTH - 1] + "…"


@dataclass
class Swept:
    expired: int = 0
    requeued: list[str] | None = None
    failed: int = 0
    removed: int = 0


def sweep(
    session_factory: Callable[[], Session],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
) -> Swept:
    """Expire files past their time, and rescue jobs whose worker went silent.

    A running job without a heartbeat for ``job_heartbeat_timeout_seconds`` lost its
    worker: it goes back to queued (the caller queues it again) while it has
    attempts left, else it fails with a sentence saying so. Never left running.
    """
    moment = now or utcnow()
    result = Swept(requeued=[])
    stale_before = moment - dt.timedelta(seconds=settings.job_heartbeat_timeout_seconds)
    with session_factory() as session, session.begin():
        expired_ids = list(
            session.execute(
                select(ExportJob.id).where(
                    ExportJob.status == JobStatus.succeeded, ExportJob.expires_at <= moment
                )
            ).scalars()
        )
        for job_id in expired_ids:
            moved = changed(
                session,
                update(ExportJob)
                .where(ExportJob.id == job_id, ExportJob.status == JobStatus.succeeded)
                .values(status=JobStatus.expired, dedupe_key=None, file_path=None)
                .execution_options(synchronize_session=False),
            )
            if moved:
                storage.remove_job_files(settings, job_id)
                result.expired += 1
        stale = session.execute(
            select(ExportJob.id, ExportJob.attempts).where(
                ExportJob.status == JobStatus.running,
                or_(ExportJob.heartbeat_at.is_(None), ExportJob.heartbeat_at < stale_before),
            )
        ).all()
        for job_id, attempts in stale:
            silent = (ExportJob.id == job_id, ExportJob.status == JobStatus.running)
            if attempts < settings.job_max_attempts:
                if changed(
                    session,
                    update(ExportJob)
                    .where(
                        *silent,
                        ExportJob.heartbeat_at.is_(None) | (ExportJob.heartbeat_at < stale_before),
                    )
                    .values(status=JobStatus.queued)
                    .execution_options(synchronize_session=False),
                ):
                    assert result.requeued is not None
                    result.requeued.append(job_id)
                    log.warning(
                        "job %s lost its worker; queued again (attempt %d)", job_id, attempts
                    )
            elif changed(
                session,
                update(ExportJob)
                .where(*silent)
                .values(
                    status=JobStatus.failed,
                    finished_at=moment,
                    error=lost_worker_error(attempts),
                )
                .execution_options(synchronize_session=False),
            ):
                storage.remove_job_files(settings, job_id)
                result.failed += 1
                log.error("job %s lost its worker %d times; failed", job_id, attempts)
    # Folders of jobs that no longer need them (cancelled or failed while a worker
    # was away, or left by a crash).
    root = settings.export_dir / "jobs"
    if root.is_dir():
        names = [path.name for path in root.iterdir() if path.is_dir()]
        if names:
            with session_factory() as session:
                keep = set(
                    session.execute(
                        select(ExportJob.id).where(
                            ExportJob.id.in_(names),
                            ExportJob.status.in_((*ACTIVE, JobStatus.succeeded)),
                        )
                    ).scalars()
                )
            for name in names:
                if name not in keep and _old_enough(root / name, moment):
                    storage.remove_job_files(settings, name)
                    result.removed += 1
    return result


def _old_enough(path: Any, now: dt.datetime) -> bool:
    # A folder made in the last minute may belong to a job whose row is not yet
    # committed: leave it for the next sweep.
    try:
        return bool(now.timestamp() - path.stat().st_mtime > 60)
    except OSError:
        return False


def lost_worker_error(attempts: int) -> str:
    return (
        f"The worker running this job stopped responding ({attempts} attempts), e.g. it was "
        "killed or its machine went down. Start the job again; if it keeps failing, ask an "
        "administrator to check the workers' logs."
    )
