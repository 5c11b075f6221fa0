"""The `markbook` command, run as a user runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from markbook.auth.models import User
from markbook.auth.passwords import verify_password
from markbook.auth.tokens import user_for_token
from markbook.db import make_engine, make_sessionmaker
from markbook.settings import Settings


def markbook(
    database: str, *args: str, stdin: str | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKBOOK_")}
    env |= {"MARKBOOK_DATABASE_URL": database, "COLUMNS": "200", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "markbook", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    result = markbook(url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return url


def _user(database: str, email: str) -> User | None:
    engine = make_engine(Settings(database_url=database))
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalars(select(User).where(User.email == email)).one_or_none()
    finally:
        engine.dispose()


def test_db_upgrade_and_current(database: str) -> None:
    result = markbook(database, "db", "current")
    assert result.returncode == 0
    assert "up to date" in result.stderr


def test_users_create_with_password(database: str) -> None:
    result = markbook(
        database,
        "users",
        "create",
        "--email",
        "Head@School.example.org",
        "--name",
        "Dr Head",
        "--role",
        "admin",
        "--password",
        "a fine password",
    )
    assert result.returncode == 0, result.stderr
    assert "created admin head@school.example.org" in result.stderr
    user = _user(database, "head@school.example.org")
    assert user is not None and user.role == "admin" and user.name == "Dr Head"
    assert verify_password(user.password_hash, "a fine password")


def test_users_create_generates_a_password_when_not_on_a_terminal(database: str) -> None:
    result = markbook(
        database,
        "users",
        "create",
        "--email",
        "t@example.org",
        "--name",
        "T",
        "--role",
        "teacher",
        stdin="",
    )
    assert result.returncode == 0, result.stderr
    generated = result.stderr.split("generated password:")[1].split()[0]
    user = _user(database, "t@example.org")
    assert user is not None and verify_password(user.password_hash, generated)


def test_users_create_errors(database: str) -> None:
    args = [
        "users",
        "create",
        "--email",
        "dup@example.org",
        "--name",
        "D",
        "--password",
        "longenough",
    ]
    assert markbook(database, *args, "--role", "teacher").returncode == 0
    duplicate = markbook(database, *args, "--role", "teacher")
    assert duplicate.returncode == 1
    assert "already a user with the email dup@example.org" in duplicate.stderr
    bad_role = markbook(database, *args, "--role", "wizard")
    assert bad_role.returncode == 2
    assert "wizard" in bad_role.stderr


def test_tokens_create_prints_only_the_token(database: str) -> None:
    markbook(
        database,
        "users",
        "create",
        "--email",
        "g@example.org",
        "--name",
        "G",
        "--role",
        "guardian",
        "--password",
        "longenough",
    )
    result = markbook(
        database, "tokens", "create", "--email", "g@example.org", "--expires-days", "7"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    engine = make_engine(Settings(database_url=database))
    try:
        with make_sessionmaker(engine)() as session:
            owner = user_for_token(session, lines[0])
            assert owner is not None and owner.email == "g@example.org"
    finally:
        engine.dispose()
    unknown = markbook(database, "tokens", "create", "--email", "nobody@example.org")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "no active user" in unknown.stderr


def test_serve_refuses_a_placeholder_secret(database: str) -> None:
    result = markbook(
        database, "serve", "--port", "1", extra_env={"MARKBOOK_SECRET_KEY": "changeme"}
    )
    assert result.returncode == 1
    assert "placeholder" in result.stderr


def test_commands_on_an_unmigrated_database_say_what_to_run(tmp_path: Path) -> None:
    result = markbook(
        f"sqlite:///{tmp_path}/empty.db",
        "users",
        "create",
        "--email",
        "a@example.org",
        "--name",
        "A",
        "--role",
        "admin",
        "--password",
        "longenough",
    )
    assert result.returncode == 1
    assert "run `markbook db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr
