"""An export plan's rows as canonical polars frames, in this process.

Exports themselves run in a worker process (:mod:`.service`, :mod:`.pipeline`);
this module reads the same rows where a caller wants the frames: tests compare
the readers with each other and with the database, and reports may build on it.

- SQLite: through the worker in ``arrow`` mode (ADBC must not share a process with
  the sqlite3 module, see :mod:`.pipeline`);
- PostgreSQL: ADBC in this process;
- ``reader="dbapi"``: SQLAlchemy with a server-side cursor, in batches, on any
  database.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from markbook.exports import query
from markbook.exports.pipeline import Adbc, Field, finished, frames
from markbook.exports.pipeline import Source as PipelineSource
from markbook.exports.spec import ExportPlan
from markbook.exports.worker import Worker
from markbook.exports.writers.cells import Kind
from markbook.settings import Settings


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
        return _through_worker(plan, settings)
    if reader == "auto" and backend == "postgresql":
        return _adbc(plan, settings)
    if engine is None:
        raise ValueError("the DB-API reader needs an engine")
    return _dbapi(plan, settings, engine)


def _fields(plan: ExportPlan) -> list[Field]:
    return [Field(name, kind) for name, kind in query.fields_of(plan)]


@contextmanager
def _through_worker(plan: ExportPlan, settings: Settings) -> Iterator[Rows]:
    source = query.source_request(plan, settings)
    worker = Worker(
        query.worker_request(settings, "arrow", [source], date_style=plan.spec.date_format.value)
    )
    with closing(worker):

        def batches() -> Iterator[pl.DataFrame]:
            for kind, payload in worker.frames():
                if kind == b"A":
                    yield pl.read_ipc_stream(io.BytesIO(payload))

        yield Rows(worker.total, batches())


@contextmanager
def _adbc(plan: ExportPlan, settings: Settings) -> Iterator[Rows]:
    request = query.source_request(plan, settings)
    source = PipelineSource(
        **{**request, "fields": [Field(name, Kind(kind)) for name, kind in request["fields"]]}
    )
    adbc = Adbc(source.backend, source.uri, settings.export_batch_rows)
    with closing(adbc):
        adbc.begin()
        total = adbc.scalar(*source.count)
        yield Rows(total, frames(adbc, source))


@contextmanager
def _dbapi(plan: ExportPlan, settings: Settings, engine: Engine) -> Iterator[Rows]:
    fields = _fields(plan)
    names = [field.name for field in fields]
    with engine.connect() as connection, connection.begin():
        total = int(connection.execute(query.count_statement(plan)).scalar_one())
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
                    yield finished(frame, fields, plan.dataset.finish)

        yield Rows(total, batches())
