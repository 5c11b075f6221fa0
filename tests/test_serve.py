"""`markbook serve --demo` end to end: a real server process on a fresh database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, text

DEMO_PASSWORD = "markbook-demo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A running `markbook serve --demo`; yields its base URL, database URL and its output."""
    directory: Path = tmp_path_factory.mktemp("serve")
    database = f"sqlite:///{directory}/markbook.db"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKBOOK_")}
    env |= {"MARKBOOK_DATABASE_URL": database, "COLUMNS": "200"}
    log = directory / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "markbook",
                "serve",
                "--demo",
                "--students",
                "40",
                "--port",
                str(port),
            ],
            env=env,
            cwd=directory,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"server did not answer within 120 s:\n{log.read_text()}")
    yield base, database, log.read_text()
    process.terminate()
    process.wait(timeout=30)


def _token(base: str, email: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def _student_ids(base: str, token: str) -> set[int]:
    response = httpx.get(
        f"{base}/api/v1/students",
        params={"per_page": 200},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


def test_serves_docs_and_prints_sign_ins(server: tuple[str, str, str]) -> None:
    base, _, output = server
    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "Markbook"
    for email in (
        "admin@example.org",
        "teacher@example.org",
        "tutor@example.org",
        "guardian@example.org",
        "student@example.org",
    ):
        assert email in output
    assert DEMO_PASSWORD in output
    assert base in output


def test_a_teachers_token_lists_only_that_teachers_students(server: tuple[str, str, str]) -> None:
    base, database, _ = server
    engine = create_engine(database)
    with engine.connect() as connection:
        expected = set(
            connection.execute(
                text(
                    "SELECT DISTINCT e.student_id FROM enrollments e "
                    "JOIN courses c ON c.id = e.course_id "
                    "JOIN users u ON u.id = c.teacher_id WHERE u.email = 'teacher@example.org'"
                )
            ).scalars()
        )
        everyone = set(connection.execute(text("SELECT id FROM students")).scalars())
    engine.dispose()
    assert 0 < len(expected) < len(everyone) == 40
    assert _student_ids(base, _token(base, "teacher@example.org")) == expected
    assert _student_ids(base, _token(base, "admin@example.org")) == everyone
