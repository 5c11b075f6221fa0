"""The exports page: datasets and their columns, "Download now", "Start as a job", and
mistakes shown as the page with a sentence, never JSON or a 500.

Expected rows come from the database with plain queries, never from markbook.exports.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.exports.datasets import DATASETS
from markbook.jobs.models import ExportJob
from markbook.records.models import Assignment, Grade
from tests.exports.conftest import ExportSchool, build_exports_school, csv_dicts, csv_rows
from tests.web.conftest import sign_in

BOM = b"\xef\xbb\xbf"
_CHECKED = re.compile(r'name="columns" value="(?P<name>\w+)"(?P<checked> checked)?>')


@pytest.fixture
def exports_school(session: Session) -> ExportSchool:
    return build_exports_school(session)


def ticked(page: str) -> dict[str, bool]:
    """Each column checkbox of the page, and whether it is ticked."""
    return {m["name"]: bool(m["checked"]) for m in _CHECKED.finditer(page)}


def options(page: str, select_id: str) -> set[str]:
    """The values of the options of the page's <select id=select_id>."""
    block = re.search(rf'<select id="{select_id}".*?</select>', page, re.DOTALL)
    assert block, select_id
    return set(re.findall(r'<option value="(\d+)"', block[0]))


def form(csrf: str, action: str, **fields: Any) -> dict[str, Any]:
    return {
        "csrf_token": csrf,
        "action": action,
        "dataset": "grades",
        "format": "csv",
        "date_format": "iso",
        "delimiter": "comma",
        "bom": "1",
        **fields,
    }


def algebra_grades(session: Session, school: ExportSchool) -> set[tuple[str, str, str]]:
    session.rollback()
    rows = session.execute(
        select(Grade.student_id, Grade.assignment_id, Grade.status)
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .where(Assignment.course_id == school.algebra.id)
    ).all()
    return {(str(student), str(assignment), status) for student, assignment, status in rows}


def job_status(session: Session, job_id: str) -> str:
    session.rollback()  # a new transaction: see what the app has committed since
    return str(session.execute(select(ExportJob.status).where(ExportJob.id == job_id)).scalar_one())


def is_page(response: Any) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert "Traceback" not in response.text
    assert '"detail"' not in response.text
    assert 'role="alert"' in response.text


def test_the_page_lists_the_datasets_columns_as_checkboxes(
    client: TestClient, exports_school: ExportSchool
) -> None:
    sign_in(client, exports_school.algebra_teacher.email)
    page = client.get("/exports?dataset=grades")
    assert page.status_code == 200
    columns = ticked(page.text)
    assert list(columns) == [c.name for c in DATASETS["grades"].columns]
    assert all(columns.values())  # grades' default columns are all of them
    for column in DATASETS["grades"].columns:
        assert f'<label for="col-{column.name}"' in page.text
    assert "<legend>Columns</legend>" in page.text
    assert 'data-check-all="columns-group"' in page.text
    # Filters the dataset takes: courses and students, and the dates of its date column.
    assert 'name="course_ids"' in page.text and 'name="student_ids"' in page.text
    assert 'name="metric_types"' not in page.text
    assert "Dates apply to “Due”" in page.text
    # The teacher's course and students, not the others'.
    assert options(page.text, "course_ids") == {str(exports_school.algebra.id)}
    assert options(page.text, "student_ids") == {
        str(exports_school.anna.id),
        str(exports_school.jose.id),
    }
    # Analytics takes metric types: the ones recorded for the teacher's students.
    analytics = client.get("/exports?dataset=analytics").text
    assert 'value="time_on_task"' in analytics
    # class_analytics ticks its own defaults, not every column.
    classes = ticked(client.get("/exports?dataset=class_analytics").text)
    assert classes["week_start"] is False and classes["mean"] is True
    # Admin-only datasets are for admins.
    assert 'value="audit_events"' not in page.text
    refused = client.get("/exports?dataset=audit_events")
    assert refused.status_code == 404
    is_page(refused)
    assert "no dataset &#39;audit_events&#39; that you may export" in refused.text


def test_admins_see_admin_only_datasets(client: TestClient, exports_school: ExportSchool) -> None:
    sign_in(client, exports_school.admin.email)
    page = client.get("/exports?dataset=audit_events")
    assert page.status_code == 200
    assert list(ticked(page.text)) == [c.name for c in DATASETS["audit_events"].columns]
    # Every dataset's form can be drawn.
    for name, dataset in DATASETS.items():
        page = client.get(f"/exports?dataset={name}")
        assert page.status_code == 200, name
        assert f'value="{name}" selected' in page.text
        assert list(ticked(page.text)) == [c.name for c in dataset.columns]
        assert ('name="start"' in page.text) == (dataset.date_column is not None)


def test_download_now_streams_the_rows_the_database_holds(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    columns = ["student_id", "assignment_id", "status"]
    answer = client.post(
        "/exports", data=form(csrf, "download", columns=columns), follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    target = answer.headers["location"]
    assert urlsplit(target).path == "/exports/grades.csv"
    assert "csrf" not in target
    assert parse_qs(urlsplit(target).query)["columns"] == columns
    download = client.get(target)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.content.startswith(BOM)
    rows = csv_dicts(download.content)
    assert list(rows[0]) == columns
    got = {(row["student_id"], row["assignment_id"], row["status"]) for row in rows}
    assert len(rows) == len(got) == len(algebra_grades(session, exports_school))
    assert got == algebra_grades(session, exports_school)
    # The export is in the audit trail as the web's, naming the students it held.
    audited = session.execute(
        select(AuditEvent.student_id).where(
            AuditEvent.action == "export", AuditEvent.channel == "web"
        )
    ).scalars()
    assert {str(i) for i in audited} == {row["student_id"] for row in rows}

    # Unticked BOM, a semicolon, one student, a period: straight from a query string.
    jose = exports_school.jose.id
    narrowed = client.get(
        "/exports/grades.csv?columns=student_id&columns=due_date&delimiter=semicolon"
        f"&student_ids={jose}&start=2026-09-09&end=2026-09-30&date_format=eu"
    )
    assert narrowed.status_code == 200
    assert not narrowed.content.startswith(BOM)
    header, *lines = csv_rows(narrowed.content, delimiter=";", encoding="utf-8")
    assert header == ["student_id", "due_date"]
    assert lines == [[str(jose), "09.09.2026"]]


def test_mistakes_come_back_as_the_page_with_a_sentence_and_the_choices_kept(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"columns": ["student_id", "nope"]}, 422, "grades has no column &#39;nope&#39;"),
        ({"columns": ["student_id"], "start": "2026-02-30"}, 422, "start date must be a date"),
        (
            {"columns": ["student_id"], "start": "2026-10-01", "end": "2026-09-01"},
            422,
            "is after end",
        ),
        ({"columns": ["student_id"], "course_ids": ["abc"]}, 422, "whole number"),
        ({"columns": ["student_id"], "format": "docx"}, 422, "no export format"),
        ({"columns": ["student_id"], "delimiter": "x"}, 422, "Delimiter"),
        ({"columns": ["student_id"], "metric_types": ["logins"]}, 422, "cannot be narrowed"),
        ({}, 422, "Tick at least one column"),
        ({"columns": ["student_id"], "dataset": "audit_events"}, 403, "administrators only"),
    ]
    for action in ("job", "download"):
        for fields, status, words in cases:
            answer = client.post("/exports", data=form(csrf, action, **fields))
            assert answer.status_code == status, (action, fields, answer.text)
            is_page(answer)
            assert words in answer.text, (fields, answer.text)
            assert "/api/v1/" not in answer.text
    # What was chosen is still chosen.
    kept = client.post(
        "/exports",
        data=form(
            csrf,
            "job",
            columns=["assignment", "nope"],
            delimiter="semicolon",
            start="2026-09-01",
            course_ids=[str(exports_school.algebra.id)],
        ),
    )
    columns = ticked(kept.text)
    assert [name for name, on in columns.items() if on] == ["assignment"]
    assert '<option value="semicolon" selected>' in kept.text
    assert 'value="2026-09-01"' in kept.text
    assert f'<option value="{exports_school.algebra.id}" selected>' in kept.text
    # The download route answers a bad query string with the page too.
    for query, status in (
        ("grades.csv?columns=nope", 422),
        ("grades.csv?start=yesterday", 422),
        ("grades.docx", 422),
        ("nothing.csv", 404),
    ):
        answer = client.get(f"/exports/{query}")
        assert answer.status_code == status, query
        is_page(answer)
    session.rollback()
    assert session.execute(select(ExportJob)).first() is None


def test_start_as_a_job_makes_an_export_job_of_the_choices(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    csrf = sign_in(client, exports_school.algebra_teacher.email)
    columns = ["student_id", "assignment_id", "status"]
    answer = client.post(
        "/exports",
        data=form(csrf, "job", columns=columns, delimiter="tab", bom=""),
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    job_id = answer.headers["location"].removeprefix("/jobs/")
    session.rollback()
    job = session.get(ExportJob, job_id)
    assert job is not None
    assert (job.kind, job.params["dataset"], job.params["format"]) == ("export", "grades", "csv")
    assert job.params["spec"]["columns"] == columns
    assert job.params["spec"]["encoding"] == "utf-8"
    deadline = time.monotonic() + 60
    while (status := job_status(session, job_id)) in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status == "succeeded"
    download = client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200
    header, *rows = csv_rows(download.content, delimiter="\t", encoding="utf-8")
    assert header == columns
    assert {tuple(row) for row in rows} == algebra_grades(session, exports_school)
    page = client.get(f"/jobs/{job_id}")
    assert "Export of grades · CSV" in page.text
    assert re.search(rf">{len(rows)}</span> of <span[^>]*>{len(rows)}</span> rows", page.text)
