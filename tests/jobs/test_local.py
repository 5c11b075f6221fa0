"""Jobs on the in-process executor (no broker), over HTTP, on SQLite and PostgreSQL.

Expected contents come from the database with plain queries, never from
markbook.exports; states are read back through the API and the table itself.
"""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.db import utcnow
from markbook.jobs.executors import Sweeper
from markbook.jobs.models import ExportJob
from markbook.records.models import Assignment, Grade
from markbook.settings import Settings
from tests import factories as f
from tests.exports.conftest import ExportSchool, csv_dicts
from tests.jobs.conftest import start, wait_for

GRADES_JOB = {"kind": "export", "dataset": "grades", "format": "csv"}


def _expected_grades(session: Session) -> set[tuple[str, str]]:
    rows = session.execute(
        select(Grade.student_id, Assignment.title).join(
            Assignment, Assignment.id == Grade.assignment_id
        )
    ).all()
    return {(str(student_id), title) for student_id, title in rows}


def test_an_export_job_runs_to_success_and_its_file_is_the_data(
    client: TestClient, session: Session, exports_school: ExportSchool, settings: Settings
) -> None:
    headers = exports_school.admin_headers
    body = {**GRADES_JOB, "spec": {"formula_guard": False}}
    response = client.post("/api/v1/jobs", json=body, headers=headers)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] in ("queued", "running", "succeeded")
    assert response.headers["location"].endswith(f"/api/v1/jobs/{job['id']}")
    done = wait_for(client, headers, job["id"])
    assert done["status"] == "succeeded", done
    assert done["percent"] == 100.0
    assert done["attempts"] == 1
    assert done["download_url"].endswith(f"/api/v1/jobs/{job['id']}/download")
    expires = dt.datetime.fromisoformat(done["expires_at"])
    finished = dt.datetime.fromisoformat(done["finished_at"])
    assert expires - finished == dt.timedelta(hours=settings.job_file_ttl_hours)

    download = client.get(done["download_url"], headers=headers)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = csv_dicts(download.content)
    assert done["rows_total"] == len(rows) == done["rows_done"]
    assert {(row["student_id"], row["assignment"]) for row in rows} == _expected_grades(session)
    assert int(download.headers["content-length"]) == done["file_size"]
    # Nothing but the file (and the audit list of students) is left in the job's folder.
    folder = settings.export_dir / "jobs" / job["id"]
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [done["file_name"], "students.json"]
    )


def test_a_job_is_only_visible_to_its_owner_and_administrators(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    teacher = f.auth(session, exports_school.algebra_teacher)
    other = f.auth(session, exports_school.art_teacher)
    job = start(client, teacher, {**GRADES_JOB, "spec": {"columns": ["student_id"]}})
    wait_for(client, teacher, job["id"])
    for path in ("", "/download", "/events"):
        answer = client.get(f"/api/v1/jobs/{job['id']}{path}", headers=other)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=other).status_code == 404
    assert (
        client.get(f"/api/v1/jobs/{job['id']}", headers=exports_school.admin_headers).status_code
        == 200
    )
    mine = client.get("/api/v1/jobs", headers=other).json()
    assert mine["total"] == 0
    everyone = client.get("/api/v1/jobs", headers=exports_school.admin_headers).json()
    assert [item["id"] for item in everyone["items"]] == [job["id"]]


def test_the_teachers_job_holds_only_their_students_rows(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    teacher = f.auth(session, exports_school.algebra_teacher)
    job = wait_for(client, teacher, start(client, teacher, GRADES_JOB)["id"])
    rows = csv_dicts(client.get(job["download_url"], headers=teacher).content)
    algebra = session.execute(
        select(Grade.student_id)
        .join(Assignment)
        .where(Assignment.course_id == exports_school.algebra.id)
    ).scalars()
    assert sorted(int(row["student_id"]) for row in rows) == sorted(algebra)


def test_a_bad_request_is_refused_before_it_is_queued(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"kind": "export", "dataset": "nope", "format": "csv"}, 404, "no dataset"),
        ({**GRADES_JOB, "spec": {"columns": ["nope"]}}, 422, "nope"),
        ({**GRADES_JOB, "format": "docx"}, 422, "format"),
        ({"kind": "mystery"}, 422, "kind"),
        ({**GRADES_JOB, "surprise": 1}, 422, "surprise"),
    ]
    for body, status, words in cases:
        answer = client.post("/api/v1/jobs", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert words in answer.text.lower()
    assert session.execute(select(ExportJob)).first() is None
    teacher = f.auth(session, exports_school.algebra_teacher)
    audit = client.post(
        "/api/v1/jobs", json={"kind": "export", "dataset": "audit_events"}, headers=teacher
    )
    assert audit.status_code == 403


def test_an_identical_request_returns_the_same_job_until_the_data_changes(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    first = wait_for(client, headers, start(client, headers, GRADES_JOB)["id"])
    again = client.post("/api/v1/jobs", json=GRADES_JOB, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    # Other options: another job.
    other = start(client, headers, {**GRADES_JOB, "format": "ndjson"})
    assert other["id"] != first["id"]
    # Another caller (same rows or not): their own job.
    teacher = f.auth(session, exports_school.algebra_teacher)
    assert start(client, teacher, GRADES_JOB)["id"] != first["id"]
    # A write to a grade changes the data: a new job.
    grade = session.execute(select(Grade).limit(1)).scalar_one()
    grade.feedback = "changed"
    session.commit()
    changed = client.post("/api/v1/jobs", json=GRADES_JOB, headers=headers)
    assert changed.status_code == 202
    assert changed.json()["id"] != first["id"]
    wait_for(client, headers, changed.json()["id"])
    # Clearing the export cache (admins only) forgets finished jobs.
    teacher_clear = client.delete("/api/v1/exports/cache", headers=teacher)
    assert teacher_clear.status_code == 403
    cleared = client.delete("/api/v1/exports/cache", headers=headers)
    assert cleared.status_code == 200
    assert cleared.json()["deleted"] >= 2
    fresh = client.post("/api/v1/jobs", json=GRADES_JOB, headers=headers)
    assert fresh.status_code == 202
    assert fresh.json()["id"] not in (first["id"], changed.json()["id"])


def test_a_job_still_queued_is_returned_to_an_identical_request(
    app: Any, session: Session, exports_school: ExportSchool
) -> None:
    # No lifespan and a paused executor: the job stays queued.
    app.state.jobs.submit = lambda job_id: None
    with TestClient(app) as client:
        headers = exports_school.admin_headers
        first = client.post("/api/v1/jobs", json=GRADES_JOB, headers=headers)
        second = client.post("/api/v1/jobs", json=GRADES_JOB, headers=headers)
        assert (first.status_code, second.status_code) == (202, 200)
        assert first.json()["id"] == second.json()["id"]
        assert second.json()["status"] == "queued"


def test_an_expired_job_says_so_and_its_file_is_gone(
    client: TestClient, app: Any, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    job = wait_for(client, headers, start(client, headers, GRADES_JOB)["id"])
    path = Path(session.get(ExportJob, job["id"]).file_path)
    assert path.is_file()
    session.execute(
        update(ExportJob)
        .where(ExportJob.id == job["id"])
        .values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    session.commit()
    # Even before the sweep, the job reads as expired and its file is refused.
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()["status"] == "expired"
    assert client.get(job["download_url"], headers=headers).status_code == 410
    swept = Sweeper(app.state.job_runtime, app.state.jobs).sweep_once()
    assert swept.expired == 1
    assert not path.exists()
    after = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    assert after["status"] == "expired"
    assert after["download_url"] is None
    gone = client.get(f"/api/v1/jobs/{job['id']}/download", headers=headers)
    assert gone.status_code == 410
    assert "expired" in gone.json()["detail"]
    # An identical request now starts a new job.
    assert client.post("/api/v1/jobs", json=GRADES_JOB, headers=headers).status_code == 202


def test_share_links_work_without_a_token_until_they_expire_and_refuse_tampering(
    client: TestClient, app: Any, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    job = wait_for(client, headers, start(client, headers, GRADES_JOB)["id"])
    owner_copy = client.get(job["download_url"], headers=headers).content
    link = client.post(f"/api/v1/jobs/{job['id']}/link", headers=headers)
    assert link.status_code == 200
    url = link.json()["url"]
    expires = dt.datetime.fromisoformat(link.json()["expires_at"])
    assert abs((expires - utcnow()).total_seconds() - 3600) < 60
    shared = client.get(url)  # no Authorization header
    assert shared.status_code == 200
    assert shared.content == owner_copy
    token = url.rsplit("/", 1)[1]
    # Change one character of the payload, then of the signature.
    for position in (2, len(token) - 2):
        flipped = (
            token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        )
        refused = client.get(f"/api/v1/downloads/{flipped}")
        assert refused.status_code == 403, position
        assert refused.headers["content-type"] == "application/problem+json"
    # A link that has expired.
    old = app.state.link_signer.sign(job["id"], utcnow() - dt.timedelta(seconds=1))
    expired = client.get(f"/api/v1/downloads/{old.token}")
    assert expired.status_code == 410
    assert "expired" in expired.json()["detail"]
    # A link never outlives the file.
    short = client.post(
        f"/api/v1/jobs/{job['id']}/link", json={"expires_in": 10**9}, headers=headers
    ).json()
    assert dt.datetime.fromisoformat(short["expires_at"]) <= dt.datetime.fromisoformat(
        job["expires_at"]
    )
    # Each download through the link is in the audit trail, naming no one as actor.
    downloads = (
        session.execute(
            select(AuditEvent).where(AuditEvent.action == "download", AuditEvent.actor_id.is_(None))
        )
        .scalars()
        .all()
    )
    assert downloads
    assert all(json.loads(json.dumps(event.detail))["via"] == "link" for event in downloads)


def test_a_link_to_a_job_that_has_not_succeeded_is_refused(
    app: Any, session: Session, exports_school: ExportSchool
) -> None:
    app.state.jobs.submit = lambda job_id: None
    with TestClient(app) as client:
        headers = exports_school.admin_headers
        job = start(client, headers, GRADES_JOB)
        answer = client.post(f"/api/v1/jobs/{job['id']}/link", headers=headers)
        assert answer.status_code == 409
        assert "still queued" in answer.json()["detail"]
        assert client.get(f"/api/v1/jobs/{job['id']}/download", headers=headers).status_code == 409


def test_a_job_whose_worker_went_silent_runs_again(
    client: TestClient, app: Any, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    app.state.jobs.submit_real = app.state.jobs.submit
    app.state.jobs.submit = lambda job_id: None
    job = start(client, headers, GRADES_JOB)
    # As a worker would leave it had it died mid-job.
    timeout = app.state.settings.job_heartbeat_timeout_seconds
    session.execute(
        update(ExportJob)
        .where(ExportJob.id == job["id"])
        .values(
            status="running", attempts=1, heartbeat_at=utcnow() - dt.timedelta(seconds=timeout + 1)
        )
    )
    session.commit()
    app.state.jobs.submit = app.state.jobs.submit_real
    swept = Sweeper(app.state.job_runtime, app.state.jobs).sweep_once()
    assert swept.requeued == [job["id"]]
    done = wait_for(client, headers, job["id"])
    assert done["status"] == "succeeded"
    assert done["attempts"] == 2


def test_a_job_that_lost_its_worker_too_often_fails_with_a_reason(
    client: TestClient, app: Any, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    app.state.jobs.submit = lambda job_id: None
    job = start(client, headers, GRADES_JOB)
    settings = app.state.settings
    session.execute(
        update(ExportJob)
        .where(ExportJob.id == job["id"])
        .values(
            status="running",
            attempts=settings.job_max_attempts,
            heartbeat_at=utcnow()
            - dt.timedelta(seconds=settings.job_heartbeat_timeout_seconds + 1),
        )
    )
    session.commit()
    swept = Sweeper(app.state.job_runtime, app.state.jobs).sweep_once()
    assert swept.failed == 1
    failed = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    assert failed["status"] == "failed"
    assert "stopped responding" in failed["error"]


def test_a_job_over_the_row_limit_fails_with_the_reason(
    client: TestClient, app: Any, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    app.state.job_runtime.settings = app.state.job_runtime.settings.model_copy(
        update={"export_max_rows": 2}
    )
    failed = wait_for(client, headers, start(client, headers, GRADES_JOB)["id"])
    assert failed["status"] == "failed"
    assert "MARKBOOK_EXPORT_MAX_ROWS" in failed["error"]
    assert failed["download_url"] is None
    cancel = client.delete(f"/api/v1/jobs/{failed['id']}", headers=headers)
    assert cancel.status_code == 409


def test_a_workbook_job_makes_one_xlsx_with_a_sheet_per_dataset(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    import openpyxl

    headers = exports_school.admin_headers
    body = {
        "kind": "workbook",
        "sheets": [
            {"name": "Grades", "dataset": "grades"},
            {"name": "Students", "dataset": "students"},
        ],
    }
    job = wait_for(client, headers, start(client, headers, body)["id"])
    assert job["status"] == "succeeded", job
    book = openpyxl.load_workbook(BytesIO(client.get(job["download_url"], headers=headers).content))
    assert book.sheetnames == ["Grades", "Students"]
    assert book["Grades"].max_row - 1 == len(_expected_grades(session))


def test_listing_filters_by_status(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    job = wait_for(client, headers, start(client, headers, GRADES_JOB)["id"])
    listed = client.get("/api/v1/jobs?status=succeeded", headers=headers).json()
    assert [item["id"] for item in listed["items"]] == [job["id"]]
    assert client.get("/api/v1/jobs?status=failed", headers=headers).json()["total"] == 0
    assert client.get("/api/v1/jobs?status=nope", headers=headers).status_code == 422
