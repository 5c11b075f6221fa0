"""Who read or exported which students' records, when and how.

Schools must be able to show every disclosure of a student's records, so each
read or export of student records leaves one row per student here, written in the
same transaction as the answer is prepared.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any, Protocol, cast

from sqlalchemy import BigInteger, Index, Integer, String, Table, func, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from markbook.db import Base, utcnow
from markbook.metrics import AUDIT_EVENTS


class AuditAction(enum.StrEnum):
    read = "read"
    export = "export"
    download = "download"


class Channel(enum.StrEnum):
    api = "api"
    web = "web"
    cli = "cli"
    job = "job"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_student_id_occurred_at", "student_id", "occurred_at"),
        Index("ix_audit_events_actor_id_occurred_at", "actor_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    # No foreign keys: the trail must outlive the user and the student it names.
    actor_id: Mapped[int | None]
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    # What was disclosed, e.g. "student", "performance_report", "dataset:grades".
    resource: Mapped[str] = mapped_column(String(100))
    student_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any] | None]


AUDIT_TABLE = cast(Table, AuditEvent.__table__)


class Actor(Protocol):
    """The minimum the trail needs to know about who is asking."""

    id: int
    email: str


def record_access(
    session: Session,
    actor: Actor | None,
    action: AuditAction,
    channel: Channel,
    resource: str,
    student_ids: Iterable[int] | None,
    *,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Record that ``actor`` disclosed these students' records; returns rows written.

    ``student_ids=None`` records one event about no particular student (a list
    that turned out empty, an admin-only dataset). Runs in the caller's transaction,
    so the trail and the answer commit together.
    """
    base = {
        "occurred_at": utcnow(),
        "actor_id": actor.id if actor else None,
        "actor_email": actor.email if actor else None,
        "action": str(action),
        "channel": str(channel),
        "resource": resource,
        "ip": ip,
        "detail": detail,
    }
    ids = sorted(set(student_ids)) if student_ids is not None else []
    rows = [{**base, "student_id": student_id} for student_id in ids] or [
        {**base, "student_id": None}
    ]
    # Core, on the session's own connection and transaction: the ORM's bulk path
    # costs more than the insert on every read.
    session.connection().execute(insert(AUDIT_TABLE), rows)
    AUDIT_EVENTS.labels(str(action), str(channel)).inc(len(rows))
    return len(rows)
