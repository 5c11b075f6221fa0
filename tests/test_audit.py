"""record_access: one audit row per student disclosed, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook import metrics
from markbook.audit import AuditAction, AuditEvent, Channel, record_access
from markbook.auth.models import Role
from tests import factories as f


def _audit_count(action: str, channel: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "markbook_audit_events_total", {"action": action, "channel": channel}
    )
    return value or 0.0


def test_one_row_per_distinct_student(session: Session) -> None:
    actor = f.user(session, Role.teacher)
    before = _audit_count("export", "cli")
    written = record_access(
        session,
        actor,
        AuditAction.export,
        Channel.cli,
        "dataset:grades",
        [3, 1, 3, 2],
        ip="10.0.0.7",
        detail={"format": "csv"},
    )
    assert written == 3
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.student_id)).all()
    assert [r.student_id for r in rows] == [1, 2, 3]
    assert {(r.actor_id, r.actor_email, r.action, r.channel, r.resource, r.ip) for r in rows} == {
        (actor.id, actor.email, "export", "cli", "dataset:grades", "10.0.0.7")
    }
    assert rows[0].detail == {"format": "csv"}
    assert rows[0].occurred_at.tzinfo is not None
    assert _audit_count("export", "cli") == before + 3


def test_no_students_still_leaves_one_row(session: Session) -> None:
    record_access(session, None, AuditAction.read, Channel.api, "student_list", [])
    rows = session.scalars(select(AuditEvent)).all()
    assert [(r.student_id, r.actor_id) for r in rows] == [(None, None)]


def test_trail_rolls_back_with_the_answer(session: Session) -> None:
    actor = f.user(session, Role.admin)
    session.commit()
    record_access(session, actor, AuditAction.read, Channel.api, "student", [5])
    session.rollback()
    assert session.scalars(select(AuditEvent)).all() == []
