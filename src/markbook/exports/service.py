"""The export pipeline: dataset -> spec -> batches -> writer -> sink.

The server's half: it plans (:mod:`.spec`), starts a worker process that reads
and writes (:mod:`.worker`, :mod:`.pipeline`), relays its bytes and audits.

:func:`prepare` does everything that can fail before the first byte (the dataset,
the spec, the count against the row limits, and for XLSX the whole workbook, which
is a zip and cannot be sent before it is finished), so those failures are
problem+json answers. What it returns streams the rest; a failure after the first
byte ends the body with a marker saying the file is incomplete, and is logged.

The same pipeline writes files for the CLI and for jobs (:func:`export_to_file`):
to a temporary name in the target's directory, renamed when complete.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import User
from markbook.db import session_scope
from markbook.exports import query
from markbook.exports.spec import (
    MEDIA_TYPES,
    ExportFormat,
    ExportPlan,
    ExportSpec,
    dataset_named,
    plan_export,
    too_many_rows,
)
from markbook.exports.worker import NUMBER, Worker, WorkerError
from markbook.exports.writers.cells import DateStyle
from markbook.exports.writers.markers import closing_marker
from markbook.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
# Datasets whose rows are about no one student: one audit event, not one per student.
NO_STUDENT_DATASETS = frozenset({"courses", "class_analytics", "audit_events"})
CHUNK = 1 << 20


@dataclass
class Disclosure:
    """What an export disclosed, for the audit trail once it has gone out."""

    resource: str
    student_ids: set[int] = field(default_factory=set)
    has_students: bool = True
    rows: int = 0
    complete: bool = False


@dataclass
class Export:
    filename: str
    media_type: str
    rows: int  # how many rows the file holds
    chunks: Iterator[bytes]
    # Set when the file is already complete on disk (XLSX): move it, don't copy it.
    path: Path | None = None
    sheets: list[str] = field(default_factory=list)

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def file_name(dataset: str, fmt: ExportFormat, compress: str, now: dt.datetime) -> str:
    """``{dataset}_{yyyymmdd-hhmmss}.{ext}`` (UTC), ``.gz`` added when gzipped."""
    name = f"{dataset}_{now:%Y%m%d-%H%M%S}.{fmt.value}"
    return name + ".gz" if compress == "gzip" else name


def media_type(fmt: ExportFormat, compress: str) -> str:
    return "application/gzip" if compress == "gzip" else MEDIA_TYPES[fmt]


def plan_for(
    settings: Settings,
    engine: Engine,
    user: User,
    dataset: str,
    fmt: ExportFormat,
    spec: ExportSpec,
) -> ExportPlan:
    return plan_export(
        dataset_named(dataset, user), spec, fmt, user, settings, dialect=engine.dialect.name
    )


def _options(plan: ExportPlan) -> dict[str, Any]:
    spec = plan.spec
    return {
        "delimiter": spec.delimiter,
        "bom": spec.encoding == "utf-8-sig",
        "null": spec.null,
        "guard": spec.formula_guard,
        "date_style": spec.date_format.value,
        "compress": spec.compress,
    }


def prepare(
    settings: Settings,
    engine: Engine,
    user: User,
    dataset: str,
    fmt: ExportFormat,
    spec: ExportSpec,
    *,
    on_done: Callable[[Disclosure], None],
    progress: Progress | None = None,
    on_total: Progress | None = None,
    now: dt.datetime | None = None,
    work_dir: Path | None = None,
    mark_failures: bool = True,
) -> Export:
    """Check, count and start an export; the returned chunks stream the rest.

    ``mark_failures``: a failure after the first byte ends the stream with a marker
    (HTTP, where the status has gone); False raises it instead (files, which are
    then not kept). ``on_total`` hears the row count once it is known, before any
    row is written; ``progress`` hears each batch's rows as they are written.
    """
    plan = plan_for(settings, engine, user, dataset, fmt, spec)
    moment = now or dt.datetime.now(dt.UTC)
    name = file_name(plan.dataset.name, fmt, spec.compress, moment)
    disclosure = Disclosure(f"dataset:{plan.dataset.name}", has_students=_has_students(plan))
    source = query.source_request(plan, settings, has_students=disclosure.has_students)
    if fmt is ExportFormat.xlsx:
        return _workbook(
            settings,
            [(source, plan)],
            spec.date_format,
            name,
            disclosure,
            on_done=on_done,
            progress=progress,
            on_total=on_total,
            work_dir=work_dir,
        )
    worker = Worker(
        query.worker_request(
            settings,
            fmt.value,
            [source],
            options=_options(plan),
            date_style=spec.date_format.value,
        )
    )
    try:
        if worker.total > plan.max_rows:
            raise too_many_rows(plan, worker.total)
        if on_total is not None:
            on_total(worker.total)
    except BaseException:
        worker.close()
        raise
    return Export(
        name,
        media_type(fmt, spec.compress),
        worker.total,
        _stream(plan, worker, disclosure, on_done, progress, mark_failures),
    )


def _stream(
    plan: ExportPlan,
    worker: Worker,
    disclosure: Disclosure,
    on_done: Callable[[Disclosure], None],
    progress: Progress | None,
    mark_failures: bool,
) -> Iterator[bytes]:
    try:
        try:
            for kind, payload in worker.frames():
                if kind == b"D":
                    rows = NUMBER.unpack_from(payload)[0]
                    disclosure.rows += rows
                    if rows and progress is not None:
                        progress(rows)
                    yield payload[NUMBER.size :]
                elif kind == b"S":
                    disclosure.student_ids.update(json.loads(payload))
        except WorkerError as error:
            reference = error.reference or secrets.token_hex(4)
            log.error(
                "export %s failed after %d rows (reference %s): %s\n%s",
                plan.dataset.name,
                disclosure.rows,
                reference,
                error,
                error.details,
            )
            if not mark_failures:
                raise
            if not error.reference:
                # The worker died without a word: end the file here instead.
                yield closing_marker(
                    plan.format.value,
                    disclosure.rows,
                    f"the export worker stopped; reference {reference} in the server log",
                    compressed=plan.spec.compress == "gzip",
                )
            return
        disclosure.complete = True
    finally:
        worker.close()
        on_done(disclosure)


def _workbook(
    settings: Settings,
    sources: list[tuple[dict[str, Any], ExportPlan]],
    date_style: DateStyle,
    name: str,
    disclosure: Disclosure,
    *,
    on_done: Callable[[Disclosure], None],
    progress: Progress | None,
    on_total: Progress | None,
    work_dir: Path | None,
) -> Export:
    """An XLSX of one or more sources, finished before it is returned (a zip is
    written whole)."""
    directory = work_dir or settings.export_dir
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".export-", suffix=".xlsx", dir=directory)
    os.close(handle)
    path = Path(temporary)
    sheets: list[str] = []
    try:
        worker = Worker(
            query.worker_request(
                settings,
                "xlsx",
                [source for source, _ in sources],
                date_style=date_style.value,
                xlsx_path=str(path),
            )
        )
        try:
            plan = sources[0][1]
            if worker.total > plan.max_rows:
                raise too_many_rows(plan, worker.total)
            if on_total is not None:
                on_total(worker.total)
            for kind, payload in worker.frames():
                if kind == b"P":
                    rows = NUMBER.unpack(payload)[0]
                    disclosure.rows += rows
                    if progress is not None:
                        progress(rows)
                elif kind == b"N":
                    sheets = json.loads(payload)
                elif kind == b"S":
                    disclosure.student_ids.update(json.loads(payload))
        finally:
            worker.close()
        disclosure.complete = True
        on_done(disclosure)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Export(
        name, MEDIA_TYPES[ExportFormat.xlsx], disclosure.rows, _file_chunks(path), path, sheets
    )


class _FileChunks:
    """A finished file's bytes, read in chunks; the file is deleted when they have
    been read, or when the response is dropped before it started."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def __iter__(self) -> _FileChunks:
        return self

    def __next__(self) -> bytes:
        if self._handle is None:
            self._handle = self.path.open("rb")
        chunk: bytes = self._handle.read(CHUNK)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self.path.unlink(missing_ok=True)

    def __del__(self) -> None:
        self.close()


def _file_chunks(path: Path) -> Iterator[bytes]:
    return _FileChunks(path)


def auditor(
    sessions: sessionmaker[Session],
    user: User | None,
    channel: Channel,
    *,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Callable[[Disclosure], None]:
    """An ``on_done`` that writes the export to the audit trail."""

    def record(disclosure: Disclosure) -> None:
        ids = sorted(disclosure.student_ids) if disclosure.has_students else None
        with session_scope(sessions) as session:
            record_access(
                session,
                user,
                AuditAction.export,
                channel,
                disclosure.resource,
                ids if ids else None,
                ip=ip,
                detail={
                    **(detail or {}),
                    "rows": disclosure.rows,
                    "complete": disclosure.complete,
                },
            )

    return record


def export_to_file(export: Export, target: Path) -> int:
    """Write ``export`` to ``target`` through a temporary name; returns its size.

    A failed export leaves no file (and no temporary one) behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if export.path is not None:
        try:
            os.replace(export.path, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            # On another file system: copied below, through a temporary name beside
            # the target like any other export.
        else:
            export.path = None
            export.close()
            return target.stat().st_size
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    complete = False
    try:
        with os.fdopen(handle, "wb") as sink:
            for chunk in export.chunks:
                sink.write(chunk)
        complete = True
    finally:
        if not complete:
            Path(temporary).unlink(missing_ok=True)
    os.replace(temporary, target)
    return target.stat().st_size


__all__ = [
    "Disclosure",
    "Export",
    "auditor",
    "export_to_file",
    "file_name",
    "media_type",
    "prepare",
]


@dataclass(frozen=True)
class WorkbookSheet:
    name: str
    dataset: str
    spec: ExportSpec


def prepare_workbook(
    settings: Settings,
    engine: Engine,
    user: User,
    sheets: list[WorkbookSheet],
    *,
    date_style: DateStyle,
    on_done: Callable[[Disclosure], None],
    progress: Progress | None = None,
    on_total: Progress | None = None,
    now: dt.datetime | None = None,
    work_dir: Path | None = None,
) -> Export:
    """Several datasets as the sheets of one XLSX file."""
    plans = [
        plan_for(settings, engine, user, sheet.dataset, ExportFormat.xlsx, sheet.spec)
        for sheet in sheets
    ]
    moment = now or dt.datetime.now(dt.UTC)
    disclosure = Disclosure("workbook:" + ",".join(plan.dataset.name for plan in plans))
    sources = [
        (
            query.source_request(plan, settings, name=sheet.name, has_students=_has_students(plan)),
            plan,
        )
        for sheet, plan in zip(sheets, plans, strict=True)
    ]
    return _workbook(
        settings,
        sources,
        date_style,
        f"workbook_{moment:%Y%m%d-%H%M%S}.xlsx",
        disclosure,
        on_done=on_done,
        progress=progress,
        on_total=on_total,
        work_dir=work_dir,
    )


def _has_students(plan: ExportPlan) -> bool:
    return plan.dataset.name not in NO_STUDENT_DATASETS
