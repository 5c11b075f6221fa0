"""``run_job(job_id)``: the one function that does a job, in a thread or a Celery task.

A run claims the job with a conditional UPDATE (queued, or running with a silent
heartbeat), so however many messages or sweeps ask for it, one worker runs it. A
heartbeat thread writes progress and the heartbeat twice a second and notices a
cancel (or that another worker took the job over), which stops the run within a
second: the export worker process is killed and no file is left. Output is written
under a temporary name and renamed when complete.

Report cards are split into parts (``export_job_parts``): the run that claimed the
job asks other workers for help, and every helper claims parts one by one, so a
2,000-student job uses every worker process there is. The claiming run assembles
the file when all parts are done; a part whose helper died is claimed again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import User
from markbook.db import session_scope, utcnow
from markbook.downloads import file_name
from markbook.errors import MarkbookError
from markbook.exports import service as exports
from markbook.exports.worker import WorkerError
from markbook.jobs import storage
from markbook.jobs.models import ExportJob, ExportJobPart, JobKind, JobStatus, PartStatus
from markbook.jobs.service import (
    ExportJobRequest,
    WorkbookJobRequest,
    changed,
    error_text,
    lost_worker_error,
)
from markbook.reports import bulk
from markbook.reports.model import Period
from markbook.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 0.5
# Helpers asked for per report-cards job at most; idle ones return at once.
MAX_HELPERS = 16
PLAN_FILE = "plan.json"


class Stopped(Exception):
    """The run must stop: the job was cancelled, taken over, timed out, or the
    process is shutting down (``reason`` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobBusy(Exception):
    """Another worker is running this job and its heartbeat is fresh: ask again
    after the heartbeat timeout (it may have died)."""


class TransientJobError(Exception):
    """The job failed for a reason that may pass (the database went away): it is
    queued again and retried with backoff while it has attempts left."""


@dataclass
class Runtime:
    """What a run needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Report cards: ask this many more workers to help with a job's parts.
    ask_for_help: Callable[[str, int], None] = lambda job_id, count: None
    today: Callable[[], dt.date] = dt.date.today
    # Set when the process is shutting down: running jobs are queued again.
    stopping: threading.Event = field(default_factory=threading.Event)


@dataclass
class Finished:
    path: Path
    name: str
    rows: int
    students: set[int]
    result: dict[str, Any] | None = None


class Beat:
    """The heartbeat of one run: progress and liveness into the database, and the
    signal to stop out of it."""

    def __init__(self, runtime: Runtime, job_id: str, attempt: int | None) -> None:
        self.runtime = runtime
        self.job_id = job_id
        # The job's attempt this run holds; None for a helper, which owns parts only.
        self.attempt = attempt
        self.done = 0
        self.base = 0  # report cards: students already counted (failed before rendering)
        self.total: int | None = None
        self.sums_parts = False
        self.part: tuple[int, int] | None = None  # (number, attempt) being rendered
        self.part_done = 0
        self.reason: str | None = None
        self._aborts: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"beat-{job_id[:8]}", daemon=True)

    # Called by the run, on its own thread.
    def start(self) -> Beat:
        self._thread.start()
        return self

    def close(self) -> None:
        self._quit.set()
        self._thread.join(timeout=5)

    def add(self, rows: int) -> None:
        self.done += rows
        self.check()

    def set_total(self, total: int) -> None:
        self.total = total
        self._write()

    def step_part(self, _ok: bool) -> None:
        self.part_done += 1
        self.check()

    def check(self) -> None:
        if self.reason is not None:
            raise Stopped(self.reason)

    def on_abort(self, abort: Callable[[], None]) -> None:
        with self._lock:
            if self.reason is None:
                self._aborts.append(abort)
                return
        abort()

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    # The thread.
    def _run(self) -> None:
        while not self._quit.wait(HEARTBEAT_SECONDS):
            try:
                self._write()
            except Exception:  # a missed beat is retried; the sweeper decides when it is too many
                log.warning("job %s: heartbeat not written", self.job_id, exc_info=True)

    def _stop(self, reason: str) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
            aborts, self._aborts = self._aborts, []
        log.info("job %s stopping: %s", self.job_id, reason)
        for abort in aborts:
            try:
                abort()
            except Exception:
                log.warning("job %s: abort failed", self.job_id, exc_info=True)

    def _write(self) -> None:
        if self.reason is not None:
            return
        if self.runtime.stopping.is_set():
            self._stop("shutdown")
            return
        if time.monotonic() - self._started > self.runtime.settings.job_time_limit_seconds:
            self._stop("time limit")
            return
        now = utcnow()
        with self.runtime.sessions() as session, session.begin():
            if self.part is not None:
                number, attempt = self.part
                session.execute(
                    update(ExportJobPart)
                    .where(
                        ExportJobPart.job_id == self.job_id,
                        ExportJobPart.number == number,
                        ExportJobPart.attempts == attempt,
                        ExportJobPart.status == PartStatus.running,
                    )
                    .values(heartbeat_at=now, rows_done=self.part_done)
                )
            if self.attempt is None:
                status = session.execute(
                    select(ExportJob.status).where(ExportJob.id == self.job_id)
                ).scalar()
                if status != JobStatus.running:
                    self._stop("cancelled" if status == JobStatus.cancelled else "not running")
                return
            if self.sums_parts:
                rows: Any = self.base + (
                    select(func.coalesce(func.sum(ExportJobPart.rows_done), 0))
                    .where(ExportJobPart.job_id == self.job_id)
                    .scalar_subquery()
                )
            else:
                rows = self.done
            values: dict[str, Any] = {"heartbeat_at": now, "rows_done": rows}
            if self.total is not None:
                values["rows_total"] = self.total
            moved = changed(
                session,
                update(ExportJob)
                .where(
                    ExportJob.id == self.job_id,
                    ExportJob.status == JobStatus.running,
                    ExportJob.attempts == self.attempt,
                )
                .values(**values),
            )
            if not moved:
                status = session.execute(
                    select(ExportJob.status).where(ExportJob.id == self.job_id)
                ).scalar()
                self._stop("cancelled" if status == JobStatus.cancelled else "taken over")


def run_job(runtime: Runtime, job_id: str) -> str:
    """Do job ``job_id`` if it is there to be done; returns its status afterwards
    (or ``skipped`` when there was nothing to do)."""
    claimed = _claim(runtime, job_id)
    if claimed is None:
        return "skipped"
    job, attempt = claimed
    settings = runtime.settings
    directory = storage.job_dir(settings, job_id)
    beat = Beat(runtime, job_id, attempt).start()
    try:
        user = _requester(runtime, job)
        if job.kind == JobKind.report_cards:
            finished = _run_report_cards(runtime, job, user, beat, directory)
        elif job.kind == JobKind.workbook:
            finished = _run_workbook(runtime, job, user, beat, directory)
        else:
            finished = _run_export(runtime, job, user, beat, directory)
        beat.check()
    except BaseException as error:
        beat.close()
        return _after_failure(runtime, job, attempt, beat, error)
    beat.close()
    return _succeed(runtime, job, attempt, finished)


def help_job(runtime: Runtime, job_id: str) -> int:
    """Render parts of a running report-cards job until none is left to claim;
    returns how many this call rendered."""
    with runtime.sessions() as session:
        job = session.get(ExportJob, job_id)
        if job is None or job.kind != JobKind.report_cards or job.status != JobStatus.running:
            return 0
        session.expunge(job)
    plan = _read_plan(storage.job_dir(runtime.settings, job_id))
    if plan is None:
        return 0
    user = _requester(runtime, job)
    beat = Beat(runtime, job_id, None).start()
    try:
        return _work_on_parts(runtime, job, user, plan, beat, coordinator=False)
    except Stopped:
        if beat.reason == "cancelled":
            # The claiming run removed the job's folder, but this helper may have been
            # writing a part into it meanwhile: remove what is left.
            storage.remove_job_files(runtime.settings, job_id)
        return 0
    except Exception:
        if _status(runtime, job_id) != JobStatus.running:
            # Finished or cancelled under this helper's feet (its folder went): nothing lost.
            return 0
        raise
    finally:
        beat.close()


def _status(runtime: Runtime, job_id: str) -> str | None:
    with runtime.sessions() as session:
        return session.execute(select(ExportJob.status).where(ExportJob.id == job_id)).scalar()


def _claim(runtime: Runtime, job_id: str) -> tuple[ExportJob, int] | None:
    settings = runtime.settings
    now = utcnow()
    stale_before = now - dt.timedelta(seconds=settings.job_heartbeat_timeout_seconds)
    with session_scope(runtime.sessions) as session:
        moved = changed(
            session,
            update(ExportJob)
            .where(
                ExportJob.id == job_id,
                ExportJob.attempts < settings.job_max_attempts,
                or_(
                    ExportJob.status == JobStatus.queued,
                    and_(
                        ExportJob.status == JobStatus.running,
                        or_(
                            ExportJob.heartbeat_at.is_(None), ExportJob.heartbeat_at < stale_before
                        ),
                    ),
                ),
            )
            .values(
                status=JobStatus.running,
                attempts=ExportJob.attempts + 1,
                started_at=func.coalesce(ExportJob.started_at, now),
                heartbeat_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False),
        )
        job = session.get(ExportJob, job_id)
        if job is None:
            log.warning("job %s: no such job", job_id)
            return None
        if moved:
            session.expunge(job)
            log.info("job %s (%s) started, attempt %d", job_id, job.kind, job.attempts)
            return job, job.attempts
        if job.status == JobStatus.running:
            raise JobBusy(job_id)
        if job.status in (JobStatus.queued, JobStatus.running):
            # Out of attempts.
            job.status = JobStatus.failed
            job.finished_at = now
            job.error = lost_worker_error(job.attempts)
        return None


def _requester(runtime: Runtime, job: ExportJob) -> User:
    with runtime.sessions() as session:
        user = session.get(User, job.requested_by) if job.requested_by is not None else None
        if user is None or not user.active:
            raise MarkbookError(
                "The account that started this job no longer exists or is disabled, so the "
                "job cannot run on its behalf."
            )
        session.expunge(user)
        return user


def _auditor(
    runtime: Runtime, job: ExportJob, user: User, students: set[int]
) -> Callable[[exports.Disclosure], None]:
    """Audits the export and keeps its students, for the audit of each download."""
    audit = exports.auditor(
        runtime.sessions,
        user,
        Channel.job,
        detail={"job": job.id, "format": str(job.params.get("format", "xlsx"))},
    )

    def on_done(disclosure: exports.Disclosure) -> None:
        students.update(disclosure.student_ids)
        audit(disclosure)

    return on_done


def _run_export(
    runtime: Runtime, job: ExportJob, user: User, beat: Beat, directory: Path
) -> Finished:
    request = ExportJobRequest.model_validate({"kind": "export", **job.params})
    students: set[int] = set()
    on_done = _auditor(runtime, job, user, students)
    directory.mkdir(parents=True, exist_ok=True)
    export = exports.prepare(
        runtime.settings,
        runtime.engine,
        user,
        request.dataset,
        request.format,
        request.spec,
        on_done=on_done,
        progress=beat.add,
        on_total=beat.set_total,
        mark_failures=False,
        work_dir=directory,
    )
    return _keep(export, beat, directory, students)


def _run_workbook(
    runtime: Runtime, job: ExportJob, user: User, beat: Beat, directory: Path
) -> Finished:
    request = WorkbookJobRequest.model_validate({"kind": "workbook", **job.params})
    students: set[int] = set()
    on_done = _auditor(runtime, job, user, students)
    directory.mkdir(parents=True, exist_ok=True)
    export = exports.prepare_workbook(
        runtime.settings,
        runtime.engine,
        user,
        [exports.WorkbookSheet(s.name, s.dataset, s.spec) for s in request.sheets],
        date_style=request.date_format,
        on_done=on_done,
        progress=beat.add,
        on_total=beat.set_total,
        work_dir=directory,
    )
    return _keep(export, beat, directory, students)


def _keep(export: exports.Export, beat: Beat, directory: Path, students: set[int]) -> Finished:
    # A cancel now kills the export worker; the copy below then fails and its
    # temporary file is removed.
    beat.on_abort(export.close)
    target = directory / file_name(export.filename)
    try:
        exports.export_to_file(export, target)
    finally:
        export.close()
    beat.check()
    return Finished(target, export.filename, export.rows, students)


@dataclass
class CardsPlan:
    period: Period
    format: bulk.CardFormat
    failures: list[bulk.Failure]
    total: int
    parts: int


def _read_plan(directory: Path) -> CardsPlan | None:
    try:
        raw = json.loads((directory / PLAN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return CardsPlan(
        Period(start=dt.date.fromisoformat(raw["start"]), end=dt.date.fromisoformat(raw["end"])),
        bulk.CardFormat(raw["format"]),
        [bulk.Failure(**item) for item in raw["failures"]],
        int(raw["total"]),
        int(raw["parts"]),
    )


def _plan_cards(runtime: Runtime, job: ExportJob, user: User, directory: Path) -> CardsPlan:
    """Choose the students once per job (a re-run keeps the first run's choice and
    the parts already done) and split them into parts."""
    plan = _read_plan(directory)
    if plan is not None:
        return plan
    request = bulk.ReportCardsRequest.model_validate(job.params)
    size = runtime.settings.report_cards_part_students
    with session_scope(runtime.sessions) as session:
        selection = bulk.select_students(session, user, request, today=runtime.today())
        ids = selection.student_ids
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        session.execute(delete(ExportJobPart).where(ExportJobPart.job_id == job.id))
        session.add_all(
            ExportJobPart(job_id=job.id, number=number, student_ids=chunk, rows_done=0, attempts=0)
            for number, chunk in enumerate(chunks)
        )
    plan = CardsPlan(
        selection.period,
        request.format,
        selection.failures,
        len(ids) + len(selection.failures),
        len(chunks),
    )
    directory.mkdir(parents=True, exist_ok=True)
    _write_json(
        directory / PLAN_FILE,
        {
            "start": plan.period.start.isoformat(),
            "end": plan.period.end.isoformat(),
            "format": plan.format.value,
            "failures": [asdict(failure) for failure in plan.failures],
            "total": plan.total,
            "parts": plan.parts,
        },
    )
    return plan


def _run_report_cards(
    runtime: Runtime, job: ExportJob, user: User, beat: Beat, directory: Path
) -> Finished:
    plan = _plan_cards(runtime, job, user, directory)
    beat.base = len(plan.failures)
    beat.sums_parts = True
    beat.set_total(plan.total)
    storage.parts_dir(runtime.settings, job.id).mkdir(parents=True, exist_ok=True)
    if plan.parts > 1:
        runtime.ask_for_help(job.id, min(plan.parts - 1, MAX_HELPERS))
    _work_on_parts(runtime, job, user, plan, beat, coordinator=True)
    parts = [_part_path(runtime.settings, job.id, number) for number in range(plan.parts)]
    stamp = (job.created_at or utcnow()).strftime("%Y%m%d-%H%M%S")
    extension = "zip" if plan.format is bulk.CardFormat.pdf_zip else plan.format.value
    name = f"report_cards_{stamp}.{extension}"
    target = directory / name
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    os.close(handle)
    try:
        assembled = bulk.assemble(
            parts,
            plan.failures,
            plan.format,
            Path(temporary),
            period=plan.period,
            school_name=runtime.settings.school_name,
        )
        beat.check()
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    students = set(assembled.student_ids)
    with session_scope(runtime.sessions) as session:
        record_access(
            session,
            user,
            AuditAction.export,
            Channel.job,
            "report_cards",
            sorted(students) or None,
            detail={"job": job.id, "format": plan.format.value, "students": len(students)},
        )
    result = {
        "students": plan.total,
        "succeeded": assembled.succeeded,
        "failed": len(assembled.failures),
        "failures": [asdict(failure) for failure in assembled.failures[:1000]],
    }
    return Finished(target, name, plan.total, students, result)


def _part_path(settings: Settings, job_id: str, number: int) -> Path:
    return storage.parts_dir(settings, job_id) / f"part-{number:05d}.zip"


def _work_on_parts(
    runtime: Runtime,
    job: ExportJob,
    user: User,
    plan: CardsPlan,
    beat: Beat,
    *,
    coordinator: bool,
) -> int:
    # The run that claimed the job made the parts folder; a helper never makes it, so
    # one arriving after the job finished cannot leave a folder behind.
    rendered = 0
    while True:
        beat.check()
        part = _claim_part(runtime, job.id)
        if part is None:
            if not coordinator or _parts_left(runtime, job.id) == 0:
                return rendered
            time.sleep(0.2)
            continue
        number, attempt, student_ids = part
        beat.part, beat.part_done = (number, attempt), 0
        with runtime.sessions() as session:
            bulk.render_part(
                session,
                user,
                student_ids,
                plan.period,
                plan.format,
                school_name=runtime.settings.school_name,
                part_path=_part_path(runtime.settings, job.id, number),
                on_student=beat.step_part,
            )
        beat.part = None
        with session_scope(runtime.sessions) as session:
            session.execute(
                update(ExportJobPart)
                .where(
                    ExportJobPart.job_id == job.id,
                    ExportJobPart.number == number,
                    ExportJobPart.attempts == attempt,
                )
                .values(status=PartStatus.done, rows_done=len(student_ids), heartbeat_at=utcnow())
            )
        rendered += 1


def _claim_part(runtime: Runtime, job_id: str) -> tuple[int, int, list[int]] | None:
    now = utcnow()
    stale_before = now - dt.timedelta(seconds=runtime.settings.job_heartbeat_timeout_seconds)
    claimable = or_(
        ExportJobPart.status == PartStatus.queued,
        and_(ExportJobPart.status == PartStatus.running, ExportJobPart.heartbeat_at < stale_before),
    )
    with session_scope(runtime.sessions) as session:
        numbers = session.execute(
            select(ExportJobPart.number)
            .where(ExportJobPart.job_id == job_id, claimable)
            .order_by(ExportJobPart.number)
            .limit(8)
        ).scalars()
        for number in list(numbers):
            if changed(
                session,
                update(ExportJobPart)
                .where(ExportJobPart.job_id == job_id, ExportJobPart.number == number, claimable)
                .values(
                    status=PartStatus.running,
                    attempts=ExportJobPart.attempts + 1,
                    heartbeat_at=now,
                    rows_done=0,
                ),
            ):
                attempt, ids = session.execute(
                    select(ExportJobPart.attempts, ExportJobPart.student_ids).where(
                        ExportJobPart.job_id == job_id, ExportJobPart.number == number
                    )
                ).one()
                return number, int(attempt), [int(value) for value in ids]
    return None


def _parts_left(runtime: Runtime, job_id: str) -> int:
    with runtime.sessions() as session:
        return int(
            session.execute(
                select(func.count()).where(
                    ExportJobPart.job_id == job_id, ExportJobPart.status != PartStatus.done
                )
            ).scalar_one()
        )


def _write_json(path: Path, value: Any) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as sink:
        json.dump(value, sink)
    os.replace(temporary, path)


def _succeed(runtime: Runtime, job: ExportJob, attempt: int, finished: Finished) -> str:
    settings = runtime.settings
    directory = storage.job_dir(settings, job.id)
    storage.write_students(directory, finished.students)
    now = utcnow()
    with session_scope(runtime.sessions) as session:
        moved = changed(
            session,
            update(ExportJob)
            .where(
                ExportJob.id == job.id,
                ExportJob.status == JobStatus.running,
                ExportJob.attempts == attempt,
            )
            .values(
                status=JobStatus.succeeded,
                rows_done=finished.rows,
                rows_total=finished.rows,
                file_path=str(finished.path),
                file_size=finished.path.stat().st_size,
                file_name=finished.name,
                finished_at=now,
                expires_at=now + dt.timedelta(hours=settings.job_file_ttl_hours),
                heartbeat_at=now,
                result=finished.result,
            ),
        )
        if moved:
            session.execute(delete(ExportJobPart).where(ExportJobPart.job_id == job.id))
    if not moved:
        # Cancelled at the last moment: the file must not outlive the job.
        storage.remove_job_files(settings, job.id)
        log.info("job %s finished but was cancelled meanwhile; file removed", job.id)
        return JobStatus.cancelled
    _remove_quietly(storage.parts_dir(settings, job.id))
    (directory / PLAN_FILE).unlink(missing_ok=True)
    log.info("job %s succeeded: %d rows, %s", job.id, finished.rows, finished.name)
    return JobStatus.succeeded


def _remove_quietly(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _after_failure(
    runtime: Runtime, job: ExportJob, attempt: int, beat: Beat, error: BaseException
) -> str:
    settings = runtime.settings
    mine = (
        ExportJob.id == job.id,
        ExportJob.status == JobStatus.running,
        ExportJob.attempts == attempt,
    )
    if beat.reason in ("cancelled", "taken over", "not running"):
        if beat.reason == "cancelled":
            storage.remove_job_files(settings, job.id)
        log.info("job %s stopped: %s", job.id, beat.reason)
        return beat.reason
    if beat.reason == "shutdown":
        with session_scope(runtime.sessions) as session:
            session.execute(
                update(ExportJob)
                .where(*mine)
                .values(status=JobStatus.queued, attempts=ExportJob.attempts - 1)
            )
        log.info("job %s queued again: the process is shutting down", job.id)
        return JobStatus.queued
    transient = isinstance(error, OperationalError | InterfaceError | TransientJobError)
    if transient and attempt < settings.job_max_attempts:
        log.warning("job %s: transient failure, will retry: %s", job.id, error)
        try:
            with session_scope(runtime.sessions) as session:
                session.execute(update(ExportJob).where(*mine).values(status=JobStatus.queued))
        except Exception:
            log.warning("job %s: could not queue it again; the sweeper will", job.id)
        raise TransientJobError(str(error)) from error
    if beat.reason == "time limit":
        message = (
            f"The job ran longer than {settings.job_time_limit_seconds} seconds "
            "(MARKBOOK_JOB_TIME_LIMIT_SECONDS) and was stopped. Narrow it or split it."
        )
    elif isinstance(error, MarkbookError):
        message = error.detail
    elif isinstance(error, WorkerError) and error.reference:
        message = f"The export failed: {error} (reference {error.reference} in the server log)."
    else:
        reference = secrets.token_hex(4)
        log.error("job %s failed (reference %s)", job.id, reference, exc_info=error)
        message = (
            f"The job failed unexpectedly (reference {reference} in the server log). "
            "Try again; if it fails again, tell an administrator the reference."
        )
    if not isinstance(error, Exception):
        # KeyboardInterrupt, SystemExit, a Celery time limit: record, then let it through.
        message = f"The job was interrupted ({type(error).__name__}). Start it again."
    with session_scope(runtime.sessions) as session:
        session.execute(
            update(ExportJob)
            .where(*mine)
            .values(status=JobStatus.failed, finished_at=utcnow(), error=error_text(message))
        )
    storage.remove_job_files(settings, job.id)
    log.warning("job %s failed: %s", job.id, message)
    if not isinstance(error, Exception):
        raise error
    return JobStatus.failed
