"""Where ``run_job`` runs: a thread pool in the server, or Celery workers.

Both are handed a job id only after the transaction that created the job has
committed, so a worker never looks for a job that is not there yet. Both also
run a sweeper (in the server) that expires files and rescues jobs whose worker
went silent.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import select

from markbook.jobs import service
from markbook.jobs.models import ExportJob, JobStatus
from markbook.jobs.runner import JobBusy, Runtime, TransientJobError, run_job

log = logging.getLogger(__name__)


class Executor(Protocol):
    name: str

    def submit(self, job_id: str) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Jobs in a pool of ``job_threads`` threads inside this process."""

    name = "in-process"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(
            max_workers=runtime.settings.job_threads, thread_name_prefix="markbook-job"
        )
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._pool.submit(self._run, job_id)

    def _later(self, seconds: float, job_id: str) -> None:
        with self._lock:
            if self._closed:
                return
            timer = threading.Timer(seconds, self._fire, args=(job_id,))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _fire(self, job_id: str) -> None:
        with self._lock:
            self._timers = {timer for timer in self._timers if timer.is_alive()}
        self.submit(job_id)

    def _run(self, job_id: str) -> None:
        try:
            run_job(self.runtime, job_id)
        except JobBusy:
            # Running elsewhere (another server process on the same database): look
            # again once its heartbeat would have gone stale.
            self._later(self.runtime.settings.job_heartbeat_timeout_seconds, job_id)
        except TransientJobError:
            self._later(5.0, job_id)
        except Exception:
            log.exception("job %s: the runner failed", job_id)

    def resume(self) -> int:
        """Queue again what a previous run of this process left queued."""
        with self.runtime.sessions() as session:
            ids = list(
                session.execute(
                    select(ExportJob.id)
                    .where(ExportJob.status == JobStatus.queued)
                    .order_by(ExportJob.created_at)
                ).scalars()
            )
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    def close(self) -> None:
        """Stop taking work; running jobs are queued again for the next start."""
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
        self.runtime.stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


class CeleryExecutor:
    """Jobs as Celery tasks on the broker at MARKBOOK_BROKER_URL."""

    name = "celery"

    def __init__(self, runtime: Runtime) -> None:
        from markbook.jobs import tasks

        self.runtime = runtime
        self._app = tasks.make_celery(runtime.settings)

    def submit(self, job_id: str) -> None:
        from markbook.jobs import tasks

        self._app.send_task(tasks.RUN_JOB, args=[job_id])

    def close(self) -> None:
        self._app.close()


def make_executor(runtime: Runtime) -> Executor:
    if runtime.settings.broker_url:
        return CeleryExecutor(runtime)
    return LocalExecutor(runtime)


class Sweeper:
    """Every few seconds: expire files, rescue silent jobs (queued again through
    ``executor``)."""

    def __init__(self, runtime: Runtime, executor: Executor) -> None:
        self.runtime = runtime
        self.executor = executor
        timeout = runtime.settings.job_heartbeat_timeout_seconds
        self.interval = max(1.0, min(30.0, timeout / 2))
        self._quit = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="markbook-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def sweep_once(self) -> service.Swept:
        swept = service.sweep(self.runtime.sessions, self.runtime.settings)
        for job_id in swept.requeued or []:
            self.executor.submit(job_id)
        return swept

    def _loop(self) -> None:
        while not self._quit.wait(self.interval):
            try:
                self.sweep_once()
            except Exception:
                log.warning("job sweep failed; trying again", exc_info=True)

    def close(self) -> None:
        self._quit.set()
        self._thread.join(timeout=5)
