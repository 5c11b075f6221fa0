"""An export plan as SQL text and parameters for ADBC, and as a worker's request.

Kept apart from the pipeline so the server can plan and start an export without
loading polars or Arrow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url

from markbook.exports.datasets import HIDDEN_SUMS, STUDENT_ID, AnySelect
from markbook.exports.spec import ExportPlan
from markbook.exports.writers.cells import Kind
from markbook.settings import Settings

SQLITE = sqlite.dialect(paramstyle="qmark")
POSTGRESQL = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
PROTO = "_proto"


def fields_of(plan: ExportPlan) -> list[tuple[str, Kind]]:
    """The columns the plan's SELECT returns, with their kinds."""
    by_name = plan.dataset.by_name
    fields = []
    for name in plan.statement.selected_columns.keys():  # noqa: SIM118 (iterating gives columns)
        if name == STUDENT_ID:
            kind = Kind.INTEGER
        elif name in HIDDEN_SUMS:
            kind = Kind.FLOAT
        else:
            kind = by_name[name].kind
        fields.append((name, kind))
    return fields


def compiled(statement: AnySelect, dialect: Dialect) -> tuple[str, list[Any]]:
    """SQL text and its positional parameters (lists expanded in place)."""
    result = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    names = result.positiontup or []
    return str(result), [result.params[name] for name in names]


def count_statement(plan: ExportPlan) -> AnySelect:
    return select(func.count()).select_from(plan.count_statement.subquery("n"))


def sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores them in SQLite: dates and times are text (times in UTC).
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def proto_literal(kind: Kind) -> str:
    return {
        Kind.TEXT: "'~'",
        Kind.INTEGER: "0",
        Kind.DECIMAL: "0.5",
        Kind.FLOAT: "0.5",
        Kind.DATE: "'2000-01-01'",
        Kind.DATETIME: "'2000-01-01 00:00:00'",
        Kind.BOOLEAN: "0",
    }[kind]


def with_prototype_row(sql: str, fields: list[tuple[str, Kind]]) -> str:
    """``sql`` after one row holding a value of every field's type.

    ADBC's SQLite driver guesses each column's type from the values of the first
    batch (SQLite has no column types): a column NULL all through it would come
    out as int64 and break on the first text further on. The prototype row
    (``_proto`` 0) is dropped again as the batches are read. The query's own ORDER
    BY stays inside its subquery, which SQLite runs as a co-routine in that order.
    """
    proto = ", ".join(f'{proto_literal(kind)} AS "{name}"' for name, kind in fields)
    # Only our own column names and fixed literals go into this text; every value
    # from the request is a bound parameter of ``sql``.
    return f"SELECT 0 AS {PROTO}, {proto} UNION ALL SELECT 1, q.* FROM ({sql}) AS q"  # noqa: S608


def source_request(
    plan: ExportPlan, settings: Settings, *, name: str = "", has_students: bool = True
) -> dict[str, Any]:
    """One plan as a worker's source (see markbook.exports.pipeline.Source)."""
    url = make_url(settings.database_url)
    fields = fields_of(plan)
    if url.get_backend_name() == "sqlite":
        sql, parameters = compiled(plan.statement, SQLITE)
        count_sql, count_parameters = compiled(count_statement(plan), SQLITE)
        backend, uri = "sqlite", url.database or ":memory:"
        rows = (with_prototype_row(sql, fields), [sqlite_value(v) for v in parameters])
        count = (count_sql, [sqlite_value(v) for v in count_parameters])
    elif url.get_backend_name() == "postgresql":
        backend = "postgresql"
        uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
        rows = compiled(plan.statement, POSTGRESQL)
        count = compiled(count_statement(plan), POSTGRESQL)
    else:  # pragma: no cover - Markbook runs on SQLite and PostgreSQL
        raise ValueError(f"exports read SQLite or PostgreSQL, not {url.get_backend_name()}")
    return {
        "backend": backend,
        "uri": uri,
        "count": count,
        "rows": rows,
        "fields": [(field, kind.value) for field, kind in fields],
        "columns": list(plan.columns),
        "finish": plan.dataset.finish,
        "name": name or plan.dataset.name,
        "chart": dict(plan.dataset.chart) if plan.spec.chart else None,
        "has_students": has_students,
    }


def worker_request(
    settings: Settings,
    fmt: str,
    sources: list[dict[str, Any]],
    *,
    options: dict[str, Any] | None = None,
    date_style: str = "iso",
    xlsx_path: str | None = None,
) -> dict[str, Any]:
    """What a worker is asked (see markbook.exports.pipeline.Request)."""
    return {
        "format": fmt,
        "sources": sources,
        "batch_rows": settings.export_batch_rows,
        "options": options or {},
        "date_style": date_style,
        "xlsx_path": xlsx_path,
        "sheet_rows": settings.export_xlsx_sheet_rows,
    }
