"""Report-cards jobs on the in-process executor: files, failures, live progress, cancel."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from markbook.records.models import Student
from markbook.settings import Settings
from tests import factories as f
from tests.exports.conftest import ExportSchool, csv_rows
from tests.jobs.conftest import start, wait_for

PERIOD = {"start": "2026-09-01", "end": "2026-12-31"}


def _grade_twelve(session: Session, count: int) -> list[Student]:
    students = [f.student(session, grade_level=12) for _ in range(count)]
    session.commit()
    return students


def _events(
    client: TestClient, headers: dict[str, str], job_id: str
) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and name:
                events.append((name, json.loads(line.split(":", 1)[1])))
                name = None
    return events


@pytest.fixture
def slow_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each card takes at least 30 ms, so a job outlasts several half-second heartbeats
    (and a stream's looks) even on a fast machine, or a loaded one that polls late."""
    from markbook.reports import pdf

    render = pdf.render_pdf

    def slow_render(*args: Any, **kwargs: Any) -> bytes:
        time.sleep(0.03)
        return render(*args, **kwargs)

    monkeypatch.setattr(pdf, "render_pdf", slow_render)


@pytest.mark.usefixtures("slow_cards")
def test_events_stream_increasing_progress_then_the_final_state(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    students = _grade_twelve(session, 60)
    job = start(
        client, headers, {"kind": "report_cards", "grade_level": 12, "format": "pdf", **PERIOD}
    )
    events = _events(client, headers, job["id"])
    names = [name for name, _ in events]
    assert names[-1] == "end"
    assert set(names[:-1]) == {"progress"}
    assert events[-1][1]["status"] == "succeeded"
    done = [data["rows_done"] for _, data in events]
    # Progress counts students, and moves more than once on its way up.
    assert done == sorted(done)
    assert len({value for value in done if 0 < value < len(students)}) >= 1
    assert done[-1] == events[-1][1]["rows_total"] == len(students)
    # The stream of a finished job is its end event alone.
    assert [name for name, _ in _events(client, headers, job["id"])] == ["end"]
    merged = PdfReader(
        io.BytesIO(client.get(events[-1][1]["download_url"], headers=headers).content)
    )
    assert sorted(item.title for item in merged.outline) == sorted(
        f"{s.name} ({s.external_id})" for s in students
    )


def test_failed_students_are_counted_and_listed_not_fatal(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    teacher = f.auth(session, exports_school.algebra_teacher)
    visible = [exports_school.anna.id, exports_school.jose.id]
    invisible = exports_school.li.id  # only in Art
    unknown = 999_999
    body = {
        "kind": "report_cards",
        "student_ids": [*visible, invisible, unknown],
        "format": "pdf-zip",
        **PERIOD,
    }
    job = wait_for(client, teacher, start(client, teacher, body)["id"])
    assert job["status"] == "succeeded", job
    assert job["rows_total"] == job["rows_done"] == 4
    result = job["result"]
    assert (result["succeeded"], result["failed"]) == (2, 2)
    reasons = {item["student"]: item["reason"] for item in result["failures"]}
    assert set(reasons) == {str(invisible), str(unknown)}
    # Invisible and unknown read the same, apart from the number.
    assert reasons[str(invisible)].replace(str(invisible), "N") == reasons[str(unknown)].replace(
        str(unknown), "N"
    )
    archive = zipfile.ZipFile(io.BytesIO(client.get(job["download_url"], headers=teacher).content))
    pdfs = sorted(name for name in archive.namelist() if name.endswith(".pdf"))
    assert len(pdfs) == 2
    texts = [
        "".join(page.extract_text() for page in PdfReader(io.BytesIO(archive.read(n))).pages)
        for n in pdfs
    ]
    for pupil in (exports_school.anna, exports_school.jose):
        assert any(pupil.name in text for text in texts), pupil.name
    summary = "\n".join(",".join(row) for row in csv_rows(archive.read("summary.csv")))
    assert str(unknown) in summary and str(invisible) in summary
    assert exports_school.li.name not in summary  # never named to a teacher who may not see her


@pytest.mark.usefixtures("slow_cards")
def test_a_running_job_is_cancelled_within_two_seconds_and_leaves_no_file(
    client: TestClient, session: Session, exports_school: ExportSchool, settings: Settings
) -> None:
    headers = exports_school.admin_headers
    _grade_twelve(session, 80)
    job = start(
        client, headers, {"kind": "report_cards", "grade_level": 12, "format": "pdf-zip", **PERIOD}
    )
    deadline = time.monotonic() + 30
    state = job
    while not (state["status"] == "running" and state["rows_done"] > 0):
        assert time.monotonic() < deadline and state["status"] in ("queued", "running"), state
        time.sleep(0.02)
        state = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    asked = time.monotonic()
    answer = client.delete(f"/api/v1/jobs/{job['id']}", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    folder = settings.export_dir / "jobs" / job["id"]
    while folder.exists():
        assert time.monotonic() - asked < 2.0, list(folder.rglob("*"))
        time.sleep(0.02)
    time.sleep(0.6)
    final = client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()
    assert final["status"] == "cancelled"
    assert final["download_url"] is None
    assert not folder.exists()
    # Cancelling again is harmless; a finished job cannot be cancelled.
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=headers).status_code == 200


def test_a_course_the_teacher_does_not_teach_is_refused_at_once(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    teacher = f.auth(session, exports_school.algebra_teacher)
    answer = client.post(
        "/api/v1/jobs",
        json={"kind": "report_cards", "course_id": exports_school.art.id, **PERIOD},
        headers=teacher,
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    both = client.post(
        "/api/v1/jobs",
        json={"kind": "report_cards", "course_id": exports_school.algebra.id, "grade_level": 10},
        headers=teacher,
    )
    assert both.status_code == 422
