"""Out-of-range ids and NUL characters are 422s naming the field, never 500s.

PostgreSQL refuses integers past its `integer` range and text holding NUL, so
without validation these would reach the database as errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from markbook.auth.models import Role
from tests import factories as f

HUGE = 2**40
CASES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("get", f"/api/v1/students/{10**20}", None, "student_id"),
    ("get", f"/api/v1/students/{2**31}", None, "student_id"),
    ("get", f"/api/v1/courses/{HUGE}", None, "course_id"),
    ("get", f"/api/v1/students?course_id={HUGE}", None, "course_id"),
    ("get", f"/api/v1/courses?teacher_id={HUGE}", None, "teacher_id"),
    ("get", f"/api/v1/students?page={10**18}", None, "page"),
    ("get", "/api/v1/students?q=a%00b", None, "q"),
    ("get", "/api/v1/courses?term=a%00b", None, "term"),
    ("get", "/api/v1/courses?subject=a%00b", None, "subject"),
    ("delete", f"/api/v1/auth/tokens/{HUGE}", None, "token_id"),
    (
        "post",
        "/api/v1/grades",
        {"grades": [{"assignment_id": HUGE, "student_id": 1, "status": "missing"}]},
        "grades[0].assignment_id",
    ),
    (
        "post",
        "/api/v1/grades",
        {
            "grades": [
                {"assignment_id": 1, "student_id": 1, "status": "missing", "feedback": "a\x00"}
            ]
        },
        "grades[0].feedback",
    ),
    (
        "post",
        "/api/v1/attendance",
        {
            "records": [
                {"student_id": 1, "course_id": HUGE, "date": "2026-09-01", "status": "present"}
            ]
        },
        "records[0].course_id",
    ),
    (
        "post",
        "/api/v1/analytics",
        {
            "records": [
                {
                    "student_id": HUGE,
                    "metric_type": "x",
                    "value": 1,
                    "recorded_at": "2026-01-01T00:00:00",
                }
            ]
        },
        "records[0].student_id",
    ),
    ("post", "/api/v1/auth/token", {"email": "a\x00@example.org", "password": "x"}, "email"),
    (
        "post",
        "/api/v1/auth/token",
        {"email": "a@example.org", "password": "x", "name": "n\x00"},
        "name",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), CASES, ids=[c[3] + c[1][:30] for c in CASES]
)
def test_bad_values_are_422_naming_the_field(
    client: TestClient,
    session: Session,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    field: str,
) -> None:
    headers = f.auth(session, f.user(session, Role.admin))
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]
