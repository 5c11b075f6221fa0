"""The Celery side: the app ``markbook worker`` runs, and its two tasks.

Celery is set up for work that must not be lost (Celery's "Tasks" guide on
acks_late): a message is acknowledged only after the task returns, and one whose
worker process died (SIGKILL, out of memory) is put back on the queue
(``reject_on_worker_lost``); each process takes one message at a time (prefetch
1), so a long job does not hold others hostage. The job row stays the truth: a
message delivered twice finds the job claimed and waits, never runs it twice.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery

from markbook.db import make_engine, make_sessionmaker
from markbook.jobs.runner import JobBusy, Runtime, TransientJobError, help_job, run_job
from markbook.settings import Settings, get_settings

log = logging.getLogger(__name__)

RUN_JOB = "markbook.run_job"
HELP_JOB = "markbook.help_job"
QUEUE = "markbook"

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def make_celery(settings: Settings) -> Celery:
    app = Celery("markbook", broker=settings.broker_url, set_as_current=False)
    time_limit = settings.job_time_limit_seconds
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        # Our own heartbeat stops a job at its time limit; the hard limit is the
        # backstop for a process that no longer answers at all.
        task_time_limit=time_limit + 120,
        # Redis redelivers a message not acknowledged within this time; longer than
        # any job, or a long job would be delivered again while it runs.
        broker_transport_options={"visibility_timeout": time_limit + 600},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    max_attempts = settings.job_max_attempts
    wait = settings.job_heartbeat_timeout_seconds

    @app.task(  # type: ignore[untyped-decorator]
        name=RUN_JOB,
        bind=True,
        autoretry_for=(TransientJobError,),
        retry_backoff=2,
        retry_backoff_max=120,
        retry_jitter=True,
        max_retries=max_attempts,
    )
    def run(task: Any, job_id: str) -> str:
        try:
            return run_job(worker_runtime(), job_id)
        except JobBusy:
            # Claimed by a worker that may have just died (this message is the
            # redelivery): look again once its heartbeat has had time to go stale.
            raise task.retry(countdown=wait + 1, max_retries=None) from None

    @app.task(name=HELP_JOB)  # type: ignore[untyped-decorator]
    def help_(job_id: str) -> int:
        return help_job(worker_runtime(), job_id)

    return app


def worker_runtime() -> Runtime:
    """This worker process's runtime, built at its first task (after the fork, so no
    database connection is shared between processes)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            settings = get_settings()
            engine = make_engine(settings)
            app = make_celery(settings)

            def ask_for_help(job_id: str, count: int) -> None:
                for _ in range(count):
                    app.send_task(HELP_JOB, args=[job_id])

            _runtime = Runtime(settings, engine, make_sessionmaker(engine), ask_for_help)
        return _runtime


def celery_ask_for_help(settings: Settings) -> Any:
    app = make_celery(settings)

    def ask(job_id: str, count: int) -> None:
        for _ in range(count):
            app.send_task(HELP_JOB, args=[job_id])

    return ask
