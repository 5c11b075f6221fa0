"""GET /api/v1/students and /api/v1/courses: search, filters, pages, scope, audit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import Role, User
from markbook.records.models import Course, Student
from tests import factories as f


@dataclass
class School:
    admin: User
    teacher: User
    other_teacher: User
    guardian: User
    students: list[Student]
    algebra: Course
    biology: Course


NAMES = ["José Núñez", "Анна Иванова", "李雷", "Siobhán O'Brien", "Smith, Jr.", "Jose Nunez"]


@pytest.fixture
def school(session: Session) -> School:
    admin = f.user(session, Role.admin)
    teacher = f.user(session, Role.teacher, name="Ms Algebra")
    other = f.user(session, Role.teacher, name="Mr Biology")
    guardian = f.user(session, Role.guardian)
    students = [f.student(session, name, grade_level=9 + i % 4) for i, name in enumerate(NAMES)]
    algebra = f.course(session, teacher, "Algebra I", credits="1.0")
    biology = f.course(session, other, "Biology", credits="0.5", subject="Science")
    for s in students[:4]:
        f.enroll(session, s, algebra)
    for s in students[3:]:
        f.enroll(session, s, biology)
    f.guardian_of(session, guardian, students[1])
    session.commit()
    return School(admin, teacher, other, guardian, students, algebra, biology)


def _names(response_json: dict) -> list[str]:  # type: ignore[type-arg]
    return [item["name"] for item in response_json["items"]]


def test_admin_lists_everyone_sorted_by_name(
    client: TestClient, session: Session, school: School
) -> None:
    body = client.get("/api/v1/students", headers=f.auth(session, school.admin)).json()
    assert body["total"] == len(NAMES)
    assert sorted(_names(body)) == sorted(NAMES)
    assert body["page"] == 1 and body["per_page"] == 50


def test_teacher_lists_only_their_students(
    client: TestClient, session: Session, school: School
) -> None:
    body = client.get("/api/v1/students", headers=f.auth(session, school.teacher)).json()
    assert sorted(_names(body)) == sorted(NAMES[:4])
    guardian = client.get("/api/v1/students", headers=f.auth(session, school.guardian)).json()
    assert _names(guardian) == ["Анна Иванова"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("jose nunez", ["José Núñez", "Jose Nunez"]),
        ("NÚÑEZ", ["José Núñez", "Jose Nunez"]),
        ("анна", ["Анна Иванова"]),
        ("李", ["李雷"]),
        ("o'brien", ["Siobhán O'Brien"]),
        ("smith, jr", ["Smith, Jr."]),
        ("%", []),
        ("_", []),
    ],
)
def test_search_by_name_ignores_case_and_accents(
    client: TestClient, session: Session, school: School, q: str, expected: list[str]
) -> None:
    body = client.get(
        "/api/v1/students", params={"q": q}, headers=f.auth(session, school.admin)
    ).json()
    assert sorted(_names(body)) == sorted(expected)


def test_search_by_sis_id(client: TestClient, session: Session, school: School) -> None:
    target = school.students[2]
    body = client.get(
        "/api/v1/students", params={"q": target.external_id}, headers=f.auth(session, school.admin)
    ).json()
    assert [item["id"] for item in body["items"]] == [target.id]


def test_filter_by_course_and_grade_level(
    client: TestClient, session: Session, school: School
) -> None:
    headers = f.auth(session, school.admin)
    by_course = client.get(
        "/api/v1/students", params={"course_id": school.biology.id}, headers=headers
    )
    assert sorted(_names(by_course.json())) == sorted(NAMES[3:])
    by_grade = client.get("/api/v1/students", params={"grade_level": 9}, headers=headers).json()
    expected = [s.name for s in school.students if s.grade_level == 9]
    assert sorted(_names(by_grade)) == sorted(expected)


def test_a_teacher_cannot_filter_by_another_teachers_course(
    client: TestClient, session: Session, school: School
) -> None:
    response = client.get(
        "/api/v1/students",
        params={"course_id": school.biology.id},
        headers=f.auth(session, school.teacher),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "course_id"


def test_pages(client: TestClient, session: Session, school: School) -> None:
    headers = f.auth(session, school.admin)
    seen: list[str] = []
    for page in (1, 2, 3):
        body = client.get(
            "/api/v1/students", params={"page": page, "per_page": 2}, headers=headers
        ).json()
        assert body["total"] == len(NAMES)
        seen += _names(body)
    assert sorted(seen) == sorted(NAMES)
    assert len(set(seen)) == len(NAMES)
    past = client.get("/api/v1/students", params={"page": 9, "per_page": 2}, headers=headers).json()
    assert past["items"] == [] and past["total"] == len(NAMES)
    assert (
        client.get("/api/v1/students", params={"per_page": 500}, headers=headers).status_code == 422
    )


def test_student_detail_shows_only_the_callers_enrollments(
    client: TestClient, session: Session, school: School
) -> None:
    both = school.students[3]  # takes Algebra and Biology
    mine = client.get(f"/api/v1/students/{both.id}", headers=f.auth(session, school.teacher)).json()
    assert [e["course_name"] for e in mine["enrollments"]] == ["Algebra I"]
    admin = client.get(f"/api/v1/students/{both.id}", headers=f.auth(session, school.admin)).json()
    assert sorted(e["course_name"] for e in admin["enrollments"]) == ["Algebra I", "Biology"]
    assert admin["external_id"] == both.external_id
    assert admin["data_version"] == both.data_version


def test_invisible_student_answers_like_a_missing_one(
    client: TestClient, session: Session, school: School
) -> None:
    headers = f.auth(session, school.teacher)
    hidden = school.students[5]
    invisible = client.get(f"/api/v1/students/{hidden.id}", headers=headers)
    missing = client.get("/api/v1/students/987654", headers=headers)
    assert invisible.status_code == missing.status_code == 404
    assert invisible.headers["content-type"] == "application/problem+json"
    body_a, body_b = invisible.json(), missing.json()
    for body in (body_a, body_b):
        body.pop("request_id")
    assert body_a["detail"].replace(str(hidden.id), "N") == body_b["detail"].replace("987654", "N")
    assert {k: v for k, v in body_a.items() if k != "detail"} == {
        k: v for k, v in body_b.items() if k != "detail"
    }


def test_courses_are_scoped(client: TestClient, session: Session, school: School) -> None:
    teacher = client.get("/api/v1/courses", headers=f.auth(session, school.teacher)).json()
    assert [c["name"] for c in teacher["items"]] == ["Algebra I"]
    assert teacher["items"][0]["teacher"] == {"id": school.teacher.id, "name": "Ms Algebra"}
    assert teacher["items"][0]["credits"] == 1.0
    assert teacher["items"][0]["student_count"] == 4
    admin = client.get("/api/v1/courses", headers=f.auth(session, school.admin)).json()
    assert admin["total"] == 2
    science = client.get(
        "/api/v1/courses", params={"subject": "science"}, headers=f.auth(session, school.admin)
    ).json()
    assert [c["name"] for c in science["items"]] == ["Biology"]
    guardian = client.get("/api/v1/courses", headers=f.auth(session, school.guardian)).json()
    assert [c["name"] for c in guardian["items"]] == ["Algebra I"]


def test_course_detail_lists_only_visible_roster(
    client: TestClient, session: Session, school: School
) -> None:
    f.assignment(session, school.algebra)
    session.commit()
    detail = client.get(
        f"/api/v1/courses/{school.algebra.id}", headers=f.auth(session, school.guardian)
    ).json()
    assert [s["name"] for s in detail["students"]] == ["Анна Иванова"]
    assert detail["assignment_count"] == 1
    assert detail["student_count"] == 4
    other = client.get(
        f"/api/v1/courses/{school.biology.id}", headers=f.auth(session, school.teacher)
    )
    assert other.status_code == 404


def test_reads_are_audited_per_student(
    client: TestClient, session: Session, school: School
) -> None:
    headers = f.auth(session, school.teacher)
    target = school.students[0]
    client.get(f"/api/v1/students/{target.id}", headers=headers)
    client.get("/api/v1/students", headers=headers)
    session.expire_all()
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    detail = [e for e in events if e.resource == "student"]
    assert [(e.student_id, e.actor_id, e.action, e.channel) for e in detail] == [
        (target.id, school.teacher.id, "read", "api")
    ]
    assert detail[0].actor_email == school.teacher.email
    listed = {e.student_id for e in events if e.resource == "student_list"}
    assert listed == {s.id for s in school.students[:4]}
