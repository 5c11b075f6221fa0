"""The export job row: the one truth about a background job's state."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, func
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
