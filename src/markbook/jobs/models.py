"""The export job row: the one truth about a background job's state."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from markbook.auth.models import _in
from markbook.db import Base, utcnow


class JobKind(enum.StrEnum):
    export = "export"
    workbook = "workbook"
    report_cards = "report_cards"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    expired = "expired"


# Error texts are cut to this length: a traceback belongs in the log, not the row.
MAX_ERROR_LENGTH = 2000


class ExportJob(Base):
    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint(_in("kind", JobKind), name="kind"),
        CheckConstraint(_in("status", JobStatus), name="status"),
        CheckConstraint("rows_done >= 0", name="rows_done"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_export_jobs_requested_by_created_at", "requested_by", "created_at"),
    )

    # Random, not sequential: a job id in a URL must not let anyone guess others'.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]]
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), index=True, default=JobStatus.queued)
    # Same kind + params + caller's scope + data version -> same key (dedupe).
    dedupe_key: Mapped[str | None] = mapped_column(String(64), index=True)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(MAX_ERROR_LENGTH))
    file_path: Mapped[str | None] = mapped_column(String(500))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    # What the job found besides its file: for report cards, the students counted
    # and each failure with its reason.
    result: Mapped[dict[str, Any] | None]


class PartStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"


class ExportJobPart(Base):
    """One slice of a job that several workers can share (report cards: a run of
    students). A worker claims a part by moving it from queued to running; a part
    whose heartbeat stops is claimable again."""

    __tablename__ = "export_job_parts"
    __table_args__ = (
        CheckConstraint(_in("status", PartStatus), name="status"),
        CheckConstraint("rows_done >= 0", name="rows_done"),
    )

    job_id: Mapped[str] = mapped_column(
        ForeignKey("export_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    student_ids: Mapped[list[int]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    status: Mapped[str] = mapped_column(String(16), default=PartStatus.queued)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[dt.datetime | None]
