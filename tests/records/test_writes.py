"""POST /api/v1/grades, /attendance, /analytics: atomic batches, permissions, versions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    Course,
    Grade,
    Student,
)
from tests import factories as f


@dataclass
class Setup:
    admin: User
    teacher: User
    other_teacher: User
    guardian: User
    alice: Student
    bob: Student
    outsider: Student
    course: Course
    other_course: Course
    quiz: Assignment
    other_quiz: Assignment


@pytest.fixture
def s(session: Session) -> Setup:
    admin = f.user(session, Role.admin)
    teacher = f.user(session, Role.teacher)
    other_teacher = f.user(session, Role.teacher)
    guardian = f.user(session, Role.guardian)
    alice, bob, outsider = (f.student(session, n) for n in ("Alice", "Bob", "Outsider"))
    course = f.course(session, teacher)
    other_course = f.course(session, other_teacher)
    f.enroll(session, alice, course)
    f.enroll(session, bob, course, end=dt.date(2026, 10, 1))
    f.enroll(session, outsider, other_course)
    quiz = f.assignment(session, course, max_points="20")
    other_quiz = f.assignment(session, other_course)
    f.guardian_of(session, guardian, alice)
    session.commit()
    return Setup(
        admin,
        teacher,
        other_teacher,
        guardian,
        alice,
        bob,
        outsider,
        course,
        other_course,
        quiz,
        other_quiz,
    )


def _versions(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        name: version
        for name, version in session.execute(select(Student.name, Student.data_version))
    }


def _count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_teacher_writes_grades_and_versions_bump(
    client: TestClient, session: Session, s: Setup
) -> None:
    before = _versions(session)
    body = {
        "grades": [
            {
                "assignment_id": s.quiz.id,
                "student_id": s.alice.id,
                "status": "graded",
                "score": 18.5,
                "submitted_at": "2026-09-14T10:00:00Z",
                "feedback": "=SUM(A1:A3) nice",
            },
            {"assignment_id": s.quiz.id, "student_id": s.bob.id, "status": "missing"},
        ]
    }
    response = client.post("/api/v1/grades", json=body, headers=f.auth(session, s.teacher))
    assert response.status_code == 200, response.text
    assert response.json() == {"written": 2, "created": 2, "updated": 0, "students": 2}
    after = _versions(session)
    assert after["Alice"] == before["Alice"] + 1
    assert after["Bob"] == before["Bob"] + 1
    assert after["Outsider"] == before["Outsider"]
    alice_grade = session.scalars(select(Grade).where(Grade.student_id == s.alice.id)).one()
    assert alice_grade.score == Decimal("18.50")
    assert alice_grade.feedback == "=SUM(A1:A3) nice"
    assert alice_grade.submitted_at == dt.datetime(2026, 9, 14, 10, tzinfo=dt.UTC)


def test_a_second_write_updates_in_place(client: TestClient, session: Session, s: Setup) -> None:
    headers = f.auth(session, s.teacher)
    row = {"assignment_id": s.quiz.id, "student_id": s.alice.id, "status": "late", "score": 12}
    client.post("/api/v1/grades", json={"grades": [row]}, headers=headers)
    response = client.post(
        "/api/v1/grades",
        json={"grades": [{**row, "status": "graded", "score": 20}]},
        headers=headers,
    )
    assert response.json() == {"written": 1, "created": 0, "updated": 1, "students": 1}
    grade = session.scalars(select(Grade)).one()
    session.refresh(grade)
    assert (grade.status, grade.score) == ("graded", Decimal("20.00"))


def test_one_bad_row_fails_the_whole_batch_and_is_named(
    client: TestClient, session: Session, s: Setup
) -> None:
    before = _versions(session)
    body = {
        "grades": [
            {"assignment_id": s.quiz.id, "student_id": s.alice.id, "status": "graded", "score": 15},
            {
                "assignment_id": s.other_quiz.id,
                "student_id": s.outsider.id,
                "status": "graded",
                "score": 1,
            },
            {
                "assignment_id": s.quiz.id,
                "student_id": s.outsider.id,
                "status": "graded",
                "score": 1,
            },
            {"assignment_id": s.quiz.id, "student_id": s.alice.id, "status": "graded", "score": 3},
        ]
    }
    response = client.post("/api/v1/grades", json=body, headers=f.auth(session, s.teacher))
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["detail"].startswith("3 of 4 grades cannot be written, so none were written.")
    assert [e["field"] for e in problem["errors"]] == [
        "grades[1].assignment_id",
        "grades[2].student_id",
        "grades[3].assignment_id",
    ]
    assert "not enrolled" in problem["errors"][1]["message"]
    assert "repeats grades[0]" in problem["errors"][2]["message"]
    assert _count(session, Grade) == 0
    assert _versions(session) == before


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"status": "graded"}, "grades[0]", "needs a score"),
        ({"status": "excused", "score": 3}, "grades[0]", "has no score"),
        ({"status": "graded", "score": -1}, "grades[0].score", "greater than or equal to 0"),
        ({"status": "graded", "score": 1.234}, "grades[0].score", "decimal places"),
        ({"status": "done", "score": 1}, "grades[0].status", "graded"),
    ],
)
def test_invalid_values_are_422_naming_the_field(
    client: TestClient,
    session: Session,
    s: Setup,
    row: dict,
    field: str,
    message: str,  # type: ignore[type-arg]
) -> None:
    body = {"grades": [{"assignment_id": s.quiz.id, "student_id": s.alice.id, **row}]}
    response = client.post("/api/v1/grades", json=body, headers=f.auth(session, s.teacher))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0]["field"] == field
    assert message in errors[0]["message"]


def test_admin_may_write_any_course_but_learns_of_unknown_students(
    client: TestClient, session: Session, s: Setup
) -> None:
    headers = f.auth(session, s.admin)
    ok = client.post(
        "/api/v1/grades",
        json={
            "grades": [
                {"assignment_id": s.other_quiz.id, "student_id": s.outsider.id, "status": "excused"}
            ]
        },
        headers=headers,
    )
    assert ok.status_code == 200
    unknown = client.post(
        "/api/v1/grades",
        json={"grades": [{"assignment_id": s.quiz.id, "student_id": 999999, "status": "missing"}]},
        headers=headers,
    )
    assert unknown.json()["errors"][0]["message"] == "there is no student 999999"


@pytest.mark.parametrize("path", ["/api/v1/grades", "/api/v1/attendance", "/api/v1/analytics"])
def test_guardians_may_not_write(client: TestClient, session: Session, s: Setup, path: str) -> None:
    bodies = {
        "/api/v1/grades": {
            "grades": [{"assignment_id": s.quiz.id, "student_id": s.alice.id, "status": "missing"}]
        },
        "/api/v1/attendance": {
            "records": [
                {
                    "student_id": s.alice.id,
                    "course_id": s.course.id,
                    "date": "2026-09-01",
                    "status": "present",
                }
            ]
        },
        "/api/v1/analytics": {
            "records": [
                {
                    "student_id": s.alice.id,
                    "course_id": s.course.id,
                    "metric_type": "x",
                    "value": 1,
                    "recorded_at": "2026-09-01T00:00:00",
                }
            ]
        },
    }
    response = client.post(path, json=bodies[path], headers=f.auth(session, s.guardian))
    assert response.status_code == 403
    assert "Only administrators and teachers" in response.json()["detail"]


def test_too_many_rows_is_413(client: TestClient, session: Session, s: Setup, app) -> None:  # type: ignore[no-untyped-def]
    app.state.settings = app.state.settings.model_copy(update={"max_batch_rows": 2})
    rows = [
        {
            "student_id": s.alice.id,
            "course_id": s.course.id,
            "date": f"2026-09-0{d}",
            "status": "present",
        }
        for d in (1, 2, 3)
    ]
    response = client.post(
        "/api/v1/attendance", json={"records": rows}, headers=f.auth(session, s.teacher)
    )
    assert response.status_code == 413
    assert "at most 2" in response.json()["detail"]


def test_attendance_checks_enrollment_dates(client: TestClient, session: Session, s: Setup) -> None:
    headers = f.auth(session, s.teacher)
    rows = [
        {
            "student_id": s.alice.id,
            "course_id": s.course.id,
            "date": "2026-09-01",
            "status": "absent",
        },
        {"student_id": s.bob.id, "course_id": s.course.id, "date": "2026-09-30", "status": "late"},
    ]
    ok = client.post("/api/v1/attendance", json={"records": rows}, headers=headers)
    assert ok.json() == {"written": 2, "created": 2, "updated": 0, "students": 2}
    again = client.post(
        "/api/v1/attendance", json={"records": [{**rows[0], "status": "excused"}]}, headers=headers
    )
    assert again.json()["updated"] == 1
    late = client.post(
        "/api/v1/attendance",
        json={
            "records": [
                {
                    "student_id": s.bob.id,
                    "course_id": s.course.id,
                    "date": "2026-10-02",
                    "status": "present",
                }
            ]
        },
        headers=headers,
    )
    assert late.status_code == 422
    assert late.json()["errors"] == [
        {
            "field": "records[0].date",
            "message": f"student {s.bob.id} was not enrolled in course {s.course.id} on 2026-10-02",
        }
    ]
    session.expire_all()
    statuses = sorted(session.scalars(select(Attendance.status)))
    assert statuses == ["excused", "late"]


def test_attendance_in_another_teachers_course_is_refused(
    client: TestClient, session: Session, s: Setup
) -> None:
    response = client.post(
        "/api/v1/attendance",
        json={
            "records": [
                {
                    "student_id": s.outsider.id,
                    "course_id": s.other_course.id,
                    "date": "2026-09-01",
                    "status": "present",
                }
            ]
        },
        headers=f.auth(session, s.teacher),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "records[0].course_id"


def test_analytics_append_and_rules(client: TestClient, session: Session, s: Setup) -> None:
    teacher = f.auth(session, s.teacher)
    record = {
        "student_id": s.alice.id,
        "course_id": s.course.id,
        "metric_type": "engagement",
        "value": 71.5,
        "recorded_at": "2026-09-03T08:00:00",
        "source": "lms",
    }
    assert (
        client.post(
            "/api/v1/analytics", json={"records": [record, record]}, headers=teacher
        ).json()["created"]
        == 2
    )
    no_course = client.post(
        "/api/v1/analytics", json={"records": [{**record, "course_id": None}]}, headers=teacher
    )
    assert no_course.status_code == 422
    assert "only administrators" in no_course.json()["errors"][0]["message"]
    admin = client.post(
        "/api/v1/analytics",
        json={"records": [{**record, "course_id": None}]},
        headers=f.auth(session, s.admin),
    )
    assert admin.status_code == 200
    bad = client.post(
        "/api/v1/analytics",
        json={"records": [{**record, "metric_type": "has space"}]},
        headers=teacher,
    )
    assert bad.json()["errors"][0]["field"] == "records[0].metric_type"
    rows = session.scalars(select(AnalyticsData).order_by(AnalyticsData.id)).all()
    assert len(rows) == 3
    # A timestamp without an offset is taken as UTC.
    assert rows[0].recorded_at == dt.datetime(2026, 9, 3, 8, tzinfo=dt.UTC)
    assert rows[2].course_id is None
