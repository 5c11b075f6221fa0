"""`markbook report`, run as a user runs it: a real process."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.settings import Settings
from tests.reports.conftest import School
from tests.test_cli import markbook

PERIOD = ("--from", "2026-09-01", "--to", "2026-09-30")


def test_json_on_stdout_by_sis_id(settings: Settings, session: Session, school: School) -> None:
    result = markbook(settings.database_url, "report", school.student.external_id, *PERIOD)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["student"]["name"] == "Анна Иванова"
    assert report["summary"]["overall_average"] == 75.5
    assert report["summary"]["letter"] == "C"
    channels = session.execute(select(AuditEvent.channel, AuditEvent.action)).all()
    assert [tuple(row) for row in channels] == [("cli", "read")]


def test_documents_to_files(settings: Settings, school: School, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    result = markbook(
        settings.database_url,
        "report",
        str(school.student.id),
        *PERIOD,
        "-f",
        "pdf",
        "-o",
        str(pdf),
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Анна Иванова" in text and "75.50" in text
    xlsx = tmp_path / "report.xlsx"
    result = markbook(
        settings.database_url,
        "report",
        str(school.student.id),
        *PERIOD,
        "-f",
        "xlsx",
        "-o",
        str(xlsx),
    )
    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(io.BytesIO(xlsx.read_bytes()))
    assert "Courses" in book.sheetnames
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_bad_input_exits_1_and_writes_nothing(
    settings: Settings, school: School, tmp_path: Path
) -> None:
    target = tmp_path / "never.pdf"
    backwards = markbook(
        settings.database_url,
        "report",
        str(school.student.id),
        "--from",
        "2026-10-01",
        "--to",
        "2026-09-01",
        "-f",
        "pdf",
        "-o",
        str(target),
    )
    assert backwards.returncode == 1
    assert "swap the dates" in backwards.stderr
    unknown = markbook(settings.database_url, "report", "NO-SUCH-ID")
    assert unknown.returncode == 1 and "no student NO-SUCH-ID" in unknown.stderr
    bad_format = markbook(settings.database_url, "report", str(school.student.id), "-f", "docx")
    assert bad_format.returncode == 1 and "--format" in bad_format.stderr
    bad_date = markbook(settings.database_url, "report", str(school.student.id), "--from", "09/01")
    assert bad_date.returncode == 1 and "--from" in bad_date.stderr
    assert list(tmp_path.iterdir()) == []
