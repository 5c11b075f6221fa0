"""`markbook export`, run as a user runs it: a real process, on SQLite and PostgreSQL.

The expected rows are read here with plain SQLAlchemy queries and formatted by hand,
not through markbook.exports, so the file is checked against the database itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.records.models import Assignment, Course, Grade, Student
from markbook.settings import Settings
from tests.reports.conftest import School, school  # noqa: F401

COLUMNS = [
    "grade_id",
    "student_id",
    "sis_id",
    "student_name",
    "course_id",
    "course_name",
    "assignment_id",
    "assignment",
    "category",
    "due_date",
    "max_points",
    "weight",
    "score",
    "percent",
    "status",
    "submitted_at",
    "feedback",
]
FEEDBACK = '=1+1, said "well done"'
SUBMITTED = dt.datetime(2026, 9, 4, 17, 30, 5, tzinfo=dt.UTC)


def markbook(
    database: str, *args: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``markbook`` in ``cwd``; bytes, since stdout may carry a file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKBOOK_")}
    env |= {"MARKBOOK_DATABASE_URL": database, "COLUMNS": "200", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "markbook", *args],
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    return stderr


@pytest.fixture
def graded(session: Session, school: School) -> School:  # noqa: F811
    """The school, with one grade that has a submission time and awkward feedback."""
    first = session.scalars(select(Grade.id).order_by(Grade.id)).first()
    session.execute(
        update(Grade).where(Grade.id == first).values(submitted_at=SUBMITTED, feedback=FEEDBACK)
    )
    session.commit()
    return school


def _money(value: Decimal | None) -> str:
    return "" if value is None else str(Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _text(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _moment(value: dt.datetime | None) -> str:
    """UTC, to the second, without an offset."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")


def _percent(status: str, score: Decimal | None, max_points: Decimal) -> str:
    if status == "missing":
        return "0.00"
    if status == "excused" or score is None or max_points <= 0:
        return ""
    return _money(Decimal(score) * 100 / Decimal(max_points))


def expected_grades(session: Session) -> list[dict[str, str]]:
    """Every grade row as the CSV should hold it, straight from the tables."""
    session.expire_all()
    rows = session.execute(
        select(Grade, Assignment, Student, Course)
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .join(Student, Student.id == Grade.student_id)
        .join(Course, Course.id == Assignment.course_id)
        .order_by(Grade.id)
    ).all()
    return [
        {
            "grade_id": str(grade.id),
            "student_id": str(student.id),
            "sis_id": student.external_id,
            "student_name": student.name,
            "course_id": str(course.id),
            "course_name": course.name,
            "assignment_id": str(assignment.id),
            "assignment": assignment.title,
            "category": assignment.category,
            "due_date": assignment.due_date.isoformat(),
            "max_points": _money(assignment.max_points),
            "weight": _money(assignment.weight),
            "score": _money(grade.score),
            "percent": _percent(grade.status, grade.score, assignment.max_points),
            "status": grade.status,
            "submitted_at": _moment(grade.submitted_at),
            "feedback": _text(grade.feedback),
        }
        for grade, assignment, student, course in rows
    ]


def read_csv(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def header(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def only_file(directory: Path) -> Path:
    files = list(directory.iterdir())
    assert len(files) == 1, files
    return files[0]


def test_csv_of_grades_equals_the_database(
    settings: Settings, session: Session, graded: School, tmp_path: Path
) -> None:
    stderr = ok(markbook(settings.database_url, "export", "grades", cwd=tmp_path))
    written = only_file(tmp_path)
    assert re.fullmatch(r"grades_\d{8}-\d{6}\.csv", written.name)
    data = written.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM unless --no-bom
    assert header(data) == COLUMNS
    expected = expected_grades(session)
    assert len(expected) == 10
    assert read_csv(data) == expected
    assert f"Wrote {len(expected)} rows to {written.name} (" in stderr
    # The awkward feedback came through quoted and guarded.
    assert any(row["feedback"] == "'" + FEEDBACK for row in read_csv(data))
    assert any(row["submitted_at"] == "2026-09-04 17:30:05" for row in read_csv(data))


def test_export_is_audited_on_the_cli_channel(
    settings: Settings, session: Session, graded: School, tmp_path: Path
) -> None:
    ok(
        markbook(
            settings.database_url,
            "export",
            "grades",
            "--student",
            str(graded.student.id),
            "-o",
            "mine.csv",
            cwd=tmp_path,
        )
    )
    assert (tmp_path / "mine.csv").exists()
    session.rollback()
    events = session.execute(
        select(
            AuditEvent.channel,
            AuditEvent.action,
            AuditEvent.actor_id,
            AuditEvent.resource,
            AuditEvent.student_id,
            AuditEvent.detail,
        )
    ).all()
    assert len(events) == 1
    channel, action, actor, resource, student_id, detail = events[0]
    assert (channel, action, actor, resource) == ("cli", "export", None, "dataset:grades")
    assert student_id == graded.student.id
    assert detail["format"] == "csv" and detail["rows"] == 10 and detail["complete"] is True


def test_columns_in_the_order_asked(
    settings: Settings, session: Session, graded: School, tmp_path: Path
) -> None:
    picked = ["status", "grade_id", "score", "student_name"]
    ok(
        markbook(
            settings.database_url,
            "export",
            "grades",
            "--columns",
            ",".join(picked),
            "-o",
            "picked.csv",
            cwd=tmp_path,
        )
    )
    data = (tmp_path / "picked.csv").read_bytes()
    assert header(data) == picked
    expected = [{name: row[name] for name in picked} for row in expected_grades(session)]
    assert read_csv(data) == expected


def test_filters_and_sort_to_stdout(
    settings: Settings, session: Session, graded: School, tmp_path: Path
) -> None:
    result = markbook(
        settings.database_url,
        "export",
        "grades",
        "--filter",
        "status:in:graded|late",
        "--filter",
        "score:ge:30",
        "--sort",
        "-score",
        "--columns",
        "grade_id,score,status",
        "--no-bom",
        "--delimiter",
        "tab",
        "-o",
        "-",
        cwd=tmp_path,
    )
    stderr = ok(result)
    assert list(tmp_path.iterdir()) == []  # stdout only
    assert not result.stdout.startswith(b"\xef\xbb\xbf")
    expected = sorted(
        (
            {"grade_id": row["grade_id"], "score": row["score"], "status": row["status"]}
            for row in expected_grades(session)
            if row["status"] in ("graded", "late") and Decimal(row["score"]) >= 30
        ),
        key=lambda row: (-Decimal(row["score"]), int(row["grade_id"])),
    )
    assert [row["score"] for row in expected] == ["44.00", "35.00", "30.00"]
    assert read_csv(result.stdout, delimiter="\t") == expected
    assert "Wrote 3 rows to stdout" in stderr


def test_xlsx_reads_back(
    settings: Settings, session: Session, graded: School, tmp_path: Path
) -> None:
    ok(
        markbook(
            settings.database_url,
            "export",
            "grades",
            "-f",
            "xlsx",
            "--columns",
            "grade_id,student_name,due_date,score,status",
            "--course",
            str(graded.art.id),
            "-o",
            "art.xlsx",
            cwd=tmp_path,
        )
    )
    assert [p.name for p in tmp_path.iterdir()] == ["art.xlsx"]  # no temporary file left
    book = openpyxl.load_workbook(tmp_path / "art.xlsx", read_only=True)
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    assert rows[0][0] == "Grade id"  # XLSX headers are the labels
    expected = [
        (grade.id, student.name, assignment.due_date, float(grade.score or 0), grade.status)
        for grade, assignment, student in session.execute(
            select(Grade, Assignment, Student)
            .join(Assignment, Assignment.id == Grade.assignment_id)
            .join(Student, Student.id == Grade.student_id)
            .where(Assignment.course_id == graded.art.id)
            .order_by(Grade.id)
        ).all()
    ]
    got = [
        (
            grade_id,
            name,
            due.date() if isinstance(due, dt.datetime) else due,
            float(score),
            status,
        )
        for grade_id, name, due, score, status in rows[1:]
    ]
    assert got == expected
    assert [score for *_, score, _ in got] == [44.0, 30.0]


def test_gzip_file_decompresses(
    settings: Settings, session: Session, graded: School, tmp_path: Path
) -> None:
    stderr = ok(markbook(settings.database_url, "export", "grades", "--gzip", cwd=tmp_path))
    written = only_file(tmp_path)
    assert re.fullmatch(r"grades_\d{8}-\d{6}\.csv\.gz", written.name)
    assert read_csv(gzip.decompress(written.read_bytes())) == expected_grades(session)
    assert f"to {written.name}" in stderr


def test_bad_requests_exit_1_and_leave_no_file(
    settings: Settings, graded: School, tmp_path: Path
) -> None:
    unknown = markbook(
        settings.database_url,
        "export",
        "grades",
        "--columns",
        "grade_id,nope",
        "-o",
        "never.csv",
        cwd=tmp_path,
    )
    stderr = unknown.stderr.decode()
    assert unknown.returncode == 1
    assert "Traceback" not in stderr
    assert "grades has no column 'nope'" in stderr
    listed = stderr.split("Its columns are:", 1)[1]
    assert all(name in listed for name in COLUMNS)

    too_many = markbook(
        settings.database_url,
        "export",
        "grades",
        cwd=tmp_path,
        extra_env={"MARKBOOK_EXPORT_MAX_ROWS": "3"},
    )
    stderr = too_many.stderr.decode()
    assert too_many.returncode == 1 and "Traceback" not in stderr
    assert "10 rows" in stderr and "at most 3 rows" in stderr

    invalid = markbook(
        settings.database_url,
        "export",
        "grades",
        "--delimiter",
        "x",
        "--limit",
        "0",
        "--filter",
        "status",
        cwd=tmp_path,
    )
    stderr = invalid.stderr.decode()
    assert invalid.returncode == 1 and "Traceback" not in stderr
    assert "--delimiter" in stderr and "--limit" in stderr
    assert list(tmp_path.iterdir()) == []
