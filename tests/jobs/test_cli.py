"""`markbook jobs ...` and `markbook worker`, run as an operator runs them: real processes."""

from __future__ import annotations

import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from markbook.settings import Settings
from tests.conftest import TEST_SECRET
from tests.exports.conftest import ExportSchool
from tests.jobs.conftest import start, wait_for


def _markbook(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "MARKBOOK_DATABASE_URL": settings.database_url,
        "MARKBOOK_SECRET_KEY": TEST_SECRET,
        "MARKBOOK_EXPORT_DIR": str(settings.export_dir),
        "COLUMNS": "200",
        **env,
    }
    environment.pop("MARKBOOK_BROKER_URL", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "markbook", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_jobs_list_show_and_wait(
    client: TestClient, session: Session, exports_school: ExportSchool, settings: Settings
) -> None:
    headers = exports_school.admin_headers
    job = wait_for(
        client, headers, start(client, headers, {"kind": "export", "dataset": "grades"})["id"]
    )
    listed = _markbook(settings, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    assert job["id"] in listed.stderr and "succeeded" in listed.stderr
    assert "1 of 1 jobs" in listed.stderr
    assert "0 of 0 jobs" in _markbook(settings, "jobs", "list", "--status", "failed").stderr
    shown = _markbook(settings, "jobs", "show", job["id"])
    assert shown.returncode == 0
    assert job["file_name"] in shown.stderr
    waited = _markbook(settings, "jobs", "wait", job["id"])
    assert waited.returncode == 0, waited.stderr
    assert "succeeded" in waited.stderr and job["file_name"] in waited.stderr
    missing = _markbook(settings, "jobs", "wait", "0" * 32)
    assert missing.returncode == 1
    assert "no job" in missing.stderr


def test_waiting_for_a_failed_job_exits_1_with_its_error(
    client: TestClient,
    app: object,
    session: Session,
    exports_school: ExportSchool,
    settings: Settings,
) -> None:
    headers = exports_school.admin_headers
    runtime = app.state.job_runtime  # type: ignore[attr-defined]
    runtime.settings = runtime.settings.model_copy(update={"export_max_rows": 1})
    job = wait_for(
        client, headers, start(client, headers, {"kind": "export", "dataset": "grades"})["id"]
    )
    assert job["status"] == "failed"
    waited = _markbook(settings, "jobs", "wait", job["id"])
    assert waited.returncode == 1
    assert "MARKBOOK_EXPORT_MAX_ROWS" in waited.stderr.replace("\n", "")


def test_worker_without_a_broker_says_what_to_set(settings: Settings) -> None:
    result = _markbook(settings, "worker")
    assert result.returncode == 1
    assert "MARKBOOK_BROKER_URL" in result.stderr
