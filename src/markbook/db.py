"""Database engine, sessions and the declarative base shared by every domain's models."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql as postgresql_dml
from sqlalchemy.dialects import sqlite as sqlite_dml
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.types import TypeDecorator

from markbook.settings import Settings

# Constraint names are part of the schema: Alembic needs them to alter tables on
# SQLite (batch mode) and to compare the models with the database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always handed back timezone-aware.

    SQLite has no time zones and returns naive values; PostgreSQL's timestamptz
    returns aware ones. This makes both look the same to the code.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; use markbook.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON().with_variant(JSONB(), "postgresql"),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """An engine for the configured database, with SQLite tuned for a server."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the
    # one writer; NORMAL sync is safe with WAL (it can lose the last commits on a
    # power cut, never corrupt the file).
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work for edges outside HTTP (CLI, tasks): commit or roll back once."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def single_use_engine(settings: Settings) -> Engine:
    """An engine that keeps no pool, for one-off commands such as migrations."""
    return make_engine(settings, poolclass=NullPool)


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT these rows, or UPDATE the ``update`` columns where ``key`` already exists.

    One statement per chunk, on SQLite and PostgreSQL alike (both speak
    ``ON CONFLICT (...) DO UPDATE``).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module: Any = postgresql_dml if dialect == "postgresql" else sqlite_dml
    # Chunked so a statement stays under SQLite's 32,766 bound parameters.
    per_chunk = max(1, 30_000 // max(1, len(rows[0])))
    for start in range(0, len(rows), per_chunk):
        statement = module.insert(table).values(list(rows[start : start + per_chunk]))
        statement = statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: statement.excluded[name] for name in update},
        )
        session.execute(statement)


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    chunk_size: int = 20_000,
) -> int:
    """Insert many rows fast: COPY on PostgreSQL, chunked executemany on SQLite.

    Rows are tuples of Python values in the order of ``columns``; returns how many
    went in. It bypasses the ORM (no events, no data_version bump): callers that
    change students' figures bump versions themselves.
    """
    if connection.dialect.name == "postgresql":
        return _copy_rows(connection, table, columns, rows)
    return _executemany_rows(connection, table, columns, rows, chunk_size)


# Parameters per statement: SQLite's limit is 32,766 since 3.32; a few hundred
# rows per multi-row VALUES already gets most of the gain over one row a statement.
_SQLITE_PARAMS_PER_STATEMENT = 999


def _executemany_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    chunk_size: int,
) -> int:
    dialect = connection.dialect
    # The column types' own bind processors turn dates, datetimes and decimals
    # into what the driver stores, exactly as an ORM insert would.
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
    width = len(columns)
    per_statement = max(1, _SQLITE_PARAMS_PER_STATEMENT // width)
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    # Identifiers come from our own table metadata, quoted; values are bound.
    target = dialect.identifier_preparer.format_table(table)

    def statement(row_count: int) -> str:
        group = "(" + ", ".join("?" * width) + ")"
        values = ", ".join([group] * row_count)
        return f"INSERT INTO {target} ({names}) VALUES {values}"  # noqa: S608

    full = statement(per_statement)
    flatten = itertools.chain.from_iterable
    cursor = connection.connection.cursor()
    count = 0
    try:
        for chunk in _batched(rows, chunk_size):
            converted = _convert_columns(chunk, processors)
            whole = len(converted) - len(converted) % per_statement
            if whole:
                cursor.executemany(
                    full,
                    [
                        tuple(
                            itertools.chain.from_iterable(converted[start : start + per_statement])
                        )
                        for start in range(0, whole, per_statement)
                    ],
                )
            if whole < len(converted):
                rest = converted[whole:]
                cursor.execute(statement(len(rest)), tuple(flatten(rest)))
            count += len(converted)
    finally:
        cursor.close()
    return count


def _batched(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _convert_columns(
    chunk: list[Sequence[Any]], processors: Sequence[Callable[[Any], Any] | None]
) -> list[tuple[Any, ...]]:
    """Apply each column's bind processor to a chunk, column by column.

    Bulk columns repeat values (the same day, the same status), so each distinct
    value is converted once; unhashable values (JSON) are converted one by one.
    """
    if all(processor is None for processor in processors):
        return [tuple(row) for row in chunk]
    columns: list[Sequence[Any]] = list(zip(*chunk, strict=True))
    for index, processor in enumerate(processors):
        if processor is None:
            continue
        try:
            seen: dict[Any, Any] = {}
            columns[index] = [
                seen[value] if value in seen else seen.setdefault(value, processor(value))
                for value in columns[index]
            ]
        except TypeError:
            columns[index] = [processor(value) for value in columns[index]]
    return list(zip(*columns, strict=True))


def _copy_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    from psycopg.types.json import Jsonb

    raw = connection.connection.driver_connection
    assert raw is not None
    preparer = connection.dialect.identifier_preparer
    names = ", ".join(preparer.quote(name) for name in columns)
    # psycopg adapts dates, datetimes and decimals itself; JSON values need a wrapper.
    json_columns = [
        index
        for index, name in enumerate(columns)
        if isinstance(table.c[name].type.dialect_impl(connection.dialect), JSON)
    ]
    count = 0
    with raw.cursor() as cursor:
        sql = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
        with cursor.copy(sql) as copy:
            for row in rows:
                if json_columns:
                    values = list(row)
                    for index in json_columns:
                        if values[index] is not None:
                            values[index] = Jsonb(values[index])
                    row = values
                copy.write_row(row)
                count += 1
    return count
