"""An export that fails half way is never mistaken for a complete one.

The failures are real: the worker process is killed in the middle of its file, or
(PostgreSQL) its database connection is terminated by the server.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import logging
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.exports import service
from markbook.exports.spec import ExportFormat, ExportSpec
from markbook.exports.worker import Worker, WorkerError
from markbook.exports.writers.cells import Column, Kind
from markbook.records.models import Student
from markbook.settings import Settings
from tests.conftest import TEST_SECRET

# Enough rows that the worker's output overflows the pipe and waits for the
# server, so it is still running when it is killed.
STUDENTS = 3000
SYSTEM = User(id=0, role=Role.admin.value, email="cli", name="command line")


@pytest.fixture
def small_batches(database_url: str, tmp_path: Path, engine: Engine) -> Settings:
    # Depends on `engine` so the tables are emptied afterwards.
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        export_dir=tmp_path / "exports",
        export_batch_rows=100,
    )


@pytest.fixture
def students(session: Session) -> int:
    session.execute(
        insert(Student),
        [
            {
                "external_id": f"S{n:06d}",
                "name": f"Student {n:04d}",
                "name_search": f"student {n:04d}",
                "grade_level": 9,
            }
            for n in range(STUDENTS)
        ],
    )
    session.commit()
    return STUDENTS


def _workers() -> list[int]:
    """Export workers started by this process and not yet reaped (from /proc): a
    zombie counts, since nobody waited for it."""
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
        if mine and (b"markbook.exports.worker" in command or "State:\tZ" in status):
            found.append(int(entry.name))
    return found


def _prepare(settings: Settings, engine: Engine, fmt: ExportFormat, **kwargs: Any) -> Any:
    disclosed: list[Any] = []
    export = service.prepare(
        settings,
        engine,
        SYSTEM,
        "students",
        fmt,
        ExportSpec(**kwargs.pop("spec", {})),
        on_done=disclosed.append,
        **kwargs,
    )
    return export, disclosed


def _killed_after_first_chunk(chunks: Iterator[bytes]) -> bytes:
    first = next(chunks)
    (worker,) = _workers()
    os.kill(worker, signal.SIGKILL)
    return first + b"".join(chunks)


def test_a_csv_whose_worker_dies_ends_with_a_marker_and_is_logged(
    small_batches: Settings,
    engine: Engine,
    students: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    export, disclosed = _prepare(small_batches, engine, ExportFormat.csv)
    with caplog.at_level(logging.ERROR, logger="markbook.exports.service"):
        body = _killed_after_first_chunk(export.chunks)
    lines = body.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("student_id,")
    data = [line for line in lines[1:-1] if line]
    assert len(data) < students
    # The marker counts the rows that did go out.
    assert lines[-1].startswith(f"EXPORT INCOMPLETE: it failed after {len(data):,} rows")
    assert "the export worker stopped" in lines[-1]
    assert f"export students failed after {len(data)} rows" in caplog.text
    assert disclosed[0].complete is False and disclosed[0].rows == len(data)
    # The audit trail names every student whose row went out before the worker died.
    sent = {int(line.split(",")[0]) for line in data}
    assert sent <= disclosed[0].student_ids
    assert _workers() == []


def test_a_json_whose_worker_dies_is_still_json_and_says_so(
    small_batches: Settings, engine: Engine, students: int
) -> None:
    export, _ = _prepare(small_batches, engine, ExportFormat.json)
    rows = json.loads(_killed_after_first_chunk(export.chunks))
    assert 0 < len(rows) < students + 1
    assert all("student_id" in row for row in rows[:-1])
    assert rows[-1]["error"].startswith(f"EXPORT INCOMPLETE: it failed after {len(rows) - 1:,}")


def test_a_gzipped_csv_whose_worker_dies_does_not_decompress(
    small_batches: Settings, engine: Engine, students: int
) -> None:
    """The worker's gzip stream is cut where it died and only it could end it: the
    file fails to decompress, loudly, rather than pass for a whole one."""
    import zlib

    export, _ = _prepare(small_batches, engine, ExportFormat.csv, spec={"compress": "gzip"})
    with pytest.raises((EOFError, zlib.error, gzip.BadGzipFile)):
        gzip.decompress(_killed_after_first_chunk(export.chunks))


def test_a_file_export_whose_worker_dies_leaves_no_file(
    small_batches: Settings, engine: Engine, students: int, tmp_path: Path
) -> None:
    export, _ = _prepare(small_batches, engine, ExportFormat.csv, mark_failures=False)
    target = tmp_path / "out" / export.filename
    chunks = export.chunks

    def killing() -> Iterator[bytes]:
        yield next(chunks)
        (worker,) = _workers()
        os.kill(worker, signal.SIGKILL)
        yield from chunks

    export.chunks = killing()
    with pytest.raises(WorkerError):
        service.export_to_file(export, target)
    assert list(target.parent.iterdir()) == []


def test_a_query_failing_mid_stream_is_marked_by_the_worker(tmp_path: Path) -> None:
    """The query itself fails on its 151st row (malformed JSON): the worker ends
    the file inside its own gzip stream and reports the failure with a reference."""
    database = tmp_path / "broken.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO t (name) VALUES (?)", [(f"n{i}",) for i in range(300)])
    columns = [Column("id", "Id", Kind.INTEGER), Column("name", "Name", Kind.TEXT)]
    sql = (
        "SELECT 1 AS _proto, id, CASE WHEN id > 150 THEN json('{broken') ELSE name END "
        "AS name FROM t ORDER BY id"
    )
    worker = Worker(
        {
            "format": "csv",
            "sources": [
                {
                    "backend": "sqlite",
                    "uri": str(database),
                    "count": ("SELECT count(*) FROM t", []),
                    "rows": (sql, []),
                    "fields": [("id", "integer"), ("name", "text")],
                    "columns": columns,
                    "has_students": False,
                }
            ],
            "batch_rows": 50,
            "options": {"compress": "gzip"},
            "date_style": "iso",
            "xlsx_path": None,
            "sheet_rows": 1_048_575,
        }
    )
    chunks: list[bytes] = []

    def read_all() -> None:
        for kind, payload in worker.frames():
            if kind == b"D":
                chunks.append(payload[8:])

    try:
        assert worker.total == 300
        with pytest.raises(WorkerError) as failure:
            read_all()
    finally:
        worker.close()
    body = b"".join(chunks)
    assert failure.value.reference
    assert "malformed JSON" in str(failure.value)
    # The worker's traceback comes back for the server's log.
    assert f"reference {failure.value.reference}" in failure.value.details
    assert "Traceback" in failure.value.details
    lines = gzip.decompress(body).decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "id,name"
    assert lines[1:151] == [f"{i},n{i - 1}" for i in range(1, 151)]
    assert lines[-1].startswith("EXPORT INCOMPLETE: it failed after 150 rows")
    assert f"reference {failure.value.reference}" in lines[-1]


def test_a_complete_export_in_small_batches_has_every_row_once(
    small_batches: Settings, engine: Engine, students: int
) -> None:
    export, disclosed = _prepare(small_batches, engine, ExportFormat.csv, spec={"sort": "-name"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.chunks).decode("utf-8-sig"))))
    names = [row["name"] for row in rows]
    assert names == sorted((f"Student {n:04d}" for n in range(students)), reverse=True)
    assert export.rows == students
    assert disclosed[0].complete and len(disclosed[0].student_ids) == students


def test_an_export_closed_or_dropped_before_its_first_byte_stops_its_worker(
    small_batches: Settings, engine: Engine, students: int
) -> None:
    """A client gone before the body started: nothing is left running."""
    export, _ = _prepare(small_batches, engine, ExportFormat.csv)
    assert len(_workers()) == 1
    export.close()  # what the CLI does with a stream it leaves part way
    assert _workers() == []
    export, _ = _prepare(small_batches, engine, ExportFormat.csv)
    del export
    gc.collect()
    assert _workers() == []
