"""The report routes: scope, cache, bad input, downloads read back, audit."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.app import create_app
from markbook.audit import AuditEvent
from markbook.auth.models import Role
from markbook.deps import today
from markbook.records.models import Grade
from markbook.records.versioning import bump_data_version
from markbook.settings import Settings
from tests import factories as f
from tests.reports.conftest import END, START, School

PERIOD = {"start": START.isoformat(), "end": END.isoformat()}


def url(school: School, **params: Any) -> str:
    query = "&".join(f"{key}={value}" for key, value in {**PERIOD, **params}.items())
    return f"/api/v1/students/{school.student.id}/performance?{query}"


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    return f.auth(session, f.user(session, Role.admin))


def test_json_report_then_a_cache_hit(client: TestClient, school: School, admin: dict) -> None:
    first = client.get(url(school), headers=admin)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-cache"] == "miss"
    body = first.json()
    assert body["summary"]["overall_average"] == 75.5
    assert body["summary"]["gpa"] == 2.1
    assert body["period"] == {"start": "2026-09-01", "end": "2026-09-30"}
    assert body["student"]["name"] == "Анна Иванова"
    second = client.get(url(school), headers=admin)
    assert second.headers["x-cache"] == "hit"
    assert second.content == first.content
    metrics = client.get("/metrics").text
    assert 'markbook_report_cache_total{format="json",result="hit"}' in metrics


def test_a_write_is_never_followed_by_a_stale_report(
    client: TestClient, session: Session, school: School, admin: dict
) -> None:
    before = client.get(url(school), headers=admin).json()
    missing = session.execute(
        select(Grade).where(Grade.student_id == school.student.id, Grade.status == "missing")
    ).scalar_one()
    missing.status, missing.score = "graded", 10  # a3: 0% -> 100%
    session.commit()
    after = client.get(url(school), headers=admin)
    assert after.headers["x-cache"] == "miss"
    # Algebra: (2x90 + 70 + 100) / 4 = 87.50.
    algebra = next(c for c in after.json()["courses"] if c["name"] == "Algebra")
    assert algebra["average"] == 87.5
    assert after.json()["data_version"] > before["data_version"]


def test_default_period_is_the_term_containing_today(
    app: FastAPI, client: TestClient, school: School, admin: dict
) -> None:
    app.dependency_overrides[today] = lambda: dt.date(2026, 11, 22)
    body = client.get(f"/api/v1/students/{school.student.id}/performance", headers=admin).json()
    assert body["period"] == {"start": "2026-08-24", "end": "2027-01-15"}


def test_who_may_see_the_report(client: TestClient, session: Session, school: School) -> None:
    algebra = f.auth(session, school.algebra_teacher)
    outsider = f.auth(session, f.user(session, Role.teacher))
    tutor = f.auth(session, school.tutor)
    guardian_user = f.user(session, Role.guardian)
    f.guardian_of(session, guardian_user, f.student(session))
    guardian = f.auth(session, guardian_user)

    teacher_view = client.get(url(school), headers=algebra).json()
    assert [c["name"] for c in teacher_view["courses"]] == ["Algebra"]
    assert teacher_view["summary"]["overall_average"] == 62.5
    assert client.get(url(school), headers=tutor).json()["summary"]["overall_average"] == 75.5
    for stranger in (outsider, guardian):
        answer = client.get(url(school), headers=stranger)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
    assert client.get(url(school)).status_code == 401


def test_a_teachers_cached_view_is_not_served_to_an_admin(
    client: TestClient, session: Session, school: School, admin: dict
) -> None:
    teacher = f.auth(session, school.algebra_teacher)
    assert len(client.get(url(school), headers=teacher).json()["courses"]) == 1
    answer = client.get(url(school), headers=admin)
    assert answer.headers["x-cache"] == "miss"
    assert len(answer.json()["courses"]) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-09-30", "end": "2026-09-01"}, "start"),
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2019-01-01", "end": "2026-01-01"}, "end"),
        ({"start": "0001-01-01", "end": "0001-01-05"}, "start"),
        ({"start": "9999-12-25", "end": "9999-12-31"}, "start"),
        ({"start": "2026-09-01", "end": "9999-12-31"}, "end"),
        ({"format": "docx"}, "format"),
        ({"course_id": "999999"}, "course_id"),
        ({"course_id": "0"}, "course_id"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, school: School, admin: dict, params: dict[str, str], field: str
) -> None:
    answer = client.get(url(school, **params), headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert field in [error["field"] for error in problem["errors"]], problem
    assert problem["detail"]


def test_another_teachers_course_is_an_unknown_course(
    client: TestClient, session: Session, school: School
) -> None:
    teacher = f.auth(session, school.algebra_teacher)
    answer = client.get(url(school, course_id=school.art.id), headers=teacher)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "course_id"


def test_one_course(client: TestClient, school: School, admin: dict) -> None:
    body = client.get(url(school, course_id=school.art.id), headers=admin).json()
    assert [c["name"] for c in body["courses"]] == ["Art"]
    assert body["summary"]["overall_average"] == 92.5


def _filename_star(disposition: str) -> str:
    return disposition.split("filename*=UTF-8''", 1)[1]


@pytest.mark.parametrize(
    ("fmt", "media_type", "magic"),
    [
        ("pdf", "application/pdf", b"%PDF-"),
        ("csv", "text/csv; charset=utf-8", b""),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
    ],
)
def test_downloads_are_attachments_named_for_the_student(
    client: TestClient, school: School, admin: dict, fmt: str, media_type: str, magic: bytes
) -> None:
    answer = client.get(url(school, format=fmt), headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media_type
    assert answer.content.startswith(magic)
    disposition = answer.headers["content-disposition"]
    # Spaces become underscores, in both names.
    expected = f"Анна_Иванова_performance_2026-09-01_2026-09-30.{fmt}"
    assert disposition.startswith("attachment; filename=")
    # Cyrillic has no ASCII form: the fallback names the student by id.
    fallback = f"student-{school.student.id}_performance_2026-09-01_2026-09-30.{fmt}"
    assert f'filename="{fallback}"' in disposition
    assert _filename_star(disposition) == quote(expected, safe="")
    disposition.encode("ascii")  # headers stay ASCII


def test_pdf_figures_match_the_json(client: TestClient, school: School, admin: dict) -> None:
    report = client.get(url(school), headers=admin).json()
    pdf = client.get(url(school, format="pdf"), headers=admin)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Анна Иванова" in text
    assert "Test High School" in text
    for course in report["courses"]:
        assert course["name"] in text
        assert f"{course['average']:.2f}" in text
    assert f"{report['summary']['gpa']:.2f}" in text
    assert f"{report['summary']['attendance_rate']:.2f}" in text


def test_csv_figures_match_the_json(client: TestClient, school: School, admin: dict) -> None:
    report = client.get(url(school), headers=admin).json()
    answer = client.get(url(school, format="csv"), headers=admin)
    assert not answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8"))))
    cells = {cell for row in rows for cell in row}
    for course in report["courses"]:
        assert course["name"] in cells
        assert f"{course['average']:.2f}" in cells
    # Formula-looking text is guarded.
    assert "'=SUM(A1:A3) works steadily" in cells
    with_bom = client.get(url(school, format="csv", bom="true"), headers=admin)
    assert with_bom.content.startswith(b"\xef\xbb\xbf")


def test_xlsx_figures_match_the_json(client: TestClient, school: School, admin: dict) -> None:
    report = client.get(url(school), headers=admin).json()
    answer = client.get(url(school, format="xlsx"), headers=admin)
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert {"Summary", "Courses", "Assignments", "Attendance", "Analytics"} <= set(book.sheetnames)
    numbers = {
        cell
        for row in book["Courses"].iter_rows(min_row=2, values_only=True)
        for cell in row
        if isinstance(cell, float | int)
    }
    for course in report["courses"]:
        assert course["average"] in numbers


def test_legacy_routes_serve_the_same_report(
    client: TestClient, school: School, admin: dict
) -> None:
    body = {"student_id": school.student.id, "start_date": "2026-09-01", "end_date": "2026-09-30"}
    legacy = client.post("/api/v1/reports/student-performance", json=body, headers=admin)
    assert legacy.status_code == 200, legacy.text
    assert legacy.json() == client.get(url(school), headers=admin).json()
    download = client.post(
        "/api/v1/reports/student-performance/download",
        json={**body, "format": "xlsx"},
        headers=admin,
    )
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content.startswith(b"PK")
    as_file = client.post(
        "/api/v1/reports/student-performance/download",
        json={**body, "format": "json"},
        headers=admin,
    )
    assert as_file.headers["content-type"] == "application/json"
    assert as_file.headers["content-disposition"].endswith("2026-09-01_2026-09-30.json")
    assert as_file.json() == legacy.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_date": "2026-10-01"}, "start_date"),
        ({"end_date": "2026-02-30"}, "end_date"),
        ({"start_date": "0001-01-01", "end_date": "0001-01-02"}, "start_date"),
        ({"format": "doc"}, "format"),
        ({"student_id": "abc"}, "student_id"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_legacy_bad_input(
    client: TestClient, school: School, admin: dict, change: dict[str, str], field: str
) -> None:
    body = {"student_id": school.student.id, "start_date": "2026-09-01", "end_date": "2026-09-30"}
    answer = client.post(
        "/api/v1/reports/student-performance/download", json={**body, **change}, headers=admin
    )
    assert answer.status_code == 422, answer.text
    assert field in [error["field"] for error in answer.json()["errors"]]


def test_reads_and_downloads_are_audited(
    client: TestClient, session: Session, school: School, admin: dict
) -> None:
    client.get(url(school), headers=admin)
    client.get(url(school), headers=admin)  # a cache hit is still a disclosure
    client.get(url(school, format="pdf"), headers=admin)
    events = session.execute(
        select(AuditEvent.action, AuditEvent.student_id, AuditEvent.resource).order_by(
            AuditEvent.id
        )
    ).all()
    assert [tuple(event) for event in events] == [
        ("read", school.student.id, "performance_report"),
        ("read", school.student.id, "performance_report"),
        ("download", school.student.id, "performance_report"),
    ]


def test_only_admins_clear_the_cache(
    client: TestClient, session: Session, school: School, admin: dict
) -> None:
    teacher = f.auth(session, school.algebra_teacher)
    client.get(url(school), headers=admin)
    client.get(url(school, format="csv"), headers=admin)
    for path in ("/api/v1/reports/cache", f"/api/v1/reports/cache/{school.student.id}"):
        assert client.delete(path, headers=teacher).status_code == 403
    cleared = client.delete(f"/api/v1/reports/cache/{school.student.id}", headers=admin)
    assert cleared.json() == {"deleted": 2}
    assert client.get(url(school), headers=admin).headers["x-cache"] == "miss"
    assert client.delete("/api/v1/reports/cache", headers=admin).json() == {"deleted": 1}


def _client_with(settings: Settings, **changes: Any) -> TestClient:
    app = create_app(settings.model_copy(update=changes))
    return TestClient(app, raise_server_exceptions=False)


def test_redis_cache(settings: Settings, redis_url: str, school: School, session: Session) -> None:
    headers = f.auth(session, f.user(session, Role.admin))
    with _client_with(settings, redis_url=redis_url) as client:
        client.delete("/api/v1/reports/cache", headers=headers)
        assert client.get(url(school), headers=headers).headers["x-cache"] == "miss"
        assert client.get(url(school), headers=headers).headers["x-cache"] == "hit"
        cleared = client.delete(f"/api/v1/reports/cache/{school.student.id}", headers=headers)
        assert cleared.json() == {"deleted": 1}


def test_redis_down_still_serves_reports(
    settings: Settings, school: School, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    headers = f.auth(session, f.user(session, Role.admin))
    # Nothing listens on port 1: every Redis call fails fast.
    down = {"redis_url": "redis://127.0.0.1:1/0", "redis_socket_timeout": 0.2}
    with _client_with(settings, **down) as client, caplog.at_level(logging.WARNING):
        for _ in range(3):
            answer = client.get(url(school), headers=headers)
            assert answer.status_code == 200
            assert answer.headers["x-cache"] == "miss"
            assert answer.json()["summary"]["overall_average"] == 75.5
    warnings = [r for r in caplog.records if "Redis cache unavailable" in r.getMessage()]
    assert len(warnings) == 1


def test_data_version_bump_changes_the_key(
    client: TestClient, session: Session, school: School, admin: dict
) -> None:
    client.get(url(school), headers=admin)
    bump_data_version(session, [school.student.id])
    session.commit()
    assert client.get(url(school), headers=admin).headers["x-cache"] == "miss"
