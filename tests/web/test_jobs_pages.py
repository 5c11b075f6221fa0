"""The report-cards page, My jobs and the job page: start, follow, download, share, cancel.

Jobs run on the in-process executor. What a file must hold comes from the database
with plain queries; states are read back from the table itself.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import time
import zipfile
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.jobs.models import ExportJob
from markbook.records.models import Student
from tests import factories as f
from tests.exports.conftest import ExportSchool, build_exports_school
from tests.web.conftest import csrf_of, sign_in

PERIOD = {"start": "2026-09-01", "end": "2026-12-31"}
FINAL = {"succeeded", "failed", "cancelled", "expired"}
_JOB_URL = re.compile(r"^/jobs/(?P<id>[0-9a-f]{32})$")


@pytest.fixture
def exports_school(session: Session) -> ExportSchool:
    return build_exports_school(session)


def job_status(session: Session, job_id: str) -> str:
    session.rollback()  # a new transaction: see what the app has committed since
    return str(session.execute(select(ExportJob.status).where(ExportJob.id == job_id)).scalar_one())


def wait_for_job(session: Session, job_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (status := job_status(session, job_id)) not in FINAL:
        assert time.monotonic() < deadline, f"job {job_id} still {status} after {timeout} s"
        time.sleep(0.05)
    return status


def job_count(session: Session) -> int:
    session.rollback()
    return int(session.execute(select(func.count()).select_from(ExportJob)).scalar_one())


def started_job(response: Any) -> str:
    """The id of the job a form post started (it answers 303 to the job's page)."""
    assert response.status_code == 303, response.text
    match = _JOB_URL.match(response.headers["location"])
    assert match, response.headers["location"]
    return match["id"]


def start_cards(client: TestClient, csrf: str, **fields: Any) -> str:
    data = {"csrf_token": csrf, "format": "pdf-zip", **PERIOD, **fields}
    return started_job(client.post("/report-cards", data=data, follow_redirects=False))


def grade_twelve(session: Session, count: int) -> list[Student]:
    students = [f.student(session, grade_level=12) for _ in range(count)]
    session.commit()
    return students


def events(client: TestClient, url: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", url) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and name:
                found.append((name, json.loads(line.split(":", 1)[1])))
                name = None
    return found


def is_page(response: Any) -> None:
    """A friendly HTML page: never JSON, never a stack trace."""
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert "Traceback" not in response.text
    assert '"detail"' not in response.text


def test_the_report_cards_form_starts_a_job_that_makes_a_pdf_per_student(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    students = grade_twelve(session, 3)
    csrf = sign_in(client, exports_school.admin.email)
    form = client.get("/report-cards")
    assert form.status_code == 200
    # The multi-select lists the students; one radio group chooses how to choose.
    for student in students:
        assert f'<option value="{student.id}">' in form.text
    assert form.text.count('name="selection"') == 3
    assert re.search(r'<label for="student_ids"', form.text)

    job_id = start_cards(client, csrf, selection="grade_level", grade_level="12")
    assert wait_for_job(session, job_id) == "succeeded"
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert 'class="badge succeeded">succeeded<' in page.text
    assert f'href="/jobs/{job_id}/download"' in page.text
    assert "data-events=" not in page.text  # a finished job is not followed
    assert "3 made" in page.text and "0 failed" in page.text

    download = client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
        assert len(pdfs) == len(students)
        assert all(archive.read(name).startswith(b"%PDF") for name in pdfs)
    # The download is audited as the web's, naming the students.
    session.rollback()
    audited = session.execute(
        select(AuditEvent.student_id).where(
            AuditEvent.action == "download", AuditEvent.channel == "web"
        )
    ).scalars()
    assert set(audited) == {s.id for s in students}


def test_chosen_students_make_a_job_of_just_them_and_the_job_page_lists_failures(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    chosen = [exports_school.jose.id, exports_school.anna.id]
    job_id = start_cards(
        client, csrf, selection="students", student_ids=[str(i) for i in chosen], format="csv"
    )
    assert wait_for_job(session, job_id) == "succeeded"
    session.rollback()
    job = session.get(ExportJob, job_id)
    assert job is not None
    assert job.params["student_ids"] == chosen
    assert job.result == {"students": 2, "succeeded": 2, "failed": 0, "failures": []}
    # A student the teacher may not see fails alone, and the page says why.
    li = exports_school.li.id
    other = start_cards(
        client, csrf, selection="students", student_ids=[str(chosen[0]), str(li)], format="csv"
    )
    assert wait_for_job(session, other) == "succeeded"
    page = client.get(f"/jobs/{other}")
    assert "1 failed" in page.text
    assert html.escape(f"There is no student {li} that you may see.") in page.text


def test_mistakes_in_the_report_cards_form_come_back_as_the_form(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    cases = [
        ({"selection": "students"}, 422, "Choose at least one student"),
        ({"selection": "grade_level", "grade_level": ""}, 422, "Choose a grade level"),
        ({"selection": "grade_level", "grade_level": "10", "start": "2026-02-30"}, 422, "date"),
        ({"selection": "grade_level", "grade_level": "10", "format": "docx"}, 422, "format"),
        (
            {
                "selection": "grade_level",
                "grade_level": "10",
                "start": "2026-12-01",
                "end": "2026-09-01",
            },
            422,
            "swap the dates",
        ),
        # Art is not the algebra teacher's course.
        ({"selection": "course", "course_id": str(exports_school.art.id)}, 404, "no course"),
    ]
    for fields, status, words in cases:
        answer = client.post("/report-cards", data={"csrf_token": csrf, "format": "pdf", **fields})
        assert answer.status_code == status, (fields, answer.text)
        is_page(answer)
        assert words in answer.text, fields
        assert 'role="alert"' in answer.text
        assert "/api/v1/" not in answer.text
    # The choices are kept: the chosen format and grade level are still chosen.
    kept = client.post(
        "/report-cards",
        data={
            "csrf_token": csrf,
            "selection": "grade_level",
            "grade_level": "11",
            "start": "2026-02-30",
            "format": "xlsx",
        },
    )
    assert re.search(
        r'id="selection-grade_level" name="selection" value="grade_level" checked', kept.text
    )
    assert re.search(r'id="format-xlsx" name="format" value="xlsx" checked', kept.text)
    assert '<option value="11" selected>' in kept.text
    assert job_count(session) == 0


def test_forms_without_the_right_csrf_token_are_refused_and_change_nothing(
    app: FastAPI, session: Session, exports_school: ExportSchool
) -> None:
    app.state.jobs.submit = lambda job_id: None  # jobs stay queued
    with TestClient(app, raise_server_exceptions=False) as client:
        csrf = sign_in(client, exports_school.algebra_teacher.email)
        job_id = start_cards(client, csrf, selection="grade_level", grade_level="10")
        posts = [
            ("/report-cards", {"selection": "grade_level", "grade_level": "10", "format": "csv"}),
            ("/exports", {"dataset": "grades", "format": "csv", "columns": "grade_id"}),
            (f"/jobs/{job_id}/cancel", {}),
            (f"/jobs/{job_id}/link", {}),
        ]
        for path, data in posts:
            for token in (None, "0" * 64, csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
                sent = {**data, **({"csrf_token": token} if token is not None else {})}
                answer = client.post(path, data=sent, follow_redirects=False)
                assert answer.status_code == 403, (path, token, answer.text)
                is_page(answer)
                assert "expired" in answer.text
        assert job_count(session) == 1
        assert job_status(session, job_id) == "queued"


def test_a_queued_job_can_be_cancelled_from_the_list(
    app: FastAPI, session: Session, exports_school: ExportSchool
) -> None:
    app.state.jobs.submit = lambda job_id: None  # jobs stay queued
    with TestClient(app, raise_server_exceptions=False) as client:
        csrf = sign_in(client, exports_school.algebra_teacher.email)
        job_id = start_cards(client, csrf, selection="grade_level", grade_level="10")
        listed = client.get("/jobs")
        assert f'action="/jobs/{job_id}/cancel"' in listed.text
        assert 'data-confirm="' in listed.text
        page = client.get(f"/jobs/{job_id}")
        assert f'data-events="/jobs/{job_id}/events"' in page.text  # followed live
        assert "<progress" in page.text
        # Not downloadable yet: no download, and asking for a link says why.
        assert f'href="/jobs/{job_id}/download"' not in page.text
        link = client.post(f"/jobs/{job_id}/link", data={"csrf_token": csrf})
        assert link.status_code == 409
        is_page(link)
        assert "still queued" in link.text

        answer = client.post(
            f"/jobs/{job_id}/cancel",
            data={"csrf_token": csrf, "next": "/jobs"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/jobs"
        assert job_status(session, job_id) == "cancelled"
        assert f'action="/jobs/{job_id}/cancel"' not in client.get("/jobs").text
        # "next" never leaves the site.
        again = client.post(
            f"/jobs/{job_id}/cancel",
            data={"csrf_token": csrf, "next": "//evil.example"},
            follow_redirects=False,
        )
        assert again.headers["location"] == f"/jobs/{job_id}"


def test_a_share_link_is_shown_and_downloads_without_signing_in(
    client: TestClient, app: FastAPI, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    job_id = start_cards(client, csrf, selection="grade_level", grade_level="10", format="csv")
    assert wait_for_job(session, job_id) == "succeeded"
    owner_copy = client.get(f"/jobs/{job_id}/download").content
    page = client.post(f"/jobs/{job_id}/link", data={"csrf_token": csrf})
    assert page.status_code == 200
    match = re.search(r'<input id="share-url"[^>]*value="(?P<url>[^"]+)" readonly>', page.text)
    assert match, page.text
    assert 'data-copy="share-url"' in page.text
    assert '<label for="share-url">' in page.text
    with TestClient(app) as stranger:  # no session cookie
        shared = stranger.get(html.unescape(match["url"]))
    assert shared.status_code == 200
    assert shared.content == owner_copy
    # Cancelling a finished job says it cannot, on the job's page.
    refused = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": csrf})
    assert refused.status_code == 409
    is_page(refused)
    assert "already succeeded" in refused.text


def test_jobs_are_only_anyones_own(
    client: TestClient, app: FastAPI, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    mine = start_cards(client, csrf, selection="grade_level", grade_level="10", format="csv")
    assert wait_for_job(session, mine) == "succeeded"
    assert f'href="/jobs/{mine}"' in client.get("/jobs").text

    with TestClient(app, raise_server_exceptions=False) as other:
        other_csrf = sign_in(other, exports_school.art_teacher.email)
        for path in ("", "/events", "/download"):
            answer = other.get(f"/jobs/{mine}{path}")
            assert answer.status_code == 404, path
            is_page(answer)
        for path in ("/cancel", "/link"):
            answer = other.post(f"/jobs/{mine}{path}", data={"csrf_token": other_csrf})
            assert answer.status_code == 404, path
        listed = other.get("/jobs")
        assert mine not in listed.text
        assert "You have not started any jobs yet" in listed.text
        theirs = start_cards(other, other_csrf, selection="grade_level", grade_level="10")
        assert theirs != mine
        assert wait_for_job(session, theirs) == "succeeded"
    # An administrator may open anyone's job, but My jobs lists only their own.
    with TestClient(app, raise_server_exceptions=False) as admin:
        sign_in(admin, exports_school.admin.email)
        assert admin.get(f"/jobs/{mine}").status_code == 200
        listed = admin.get("/jobs")
        assert mine not in listed.text and theirs not in listed.text
    listed = client.get("/jobs")
    assert mine in listed.text and theirs not in listed.text
    # Signed out, the pages send the browser to sign in.
    with TestClient(app) as anonymous:
        answer = anonymous.get(f"/jobs/{mine}/events", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/signin")


def test_the_event_stream_of_a_finished_job_is_its_end(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    job_id = start_cards(client, csrf, selection="grade_level", grade_level="10", format="csv")
    assert wait_for_job(session, job_id) == "succeeded"
    stream = events(client, f"/jobs/{job_id}/events")
    assert [name for name, _ in stream] == ["end"]
    final = stream[0][1]
    assert final["status"] == "succeeded"
    assert final["percent"] == 100.0
    assert final["id"] == job_id
    assert csrf_of(client.get("/jobs").text) == csrf


def test_a_courses_cards_cover_its_own_dates_when_none_are_given(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    # The course ran in an earlier term: with the current term as the period it would
    # have no students at all.
    spring = f.course(
        session,
        exports_school.algebra_teacher,
        "Spring Algebra",
        start=dt.date(2025, 1, 6),
        end=dt.date(2025, 5, 30),
        term="2024-25 Spring",
    )
    f.enroll(session, exports_school.jose, spring)
    session.commit()
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    data = {"csrf_token": csrf, "format": "csv", "selection": "course", "course_id": spring.id}
    job_id = started_job(client.post("/report-cards", data=data, follow_redirects=False))
    assert wait_for_job(session, job_id) == "succeeded"
    job = session.get(ExportJob, job_id)
    assert job is not None
    assert (job.params["start"], job.params["end"]) == ("2025-01-06", "2025-05-30")
    assert job.result is not None and job.result["succeeded"] == 1


def test_a_choice_that_matches_no_student_is_said_and_starts_nothing(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.admin.email)
    answer = client.post(
        "/report-cards",
        data={"csrf_token": csrf, "selection": "grade_level", "grade_level": "3", **PERIOD},
    )
    assert answer.status_code == 422
    is_page(answer)
    assert "No student you may see matches this choice" in html.unescape(answer.text)
    api = client.post(
        "/api/v1/jobs",
        json={"kind": "report_cards", "grade_level": 3, **PERIOD},
        headers=exports_school.admin_headers,
    )
    assert api.status_code == 422
    assert api.json()["errors"] == [{"field": "grade_level", "message": "no students match"}]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ExportJob)) == 0
