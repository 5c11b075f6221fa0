"""Jobs on Celery: a real `markbook worker` process (two pool processes) taking jobs
from the real Redis broker, on PostgreSQL, as deployed at scale."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from markbook.app import create_app
from markbook.db import make_engine, make_sessionmaker
from markbook.jobs.models import ExportJob, ExportJobPart
from markbook.jobs.tasks import QUEUE
from markbook.records.models import Assignment, Grade, Student
from markbook.settings import Settings
from tests import factories as f
from tests.conftest import REDIS_URL, TEST_SECRET, make_database, unavailable
from tests.exports.conftest import ExportSchool, build_exports_school, csv_dicts, csv_rows
from tests.jobs.conftest import start, wait_for

# A Redis database of its own, emptied first: other test runs' queues stay apart.
REDIS_BROKER = REDIS_URL.rsplit("/", 1)[0] + "/14"
RABBITMQ_BROKER = os.environ.get("MARKBOOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
HEARTBEAT_TIMEOUT = 3
# One xdist worker runs all of these (the test command passes --dist loadfile): the
# brokers and their "markbook" queue are shared, so two test processes' Celery
# workers would take each other's tasks.
EXTRA_STUDENTS = 24
SLOW_STUDENTS = 150


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, redis_url: str) -> str:
    """The broker's URL, its queue emptied of anything an earlier run left."""
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_BROKER)
        client.flushdb()
        client.close()
        return REDIS_BROKER
    from kombu import Connection

    try:
        with Connection(RABBITMQ_BROKER, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            channel.queue_declare(QUEUE, durable=True, auto_delete=False)
            channel.queue_purge(QUEUE)
    except Exception as error:
        unavailable(f"RabbitMQ at {RABBITMQ_BROKER}", error)
    return RABBITMQ_BROKER


@pytest.fixture(scope="module")
def celery_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, broker: str
) -> Settings:
    url = make_database("postgresql", "celery", request, tmp_path_factory)
    return Settings(
        database_url=url,
        secret_key=TEST_SECRET,
        broker_url=broker,
        export_dir=tmp_path_factory.mktemp("celery") / "exports",
        school_name="Celery High",
        job_heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT,
        report_cards_part_students=4,
        export_batch_rows=20,
    )


@pytest.fixture(scope="module")
def school(celery_settings: Settings) -> ExportSchool:
    engine = make_engine(celery_settings)
    with make_sessionmaker(engine)() as session:
        built = build_exports_school(session)
        session.commit()
        # Students for report cards in several parts, and enough of them for a job
        # still running when its worker is killed.
        for _ in range(EXTRA_STUDENTS):
            f.student(session, grade_level=11)
        for _ in range(SLOW_STUDENTS):
            f.student(session, grade_level=12)
        session.commit()
        session.expunge_all()
    engine.dispose()
    return built


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MARKBOOK_DATABASE_URL=settings.database_url,
        MARKBOOK_BROKER_URL=str(settings.broker_url),
        MARKBOOK_EXPORT_DIR=str(settings.export_dir),
        MARKBOOK_SECRET_KEY=TEST_SECRET,
        MARKBOOK_SCHOOL_NAME=settings.school_name,
        MARKBOOK_JOB_HEARTBEAT_TIMEOUT_SECONDS=str(HEARTBEAT_TIMEOUT),
        MARKBOOK_REPORT_CARDS_PART_STUDENTS=str(settings.report_cards_part_students),
        MARKBOOK_EXPORT_BATCH_ROWS=str(settings.export_batch_rows),
        MARKBOOK_LOG_LEVEL="INFO",
    )
    return env


class WorkerProcess:
    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "markbook", "worker", "--concurrency", "2"],
            env=_env(settings),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while b"ready." not in log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("markbook worker did not start:\n" + self.text())
            time.sleep(0.1)

    def text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")[-6000:]

    def children(self) -> list[int]:
        """The pool processes (the master's children)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def worker(
    celery_settings: Settings, school: ExportSchool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(celery_settings, tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.stop()


@pytest.fixture
def client(celery_settings: Settings, worker: WorkerProcess) -> Iterator[TestClient]:
    app = create_app(celery_settings)
    assert app.state.jobs.name == "celery"
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(celery_settings: Settings) -> Iterator[Session]:
    engine = make_engine(celery_settings)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def test_an_export_job_runs_on_a_celery_worker(
    client: TestClient, school: ExportSchool, db: Session, worker: WorkerProcess
) -> None:
    headers = school.admin_headers
    job = start(client, headers, {"kind": "export", "dataset": "grades", "format": "csv"})
    done = wait_for(client, headers, job["id"], timeout=60)
    assert done["status"] == "succeeded", (done, worker.text())
    rows = csv_dicts(client.get(done["download_url"], headers=headers).content)
    assert len(rows) == db.execute(select(func.count()).select_from(Grade)).scalar_one()
    assert {int(row["student_id"]) for row in rows} == set(
        db.execute(select(Grade.student_id).join(Assignment)).scalars()
    )


def test_report_cards_are_shared_out_in_parts_and_assembled(
    client: TestClient, school: ExportSchool, db: Session, worker: WorkerProcess
) -> None:
    headers = school.admin_headers
    students = db.execute(select(Student.id, Student.name).where(Student.grade_level == 11)).all()
    assert len(students) == EXTRA_STUDENTS
    job = start(
        client,
        headers,
        {
            "kind": "report_cards",
            "grade_level": 11,
            "format": "pdf-zip",
            "start": "2026-09-01",
            "end": "2026-12-31",
        },
    )
    done = wait_for(client, headers, job["id"], timeout=120)
    assert done["status"] == "succeeded", (done, worker.text())
    assert done["rows_done"] == done["rows_total"] == EXTRA_STUDENTS
    assert done["result"]["succeeded"] == EXTRA_STUDENTS
    assert done["result"]["failed"] == 0
    archive = zipfile.ZipFile(io.BytesIO(client.get(done["download_url"], headers=headers).content))
    pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
    assert len(pdfs) == EXTRA_STUDENTS
    summary = csv_rows(archive.read("summary.csv"))
    assert {row[0] for row in summary[1 : 1 + EXTRA_STUDENTS]} == {str(i) for i, _ in students}
    # The parts are gone once the file is made.
    assert (
        db.execute(select(ExportJobPart).where(ExportJobPart.job_id == job["id"])).first() is None
    )


def test_a_job_whose_worker_is_killed_runs_again_and_its_file_is_complete(
    client: TestClient, school: ExportSchool, db: Session, worker: WorkerProcess
) -> None:
    headers = school.admin_headers
    body = {"kind": "report_cards", "grade_level": 12, "format": "pdf-zip"}
    job = start(client, headers, body)
    deadline = time.monotonic() + 30
    running = job
    while not (running["status"] == "running" and running["rows_done"] > 0):
        assert time.monotonic() < deadline and running["status"] in ("queued", "running"), running
        time.sleep(0.05)
        running = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    assert running["rows_done"] < SLOW_STUDENTS
    # Every pool process dies at once (the run that claimed the job and its helpers).
    children = worker.children()
    assert len(children) == 2
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    done = wait_for(client, headers, job["id"], timeout=120)
    assert done["status"] == "succeeded", (done, worker.text())
    assert done["attempts"] == 2
    assert done["rows_done"] == done["rows_total"] == SLOW_STUDENTS
    archive = zipfile.ZipFile(io.BytesIO(client.get(done["download_url"], headers=headers).content))
    assert archive.testzip() is None
    pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
    assert len(pdfs) == SLOW_STUDENTS
    assert all(archive.read(name).startswith(b"%PDF-") for name in pdfs)
    expected = set(db.execute(select(Student.id).where(Student.grade_level == 12)).scalars())
    summary = csv_rows(archive.read("summary.csv"))
    assert {int(row[0]) for row in summary[1 : 1 + SLOW_STUDENTS]} == expected
    # No temporary or partial file is left beside the finished one.
    job_dir = Path(str(db.get(ExportJob, job["id"]).file_path)).parent
    assert sorted(path.name for path in job_dir.iterdir()) == sorted(
        [done["file_name"], "students.json"]
    )


def test_a_running_celery_job_is_cancelled_within_two_seconds(
    client: TestClient, school: ExportSchool, db: Session, celery_settings: Settings
) -> None:
    headers = school.admin_headers
    body = {"kind": "report_cards", "grade_level": 12, "format": "pdf"}
    job = start(client, headers, body)
    deadline = time.monotonic() + 30
    state = job
    while not (state["status"] == "running" and state["rows_done"] > 0):
        assert time.monotonic() < deadline and state["status"] in ("queued", "running"), state
        time.sleep(0.05)
        state = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    cancelled_at = time.monotonic()
    answer = client.delete(f"/api/v1/jobs/{job['id']}", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    job_dir = celery_settings.export_dir / "jobs" / job["id"]
    while job_dir.exists():
        assert time.monotonic() - cancelled_at < 2.0, list(job_dir.iterdir())
        time.sleep(0.05)
    # It stays cancelled, with no file.
    time.sleep(1)
    final = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    assert final["status"] == "cancelled"
    assert final["download_url"] is None
    assert not job_dir.exists()


def test_a_second_worker_on_the_same_machine_starts_beside_the_first(
    celery_settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    # Celery names a worker celery@<host> unless told otherwise, and a second worker of
    # the same name cannot take the broker's exclusive control queue (RabbitMQ refuses
    # it: RESOURCE_LOCKED). Each markbook worker names itself after its process id.
    second = WorkerProcess(celery_settings, tmp_path / "second.log")
    try:
        for started in (worker, second):
            banner = started.log_path.read_text(encoding="utf-8", errors="replace")
            assert f"markbook-{started.process.pid}@" in banner
    finally:
        second.stop()
