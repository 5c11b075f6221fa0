"""An export never holds the database while it is built."""

from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import ApiToken, Role
from tests import factories as f


def test_a_fresh_tokens_first_request_can_be_a_workbook(
    client: TestClient, session: Session
) -> None:
    """Signing in records the token's first use (a write). The workbook is built and
    audited after that commits; on SQLite the audit used to wait 30 s for the
    request's own write lock and fail with "database is locked"."""
    pupil = f.student(session, "Zoë Ñúñez")
    headers = f.auth(session, f.user(session, Role.admin))
    assert session.scalars(select(ApiToken.last_used_at)).one() is None

    response = client.get("/api/v1/exports/students.xlsx", headers=headers)

    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert [cell.value for cell in sheet[2]][:3] == [pupil.id, pupil.external_id, "Zoë Ñúñez"]
    session.expire_all()
    assert session.scalars(select(ApiToken.last_used_at)).one() is not None
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(event.resource, event.student_id) for event in events] == [
        ("dataset:students", pupil.id)
    ]
