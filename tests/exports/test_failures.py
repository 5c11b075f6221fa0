"""An export that fails half way is never mistaken for a complete one."""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from markbook.app import create_app
from markbook.auth.models import Role, User
from markbook.db import make_engine
from markbook.exports import service, source
from markbook.exports.spec import ExportFormat, ExportSpec
from markbook.settings import Settings
from tests import factories as f
from tests.conftest import TEST_SECRET

STUDENTS = 7


@pytest.fixture
def small_batches(database_url: str, tmp_path: Path, engine: Any) -> Settings:
    # Depends on `engine` so the tables are emptied afterwards.
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        export_dir=tmp_path / "exports",
        export_batch_rows=2,
    )


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    for n in range(STUDENTS):
        f.student(session, f"Student {n}")
    return f.auth(session, f.user(session, Role.admin))


@pytest.fixture
def broken_after_first_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    real = source._finish
    calls = {"n": 0}

    def finish(plan: Any, frame: pl.DataFrame) -> pl.DataFrame:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("the database went away")
        return real(plan, frame)

    monkeypatch.setattr(source, "_finish", finish)


def test_a_csv_that_fails_mid_stream_ends_with_a_marker_and_is_logged(
    small_batches: Settings,
    admin: dict[str, str],
    broken_after_first_batch: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="markbook.exports.service"),
        TestClient(create_app(small_batches)) as client,
    ):
        response = client.get("/api/v1/exports/students.csv", headers=admin)
    assert response.status_code == 200  # the status went out with the first byte
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("student_id,")
    data = [line for line in lines[1:-1] if line]
    assert 0 < len(data) < STUDENTS
    # The marker counts the rows that did go out.
    assert lines[-1].startswith(f"EXPORT INCOMPLETE: it failed after {len(data)} rows")
    assert f"export students failed after {len(data)} rows" in caplog.text


def test_a_json_that_fails_mid_stream_is_still_json_and_says_so(
    small_batches: Settings, admin: dict[str, str], broken_after_first_batch: None
) -> None:
    with TestClient(create_app(small_batches)) as client:
        response = client.get("/api/v1/exports/students.json", headers=admin)
    rows = json.loads(response.content)
    assert 1 < len(rows) < STUDENTS + 1
    assert all("student_id" in row for row in rows[:-1])
    assert rows[-1]["error"].startswith(f"EXPORT INCOMPLETE: it failed after {len(rows) - 1} rows")


def test_a_gzipped_csv_that_fails_mid_stream_decompresses_to_the_marker(
    small_batches: Settings, admin: dict[str, str], broken_after_first_batch: None
) -> None:
    with TestClient(create_app(small_batches)) as client:
        response = client.get("/api/v1/exports/students.csv?compress=gzip", headers=admin)
    text = gzip.decompress(response.content).decode("utf-8-sig")
    assert text.strip().splitlines()[-1].startswith("EXPORT INCOMPLETE")


def test_a_file_export_that_fails_leaves_no_file(
    small_batches: Settings,
    admin: dict[str, str],
    broken_after_first_batch: None,
    tmp_path: Path,
) -> None:
    engine = make_engine(small_batches)
    user = User(id=0, role=Role.admin.value, email="cli", name="command line")
    try:
        export = service.prepare(
            small_batches,
            engine,
            user,
            "students",
            ExportFormat.csv,
            ExportSpec(),
            on_done=lambda disclosure: None,
            mark_failures=False,
        )
        target = tmp_path / "out" / export.filename
        with pytest.raises(RuntimeError, match="went away"):
            service.export_to_file(export, target)
    finally:
        engine.dispose()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_a_complete_export_in_small_batches_has_every_row_once(
    small_batches: Settings, admin: dict[str, str]
) -> None:
    with TestClient(create_app(small_batches)) as client:
        response = client.get("/api/v1/exports/students.csv?sort=-name", headers=admin)
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    names = [row["name"] for row in rows]
    assert names == sorted((f"Student {n}" for n in range(STUDENTS)), reverse=True)
    assert response.headers["x-export-rows"] == str(STUDENTS)


def _reader_children() -> list[int]:
    """Export-reader processes started by this one and not yet reaped (from /proc):
    a zombie counts, since nobody waited for it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        mine = int(parent.split()[1]) == os.getpid()
        if mine and (b"sqlite_child" in command or "State:\tZ" in status):
            found.append(int(entry.name))
    return found


def test_an_export_closed_or_dropped_before_its_first_byte_stops_its_reader(
    small_batches: Settings, admin: dict[str, str]
) -> None:
    """A client gone before the body started: nothing is left reading."""
    if not small_batches.is_sqlite:
        pytest.skip("the reader runs in a child process on SQLite only")
    engine = make_engine(small_batches)
    user = User(id=0, role=Role.admin.value, email="cli", name="command line")
    disclosed: list[int] = []
    try:
        export = service.prepare(
            small_batches,
            engine,
            user,
            "students",
            ExportFormat.csv,
            ExportSpec(),
            on_done=lambda disclosure: disclosed.append(disclosure.rows),
        )
        assert len(_reader_children()) == 1
        export.close()  # what the CLI does with a stream it leaves part way
        assert _reader_children() == []
        del export
        gc.collect()
        assert _reader_children() == []
    finally:
        engine.dispose()
    assert disclosed == []  # nothing went out, so nothing is recorded as disclosed
