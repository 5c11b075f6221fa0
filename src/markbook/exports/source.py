"""Rows of an export plan as columnar batches, straight from the database.

SQLite and PostgreSQL are read through ADBC (Apache Arrow's database connectivity):
the driver fills Arrow record batches in C, so no Python object is made per row
(PostgreSQL's driver reads them with binary COPY). That is what lets a million-row
CSV go out in a couple of seconds; a row-by-row DB-API cursor costs more than the
whole budget just building tuples. Any other database falls back to SQLAlchemy with
a server-side cursor, in batches.

The count and the rows are read on one connection inside one transaction, so the
413 check, the progress total and the sheets of a workbook agree with the rows.

Each batch comes out as a polars frame in the canonical types of
:data:`markbook.exports.writers.frames.CANONICAL`, whatever the database gave.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url

from markbook.exports.datasets import HIDDEN_SUMS, STUDENT_ID, AnySelect
from markbook.exports.spec import ExportPlan
from markbook.exports.writers.cells import Kind
from markbook.exports.writers.frames import CANONICAL, round_cents
from markbook.settings import Settings

log = logging.getLogger(__name__)

PROTO = "_proto"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind


def fields_of(plan: ExportPlan) -> list[Field]:
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
        fields.append(Field(name, kind))
    return fields


class Rows:
    """An open read: ``total`` rows, handed out by :meth:`batches`."""

    def __init__(self, total: int, batches: Iterator[pl.DataFrame]) -> None:
        self.total = total
        self._batches = batches

    def batches(self) -> Iterator[pl.DataFrame]:
        return self._batches


def read(
    plan: ExportPlan, settings: Settings, *, engine: Engine | None = None, reader: str = "auto"
) -> AbstractContextManager[Rows]:
    """Open the plan's rows; ``reader`` "dbapi" forces the SQLAlchemy path."""
    backend = make_url(settings.database_url).get_backend_name()
    if reader == "auto" and backend == "sqlite":
        return _adbc_sqlite(plan, settings)
    if reader == "auto" and backend == "postgresql":
        return _adbc_postgresql(plan, settings)
    if engine is None:
        raise ValueError("the DB-API reader needs an engine")
    return _dbapi(plan, settings, engine)


# --- normalising ---------------------------------------------------------------------


def _datetime_from_text(expr: pl.Expr) -> pl.Expr:
    # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff"; SQLite's CURRENT_TIMESTAMP
    # (server defaults) leaves the fraction out, which %.f accepts too.
    return expr.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)


def _normalised(name: str, kind: Kind, dtype: pl.DataType) -> pl.Expr:
    expr = pl.col(name)
    if kind is Kind.DECIMAL:
        return (round_cents(expr.cast(pl.Float64)) / 100).alias(name)
    if kind is Kind.DATE:
        if dtype == pl.String:
            return expr.str.to_date("%Y-%m-%d", strict=False).alias(name)
        if isinstance(dtype, pl.Datetime):
            return expr.dt.date().alias(name)
    if kind is Kind.DATETIME:
        if dtype == pl.String:
            return _datetime_from_text(expr).alias(name)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            return (
                expr.dt.convert_time_zone("UTC")
                .dt.replace_time_zone(None)
                .dt.cast_time_unit("us")
                .alias(name)
            )
    return expr.cast(CANONICAL[kind], strict=False).alias(name)


def normalise(frame: pl.DataFrame, fields: Sequence[Field]) -> pl.DataFrame:
    """``frame`` in the canonical type of each field's kind, decimals to the cent."""
    return frame.select(
        _normalised(field.name, field.kind, frame.schema[field.name]) for field in fields
    )


def _finish(plan: ExportPlan, frame: pl.DataFrame) -> pl.DataFrame:
    if plan.dataset.finish is not None:
        frame = plan.dataset.finish(frame)
    return frame


# --- compiling -----------------------------------------------------------------------

_SQLITE = sqlite.dialect(paramstyle="qmark")
_POSTGRESQL = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def compiled(statement: AnySelect, dialect: Dialect) -> tuple[str, list[Any]]:
    """SQL text and its positional parameters (lists expanded in place)."""
    result = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    names = result.positiontup or []
    return str(result), [result.params[name] for name in names]


def _count_statement(plan: ExportPlan) -> AnySelect:
    return select(func.count()).select_from(plan.count_statement.subquery("n"))


def _sqlite_value(value: Any) -> Any:
    # As SQLAlchemy stores them in SQLite: dates and times are text.
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _parameters(values: Sequence[Any]) -> Any:
    import pyarrow as pa

    return pa.record_batch(
        [pa.array([value]) for value in values], names=[f"p{i}" for i in range(len(values))]
    )


# --- ADBC ----------------------------------------------------------------------------


class _Adbc:
    """One ADBC connection: run a query, get Arrow batches."""

    def __init__(self, driver: Any, uri: str, options: dict[str, str]) -> None:
        import adbc_driver_manager as manager

        self._manager = manager
        self.database = driver.connect(uri)
        self.connection = manager.AdbcConnection(self.database)
        self._statement_options = options

    def begin(self, isolation: str | None = None) -> None:
        if isolation:
            try:
                self.connection.set_options(
                    **{"adbc.connection.transaction.isolation_level": isolation}
                )
            except self._manager.Error:  # pragma: no cover - driver without the option
                log.debug("ADBC driver cannot set isolation %s", isolation)
        self.connection.set_autocommit(False)

    def query(self, sql: str, parameters: Sequence[Any]) -> Iterator[Any]:
        import pyarrow as pa

        statement = self._manager.AdbcStatement(self.connection)
        try:
            if self._statement_options:
                statement.set_options(**self._statement_options)
            statement.set_sql_query(sql)
            if parameters:
                statement.bind(_parameters(parameters))
            handle, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(handle.address)
            try:
                yield from reader
            finally:
                reader.close()
        finally:
            statement.close()

    def scalar(self, sql: str, parameters: Sequence[Any]) -> int:
        for batch in self.query(sql, parameters):
            if batch.num_rows:
                return int(batch.column(0)[0].as_py())
        return 0

    def close(self) -> None:
        with contextlib.suppress(self._manager.Error):  # nothing was begun
            self.connection.rollback()
        self.connection.close()
        self.database.close()


def _proto_literal(kind: Kind) -> str:
    return {
        Kind.TEXT: "'~'",
        Kind.INTEGER: "0",
        Kind.DECIMAL: "0.5",
        Kind.FLOAT: "0.5",
        Kind.DATE: "'2000-01-01'",
        Kind.DATETIME: "'2000-01-01 00:00:00'",
        Kind.BOOLEAN: "0",
    }[kind]


@contextmanager
def _adbc_sqlite(plan: ExportPlan, settings: Settings) -> Iterator[Rows]:
    from markbook.exports.sqlite_child import ChildRead

    path = make_url(settings.database_url).database or ":memory:"
    fields = fields_of(plan)
    sql, parameters = compiled(plan.statement, _SQLITE)
    # ADBC's SQLite driver guesses each column's type from the values of the first
    # batch (SQLite has no column types): a column NULL all through it would come
    # out as int64 and break on the first text further on. So the rows follow one
    # prototype row holding a value of every column's type, dropped again below.
    # The query's own ORDER BY stays inside its subquery, which SQLite runs as a
    # co-routine in that order.
    proto = ", ".join(f'{_proto_literal(field.kind)} AS "{field.name}"' for field in fields)
    # Only our own column names and fixed literals go into this text; every value
    # from the request is a bound parameter of ``sql``.
    wrapped = f"SELECT 0 AS {PROTO}, {proto} UNION ALL SELECT 1, q.* FROM ({sql}) AS q"  # noqa: S608
    count_sql, count_parameters = compiled(_count_statement(plan), _SQLITE)
    child = ChildRead(
        path,
        (count_sql, [_sqlite_value(v) for v in count_parameters]),
        (wrapped, [_sqlite_value(v) for v in parameters]),
        settings.export_batch_rows,
    )
    with closing(child):

        def batches() -> Iterator[pl.DataFrame]:
            for batch in child.batches():
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                frame = frame.filter(pl.col(PROTO) == 1).drop(PROTO)
                if frame.height:
                    yield _finish(plan, normalise(frame, fields))

        yield Rows(child.total, batches())


@contextmanager
def _adbc_postgresql(plan: ExportPlan, settings: Settings) -> Iterator[Rows]:
    import adbc_driver_postgresql

    uri = make_url(settings.database_url).set(drivername="postgresql")
    fields = fields_of(plan)
    sql, parameters = compiled(plan.statement, _POSTGRESQL)
    count_sql, count_parameters = compiled(_count_statement(plan), _POSTGRESQL)
    adbc = _Adbc(
        adbc_driver_postgresql,
        uri.render_as_string(hide_password=False),
        {"adbc.postgresql.batch_size_hint_bytes": str(settings.export_batch_rows * 128)},
    )
    with closing(adbc):
        adbc.begin("adbc.connection.transaction.isolation.repeatable_read")
        # Weeks (date_trunc) and naive times are taken in UTC, as Markbook stores
        # them, whatever the server's own time zone.
        adbc.scalar("SELECT set_config('TimeZone', 'UTC', true) IS NOT NULL", [])
        total = adbc.scalar(count_sql, count_parameters)

        def batches() -> Iterator[pl.DataFrame]:
            for batch in adbc.query(sql, parameters):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                if frame.height:
                    yield _finish(plan, normalise(frame, fields))

        yield Rows(total, batches())


# --- DB-API (any other database) -----------------------------------------------------


@contextmanager
def _dbapi(plan: ExportPlan, settings: Settings, engine: Engine) -> Iterator[Rows]:
    fields = fields_of(plan)
    names = [field.name for field in fields]
    with engine.connect() as connection, connection.begin():
        total = int(connection.execute(_count_statement(plan)).scalar_one())
        result = connection.execution_options(
            stream_results=True, yield_per=settings.export_batch_rows
        ).execute(plan.statement)

        def batches() -> Iterator[pl.DataFrame]:
            with closing(result):
                for rows in result.partitions():
                    frame = pl.DataFrame(
                        [tuple(row) for row in rows],
                        schema=names,
                        orient="row",
                        infer_schema_length=None,
                    )
                    yield _finish(plan, normalise(frame, fields))

        yield Rows(total, batches())
