"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the server on this machine (MARKBOOK_TEST_PG_URL, default
postgresql://postgres@127.0.0.1:5432/test); each test session creates scratch
databases there and drops them at the end. With CI=true a missing PostgreSQL or
Redis fails the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from markbook import migrate
from markbook.app import create_app
from markbook.db import make_engine, make_sessionmaker
from markbook.models import Base
from markbook.settings import Settings

PG_SERVER_URL = os.environ.get(
    "MARKBOOK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MARKBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET = "test-secret-" + "x" * 40


def unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message)


class PgServer:
    """Creates and drops scratch databases on the PostgreSQL server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=None)
        self.created: list[str] = []

    def create_database(self, label: str) -> str:
        name = f"markbook_test_{label}_{os.getpid()}_{secrets.token_hex(3)}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_abandoned(self) -> None:
        """Drop scratch databases left by test runs that were killed (their pid is gone)."""
        with self._admin.connect() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'markbook_test_%'")
            ).scalars()
            for name in list(names):
                pid = name.rsplit("_", 2)[-2]
                if pid.isdigit() and not _process_alive(int(pid)):
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        with self._admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer(PG_SERVER_URL)
    try:
        with server._admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        unavailable(f"PostgreSQL at {PG_SERVER_URL}", error)
    server.drop_abandoned()
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {REDIS_URL}", error)
    finally:
        client.close()
    return REDIS_URL


def make_database(
    backend: str,
    label: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """An empty database of this backend, with the schema migrated to head."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp(label) / "markbook.db"
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_server").create_database(label)
    migrate.upgrade(Settings(database_url=url, secret_key=TEST_SECRET))
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A migrated database that tests write to; emptied after each test."""
    return make_database(backend, "db", request, tmp_path_factory)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        export_dir=tmp_path / "exports",
        school_name="Test High School",
    )


def empty_all_tables(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    empty_all_tables(engine)
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    session = make_sessionmaker(engine)()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    # Depends on `engine` so the tables are emptied after the test.
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
