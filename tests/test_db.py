"""bulk_insert and upsert: the fast paths write exactly what the ORM would."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import Role
from markbook.db import bulk_insert, upsert
from markbook.records.models import Attendance, Grade
from tests import factories as f


@pytest.mark.parametrize("count", [0, 1, 249, 250, 251, 1_003])
def test_bulk_insert_round_trips_every_type(engine: Engine, session: Session, count: int) -> None:
    teacher = f.user(session, Role.teacher)
    pupil = f.student(session)
    course = f.course(session, teacher)
    assignments = [f.assignment(session, course) for _ in range(max(count, 1))]
    session.commit()
    statuses = ["graded", "late", "missing", "excused"]
    expected = [
        (
            assignments[i].id,
            pupil.id,
            None
            if statuses[i % 4] in ("missing", "excused")
            else Decimal(i % 97) + Decimal("0.25"),
            statuses[i % 4],
            dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
            None if i % 3 else f'note {i}, "quoted"\n=SUM(A1)',
        )
        for i in range(count)
    ]
    columns = ("assignment_id", "student_id", "score", "status", "submitted_at", "feedback")
    with engine.begin() as connection:
        written = bulk_insert(connection, Grade.__table__, columns, iter(expected), chunk_size=300)  # type: ignore[arg-type]
    assert written == count
    stored = session.execute(
        select(
            Grade.assignment_id,
            Grade.student_id,
            Grade.score,
            Grade.status,
            Grade.submitted_at,
            Grade.feedback,
        ).order_by(Grade.assignment_id)
    ).all()
    assert [tuple(row) for row in stored] == expected


def test_bulk_insert_dates_and_json(engine: Engine, session: Session) -> None:
    teacher = f.user(session, Role.teacher)
    pupil = f.student(session)
    course = f.course(session, teacher)
    session.commit()
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(10)]
    with engine.begin() as connection:
        bulk_insert(
            connection,
            Attendance.__table__,
            ("student_id", "course_id", "date", "status"),  # type: ignore[arg-type]
            [(pupil.id, course.id, day, "present") for day in days],
        )
        bulk_insert(
            connection,
            AuditEvent.__table__,
            ("occurred_at", "action", "channel", "resource", "detail"),  # type: ignore[arg-type]
            [
                (
                    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                    "read",
                    "api",
                    "x",
                    {"n": i, "tags": ["a"]},
                )
                for i in range(3)
            ],
        )
    assert list(session.scalars(select(Attendance.date).order_by(Attendance.date))) == days
    assert [e.detail for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
        {"n": i, "tags": ["a"]} for i in range(3)
    ]


def test_upsert_inserts_then_updates(session: Session) -> None:
    teacher = f.user(session, Role.teacher)
    pupil = f.student(session)
    course = f.course(session, teacher)
    session.commit()
    table = Attendance.__table__
    key = ("student_id", "date", "course_id")
    row = {
        "student_id": pupil.id,
        "course_id": course.id,
        "date": dt.date(2026, 9, 1),
        "status": "absent",
    }
    upsert(session, table, [row], key=key, update=("status",))  # type: ignore[arg-type]
    upsert(session, table, [{**row, "status": "excused"}], key=key, update=("status",))  # type: ignore[arg-type]
    session.commit()
    assert session.execute(select(Attendance.status)).scalars().all() == ["excused"]
