"""Dataset exports over HTTP: the list of datasets, streamed downloads, workbooks.

The operations of the service Markbook replaces map onto these:

- one student's analytics: ``GET /api/v1/exports/analytics.csv?student_ids=42``
- class analytics of several courses:
  ``GET /api/v1/exports/class_analytics.xlsx?course_ids=3,4&weekly=true&chart=true``
- the written reports: ``GET /api/v1/exports/student_reports.csv`` (and
  ``teacher_weekly_reports``, ``tutor_weekly_reports``)
- a custom filtered query: any dataset with ``columns``, ``filter``, ``sort`` and
  ``limit``, e.g. ``grades.csv?filter=status:in:late|missing&sort=-due_date``
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from markbook.audit import Channel
from markbook.auth.models import Role
from markbook.deps import (
    BearerToken,
    ClientIP,
    CurrentUser,
    SettingsDep,
    authenticate,
    in_one_thread,
)
from markbook.downloads import ascii_name, content_disposition
from markbook.errors import API_ERRORS, documented
from markbook.exports import service
from markbook.exports.datasets import DATASETS
from markbook.exports.spec import MEDIA_TYPES, OPERATORS, ExportFormat, ExportSpec
from markbook.exports.writers.cells import DateStyle
from markbook.schemas import Schema

router = APIRouter(prefix="/api/v1/exports", tags=["exports"], responses=API_ERRORS)


class DatasetColumn(Schema):
    name: str
    label: str
    type: str


class DatasetInfo(Schema):
    name: str
    description: str
    columns: list[DatasetColumn]
    default_columns: list[str]
    date_column: str | None = Field(description="The column start/end apply to.")
    narrowed_by: list[str] = Field(
        description="Which of student_ids, course_ids and metric_types it takes."
    )
    formats: list[str]
    admin_only: bool


class DatasetList(Schema):
    datasets: list[DatasetInfo]
    filter_operators: list[str]


@router.get("/datasets", summary="The datasets you may export, with their columns and types")
def list_datasets(user: CurrentUser) -> DatasetList:
    """Each dataset with its columns (name, header label, type), the columns it gives
    by default, the column start/end apply to and the id lists it can be narrowed by.
    Admin-only datasets are listed to admins only."""
    from markbook.exports.datasets import Scope

    admin = Role(user.role) is Role.admin
    return DatasetList(
        datasets=[
            DatasetInfo(
                name=dataset.name,
                description=dataset.description,
                columns=[
                    DatasetColumn(name=c.name, label=c.label, type=c.kind.value)
                    for c in dataset.columns
                ],
                default_columns=list(dataset.default_columns(Scope(user=user))),
                date_column=dataset.date_column,
                narrowed_by=sorted(dataset.accepts),
                formats=[fmt.value for fmt in ExportFormat],
                admin_only=dataset.admin_only,
            )
            for dataset in DATASETS.values()
            if admin or not dataset.admin_only
        ],
        filter_operators=list(OPERATORS),
    )


def download_response(export: service.Export) -> StreamingResponse:
    """The export streamed as an attachment (the API's and the web pages' alike)."""
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={
            "Content-Disposition": content_disposition(
                export.filename, ascii_name(export.filename)
            ),
            "X-Export-Rows": str(export.rows),
            "Cache-Control": "no-store",
            **({"X-Export-Sheets": ", ".join(export.sheets)} if export.sheets else {}),
        },
    )


_FILES: dict[int | str, dict[str, Any]] = {
    413: documented(
        "More rows than one export may hold (MARKBOOK_EXPORT_MAX_ROWS, or "
        "MARKBOOK_EXPORT_XLSX_MAX_ROWS for XLSX); narrow it or split it."
    ),
    200: {
        "description": "The file, streamed as it is produced (Content-Disposition: "
        "attachment; X-Export-Rows: its row count).",
        "content": {media: {} for media in [*MEDIA_TYPES.values(), "application/gzip"]},
    },
}


@router.get(
    "/{dataset}.{fmt}",
    summary="Export a dataset as CSV, XLSX, NDJSON, JSON or Parquet",
    response_class=StreamingResponse,
    responses=_FILES,
)
async def export_dataset(
    request: Request,
    dataset: str,
    fmt: ExportFormat,
    spec: Annotated[ExportSpec, Query()],
    token: BearerToken,
    settings: SettingsDep,
    ip: ClientIP,
) -> StreamingResponse:
    """Rows are scoped to what you may see. Errors found before the first byte are
    problem+json; a failure while streaming ends the file with a line saying it is
    incomplete."""
    engine = request.app.state.engine
    sessions = request.app.state.sessionmaker
    # Signed in and committed first: an export can take seconds, and the request's
    # session must not hold SQLite's write lock (a token's last-use time) meanwhile.
    user = await in_one_thread(request, lambda session: authenticate(session, token))
    return download_response(
        await run_in_threadpool(
            service.prepare,
            settings,
            engine,
            user,
            dataset,
            fmt,
            spec,
            on_done=service.auditor(
                sessions, user, Channel.api, ip=ip, detail={"format": fmt.value}
            ),
        )
    )


class SheetRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Sheet name (made valid).")
    dataset: str = Field(max_length=64)
    spec: ExportSpec = Field(default_factory=lambda: ExportSpec())


class WorkbookRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    sheets: list[SheetRequest] = Field(min_length=1, max_length=20)
    date_format: DateStyle = DateStyle.ISO


@router.post(
    "/workbook",
    summary="Several datasets as the sheets of one XLSX",
    response_class=StreamingResponse,
    responses=_FILES,
)
async def export_workbook(
    request: Request,
    body: WorkbookRequest,
    token: BearerToken,
    settings: SettingsDep,
    ip: ClientIP,
) -> StreamingResponse:
    """Sheet names are made valid for Excel (31 characters, none of []:*?/\\, unique);
    the names given are in the X-Export-Sheets header."""
    engine = request.app.state.engine
    sessions = request.app.state.sessionmaker
    user = await in_one_thread(request, lambda session: authenticate(session, token))
    return download_response(
        await run_in_threadpool(
            service.prepare_workbook,
            settings,
            engine,
            user,
            [service.WorkbookSheet(s.name, s.dataset, s.spec) for s in body.sheets],
            date_style=body.date_format,
            on_done=service.auditor(sessions, user, Channel.api, ip=ip, detail={"format": "xlsx"}),
        )
    )
