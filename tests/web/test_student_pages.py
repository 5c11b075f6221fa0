"""The students list and the student report page: scope, figures, downloads, audit."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import Role
from tests import factories as f
from tests.reports.conftest import END, START, School
from tests.web.conftest import sign_in

PERIOD = f"start={START}&end={END}"
_FIGURE = re.compile(r'data-figure="(?P<name>\w+)">(?P<value>[^<]*)<')


def figures(html: str) -> dict[str, str]:
    return {m["name"]: m["value"] for m in _FIGURE.finditer(html)}


def shown(value: float | None) -> str:
    """How the page writes a JSON figure: two places, or a dash."""
    return "—" if value is None else f"{value:.2f}"


@pytest.fixture
def admin(session: Session) -> tuple[str, dict[str, str]]:
    account = f.user(session, Role.admin)
    return account.email, f.auth(session, account)


def test_the_page_shows_the_json_reports_figures(
    client: TestClient, school: School, admin: tuple[str, dict[str, str]]
) -> None:
    email, headers = admin
    sign_in(client, email)
    page = client.get(f"/students/{school.student.id}?period=custom&{PERIOD}")
    assert page.status_code == 200, page.text
    api = client.get(f"/api/v1/students/{school.student.id}/performance?{PERIOD}", headers=headers)
    summary = api.json()["summary"]
    on_page = figures(page.text)
    for name in ("overall_average", "gpa", "attendance_rate", "completion_rate"):
        assert on_page[name] == shown(summary[name]), name
    # And both are the figures worked out by hand in tests/reports/test_performance.py.
    assert on_page["overall_average"] == "75.50"
    assert on_page["gpa"] == "2.10"
    for course in api.json()["courses"]:
        assert f"<td>{course['name']}</td>" in page.text
    assert page.text.count('class="badge missing"') == summary["assignments"]["missing"]
    assert '<svg class="chart"' in page.text


def test_a_teacher_sees_only_their_courses_figures(
    client: TestClient, session: Session, school: School
) -> None:
    session.commit()
    sign_in(client, school.algebra_teacher.email)
    page = client.get(f"/students/{school.student.id}?{PERIOD}")
    assert page.status_code == 200
    assert "<td>Algebra</td>" in page.text
    assert "<td>Art</td>" not in page.text
    assert "<td>History</td>" not in page.text


def test_a_teacher_cannot_open_another_teachers_student_by_url(
    client: TestClient, session: Session, school: School
) -> None:
    elsewhere = f.student(session, "Not Yours")
    f.enroll(session, elsewhere, school.art)
    session.commit()
    sign_in(client, school.algebra_teacher.email)
    for path in (
        f"/students/{elsewhere.id}",
        f"/students/{elsewhere.id}/report.pdf",
        f"/students/{elsewhere.id}/report.json?{PERIOD}",
        "/students/999999",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "Not Yours" not in answer.text
    listed = client.get("/students").text
    assert "Not Yours" not in listed
    assert school.student.name in listed


def test_the_pdf_button_delivers_the_pdf(
    client: TestClient, school: School, admin: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, admin[0])
    page = client.get(f"/students/{school.student.id}?{PERIOD}").text
    link = re.search(r'href="(/students/\d+/report\.pdf\?[^"]+)"', page)
    assert link is not None
    pdf = client.get(link[1].replace("&amp;", "&"))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    text = "".join(p.extract_text() for p in PdfReader(__import__("io").BytesIO(pdf.content)).pages)
    assert "75.50" in text


def test_downloads_are_the_apis_bytes(
    client: TestClient, school: School, admin: tuple[str, dict[str, str]]
) -> None:
    email, headers = admin
    sign_in(client, email)
    for fmt in ("json", "xlsx"):
        web = client.get(f"/students/{school.student.id}/report.{fmt}?{PERIOD}")
        api = client.get(
            f"/api/v1/students/{school.student.id}/performance?format={fmt}&{PERIOD}",
            headers=headers,
        )
        assert web.status_code == 200
        assert web.content == api.content, fmt
    csv = client.get(f"/students/{school.student.id}/report.csv?{PERIOD}")
    assert csv.content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 after a BOM


def test_bad_dates_are_said_on_the_page(
    client: TestClient, school: School, admin: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, admin[0])
    swapped = client.get(f"/students/{school.student.id}?period=custom&start={END}&end={START}")
    assert swapped.status_code == 422
    assert "swap the dates" in swapped.text
    garbled = client.get(f"/students/{school.student.id}?period=custom&start=31/09/2026")
    assert garbled.status_code == 422
    assert "must be a date written as YYYY-MM-DD" in garbled.text
    assert "data-figure" not in garbled.text


def test_term_presets_choose_the_period(
    client: TestClient, school: School, admin: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, admin[0])
    page = client.get(f"/students/{school.student.id}?period=term-0")
    assert page.status_code == 200
    start, end = school.algebra.start_date, school.algebra.end_date
    assert f"Report for {start} to {end}" in page.text
    assert re.search(r'<option value="term-0"[^>]*selected>2026-27 Fall', page.text)


def test_search_filter_and_pages(client: TestClient, session: Session) -> None:
    teacher = f.user(session, Role.teacher)
    mine = f.course(session, teacher, "Chemistry")
    other = f.course(session, teacher, "Physics")
    pupils = [f.student(session, f"Pupil {n:02d}", grade_level=9 + n % 2) for n in range(30)]
    for pupil in pupils:
        f.enroll(session, pupil, mine)
    f.enroll(session, pupils[0], other)
    session.commit()
    sign_in(client, teacher.email)
    first = client.get("/students")
    assert "30 students" in first.text
    assert "Page 1 of 2" in first.text
    assert first.text.count('<a href="/students/') == 25
    second = client.get("/students?page=2")
    assert second.text.count('<a href="/students/') == 5
    assert "Pupil 29" in second.text
    by_id = client.get(f"/students?q={pupils[7].external_id}")
    assert "1 student<" in by_id.text
    assert "Pupil 07" in by_id.text
    by_name = client.get("/students?q=pupil+1")
    assert by_name.text.count('<a href="/students/') == 10  # Pupil 10..19
    by_course = client.get(f"/students?course_id={other.id}")
    assert "1 student<" in by_course.text
    by_grade = client.get("/students?grade_level=10")
    assert "15 students" in by_grade.text
    unknown = client.get("/students?course_id=abc")
    assert unknown.status_code == 422
    assert "must be a whole number" in unknown.text


def test_page_views_and_downloads_are_audited_as_web(
    client: TestClient, session: Session, school: School, admin: tuple[str, dict[str, str]]
) -> None:
    sign_in(client, admin[0])
    client.get(f"/students/{school.student.id}?{PERIOD}")
    client.get(f"/students/{school.student.id}/report.csv?{PERIOD}")
    session.expire_all()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.resource == "performance_report")
    ).all()
    assert [(e.action, e.channel) for e in events] == [("read", "web"), ("download", "web")]
    assert all(e.student_id == school.student.id for e in events)


def test_names_are_escaped_on_every_page(client: TestClient, session: Session) -> None:
    teacher = f.user(session, Role.teacher)
    taught = f.course(session, teacher, '<b onmouseover="x()">Chem</b>')
    pupil = f.student(session, '<img src=x onerror="alert(1)">')
    f.enroll(session, pupil, taught)
    f.assignment(session, taught)
    session.commit()
    sign_in(client, teacher.email)
    for path in ("/students", f"/students/{pupil.id}?start=2026-09-01&end=2026-09-30"):
        html = client.get(path).text
        assert "<img src=x" not in html, path
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html, path
    assert '<b onmouseover="x()">' not in client.get(f"/students/{pupil.id}").text
