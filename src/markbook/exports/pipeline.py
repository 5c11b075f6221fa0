"""The export pipeline's heavy half, run in a worker process of its own.

The server plans an export (dataset, spec, scope: SQL with bound parameters, see
:mod:`markbook.exports.spec`) and hands the plan to ``python -m
markbook.exports.worker``, which reads the rows as Arrow batches through ADBC,
turns them into the file's bytes with polars, and sends the bytes back down a pipe
(:func:`run`). The server relays them and never loads polars or Arrow:

- its memory stays that of a small web app whatever it exports; a worker's
  buffers go back to the system when it exits instead of staying in a
  long-running server's allocator (measured: the server grew from 136 to 253 MB
  over four big exports when it did the work itself);
- reading and formatting (the worker) and sending (the server) run on two cores;
- ADBC's SQLite driver carries its own copy of SQLite, and two copies in one
  process corrupt a database (https://www.sqlite.org/howtocorrupt.html, 2.2.1):
  the worker opens the file only through ADBC, read-only.

Frames on the worker's stdout: one type byte, an 8-byte little-endian length, the
payload. ``C`` the row count (8 bytes), then ``D`` file bytes (8 bytes of row
count, then the bytes) or ``A`` an Arrow IPC batch (``arrow`` mode, for
:func:`markbook.exports.source.read`), with ``S`` frames naming (JSON) the students
whose rows are in them, ``Z`` the end; or ``E`` and a message.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import polars as pl

from markbook.exports.worker import HEADER, NUMBER
from markbook.exports.writers.cells import Column, DateStyle, Kind
from markbook.exports.writers.frames import CANONICAL, round_cents

PROTO = "_proto"
STUDENT_ID = "_student_id"
SUM, SUM_SQUARES = "_sum", "_sum_squares"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind


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


def finish_class_analytics(frame: pl.DataFrame) -> pl.DataFrame:
    """Sample standard deviation from the sums, and the ISO week's name."""
    n = pl.col("count").cast(pl.Float64)
    variance = (pl.col(SUM_SQUARES) - pl.col(SUM) ** 2 / n) / (n - 1)
    week = pl.col("week_start")
    return frame.with_columns(
        pl.when(pl.col("count") > 1)
        .then(variance.clip(lower_bound=0.0).sqrt())
        .otherwise(None)
        .alias("std_dev"),
        pl.when(week.is_not_null())
        .then(
            week.dt.iso_year().cast(pl.String)
            + pl.lit("-W")
            + week.dt.week().cast(pl.String).str.zfill(2)
        )
        .otherwise(None)
        .alias("iso_week"),
    )


# Columns computed after the query, by dataset (see Dataset.finish).
FINISHERS: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "class_analytics": finish_class_analytics,
}


def finished(frame: pl.DataFrame, fields: Sequence[Field], finish: str | None) -> pl.DataFrame:
    frame = normalise(frame, fields)
    return FINISHERS[finish](frame) if finish else frame


# --- reading -------------------------------------------------------------------------


class Adbc:
    """One ADBC connection: run a query, get Arrow batches."""

    def __init__(self, backend: str, uri: str, batch_rows: int) -> None:
        import adbc_driver_manager as manager

        self._manager = manager
        if backend == "sqlite":
            import adbc_driver_sqlite as driver

            # A URI (https://www.sqlite.org/uri.html), so the file is opened
            # read-only; the path is percent-encoded in case it holds ? or #.
            uri = f"file:{quote(uri)}?mode=ro" if uri != ":memory:" else uri
            options = {"adbc.sqlite.query.batch_rows": str(batch_rows)}
        else:
            import adbc_driver_postgresql as driver  # type: ignore[no-redef]

            options = {"adbc.postgresql.batch_size_hint_bytes": str(batch_rows * 128)}
        self.backend = backend
        self.database = driver.connect(uri)
        self.connection = manager.AdbcConnection(self.database)
        self._options = options

    def begin(self) -> None:
        """One snapshot for the count and the rows."""
        if self.backend == "postgresql":
            with contextlib.suppress(self._manager.Error):
                self.connection.set_options(
                    **{
                        "adbc.connection.transaction.isolation_level": (
                            "adbc.connection.transaction.isolation.repeatable_read"
                        )
                    }
                )
        self.connection.set_autocommit(False)
        if self.backend == "postgresql":
            # Weeks (date_trunc) and naive times are taken in UTC, as Markbook
            # stores them, whatever the server's own time zone.
            self.scalar("SELECT set_config('TimeZone', 'UTC', true) IS NOT NULL", [])

    def query(self, sql: str, parameters: Sequence[Any]) -> Iterator[Any]:
        import pyarrow as pa

        statement = self._manager.AdbcStatement(self.connection)
        try:
            statement.set_options(**self._options)
            statement.set_sql_query(sql)
            if parameters:
                statement.bind(
                    pa.record_batch(
                        [pa.array([value]) for value in parameters],
                        names=[f"p{i}" for i in range(len(parameters))],
                    )
                )
            handle, _ = statement.execute_query()
            reader = pa.RecordBatchReader._import_from_c(handle.address)
            try:
                yield from reader
            finally:
                reader.close()
        finally:
            statement.close()

    def scalar(self, sql: str, parameters: Sequence[Any]) -> int:
        total = 0
        for batch in self.query(sql, parameters):
            for value in batch.column(0):
                total = int(value.as_py())
        return total

    def close(self) -> None:
        with contextlib.suppress(self._manager.Error):  # nothing was begun
            self.connection.rollback()
        self.connection.close()
        self.database.close()


@dataclass
class Source:
    """One query's rows, as the server planned them."""

    backend: str  # "sqlite" or "postgresql"
    uri: str  # the SQLite file's path, or a PostgreSQL URI
    count: tuple[str, list[Any]]
    rows: tuple[str, list[Any]]  # with the prototype row first on SQLite
    fields: list[Field]
    columns: list[Column]  # what the file holds, in order
    finish: str | None = None
    name: str = ""  # the sheet's name, for workbooks
    chart: dict[str, str] | None = None
    has_students: bool = True


def frames(adbc: Adbc, source: Source) -> Iterator[pl.DataFrame]:
    """The source's rows as canonical frames (see writers.frames.CANONICAL)."""
    for batch in adbc.query(*source.rows):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if PROTO in frame.columns:
            frame = frame.filter(pl.col(PROTO) == 1).drop(PROTO)
        if frame.height:
            yield finished(frame, source.fields, source.finish)


# --- writing -------------------------------------------------------------------------


class Failed(Exception):
    """A failure after the file began; its marker has been sent."""

    def __init__(self, error: BaseException, reference: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.reference = reference


@dataclass
class Request:
    """What a worker is asked to do: ``format`` one of csv ndjson json parquet xlsx,
    or "arrow" for the batches themselves."""

    format: str
    sources: list[Source]
    batch_rows: int
    options: dict[str, Any]  # writer options (delimiter, bom, null, guard, ...)
    date_style: DateStyle = DateStyle.ISO
    xlsx_path: str | None = None
    sheet_rows: int = 1_048_575


def make_writer(fmt: str, columns: Sequence[Column], options: dict[str, Any]) -> Any:
    from markbook.exports.writers.batches import (
        CsvBatches,
        Gzip,
        JsonBatches,
        NdjsonBatches,
        ParquetBatches,
    )

    style = DateStyle(options.get("date_style", DateStyle.ISO))
    writer: Any
    if fmt == "csv":
        writer = CsvBatches(
            columns,
            delimiter=options.get("delimiter", ","),
            bom=options.get("bom", True),
            null=options.get("null", ""),
            guard=options.get("guard", True),
            date_style=style,
        )
    elif fmt == "ndjson":
        writer = NdjsonBatches(columns, date_style=style)
    elif fmt == "json":
        writer = JsonBatches(columns, date_style=style)
    elif fmt == "parquet":
        writer = ParquetBatches(columns)
    else:  # pragma: no cover - the server sends known formats only
        raise ValueError(f"unknown format {fmt}")
    return Gzip(writer) if options.get("compress") == "gzip" else writer


def _send(out: IO[bytes], kind: bytes, payload: bytes) -> None:
    out.write(HEADER.pack(kind, len(payload)))
    out.write(payload)
    # Now, not when the buffer fills: progress frames are a few bytes each.
    out.flush()


def run(request: Request, out: IO[bytes]) -> None:
    """Count, read, write: frames to ``out`` (see the module's docstring)."""
    students: set[int] = set()

    def disclosed(frame: pl.DataFrame, source: Source) -> None:
        # Sent batch by batch, with the batch: should the worker die, the audit
        # trail still names every student whose rows went out.
        if source.has_students:
            ids = set(frame.get_column(STUDENT_ID).drop_nulls().unique().to_list())
            if new := ids - students:
                students.update(new)
                _send(out, b"S", json.dumps(sorted(new)).encode())

    with contextlib.ExitStack() as stack:
        connections = []
        for source in request.sources:
            adbc = Adbc(source.backend, source.uri, request.batch_rows)
            stack.callback(adbc.close)
            adbc.begin()
            connections.append(adbc)
        totals = [
            adbc.scalar(*source.count)
            for adbc, source in zip(connections, request.sources, strict=True)
        ]
        _send(out, b"C", NUMBER.pack(sum(totals)))
        out.flush()
        if request.format == "xlsx":
            from markbook.exports.writers.arrow_xlsx import SheetSource, write_workbook

            def counted(adbc: Adbc, source: Source) -> Iterator[pl.DataFrame]:
                for frame in frames(adbc, source):
                    disclosed(frame, source)
                    yield frame

            sheets = [
                SheetSource(
                    source.name, source.columns, total, counted(adbc, source), chart=source.chart
                )
                for adbc, source, total in zip(connections, request.sources, totals, strict=True)
            ]
            assert request.xlsx_path is not None
            write_workbook(
                Path(request.xlsx_path),
                sheets,
                date_style=request.date_style,
                sheet_rows=request.sheet_rows,
                on_batch=lambda rows: _send(out, b"P", NUMBER.pack(rows)),
            )
            _send(out, b"N", json.dumps([n for sheet in sheets for n in sheet.names]).encode())
        elif request.format == "arrow":
            for frame in frames(connections[0], request.sources[0]):
                _send(out, b"A", _ipc(frame))
        else:
            source = request.sources[0]
            writer = make_writer(request.format, source.columns, request.options)
            _send(out, b"D", NUMBER.pack(0) + writer.start())
            done = 0
            try:
                for frame in frames(connections[0], source):
                    data = writer.write(frame)
                    disclosed(frame, source)
                    done += frame.height
                    _send(out, b"D", NUMBER.pack(frame.height) + data)
            except BrokenPipeError:
                raise
            except Exception as error:
                # The file has begun: end it with a marker saying it is incomplete
                # (the server shows it or throws the file away).
                reference = secrets.token_hex(4)
                reason = f"{type(error).__name__}; reference {reference} in the server log"
                _send(out, b"D", NUMBER.pack(0) + writer.fail(done, reason))
                raise Failed(error, reference) from error
            _send(out, b"D", NUMBER.pack(0) + writer.finish())
        _send(out, b"Z", b"")
        out.flush()


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc_stream(buffer)
    return buffer.getvalue()
