"""A teacher in Chromium: sign in, find a student, read the report, download it."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import Server, Shots, sign_in

# The test command passes --dist loadfile: one xdist worker runs this file's tests,
# with one server and one Chromium.
pytestmark = pytest.mark.slow

TEACHER = "teacher@example.org"
ADMIN = "admin@example.org"


def _shown(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def test_a_teacher_finds_a_student_and_reads_the_same_figures_as_the_json(
    page: Page, server: Server, shots: Shots
) -> None:
    headers = server.token(TEACHER)
    students = server.get("/api/v1/students?per_page=200", headers).json()["items"]
    assert students, "the demo teacher has students"
    pupil = students[len(students) // 2]

    page.goto(f"{server.url}/students")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    shots(page, "signin")
    sign_in(page, server, TEACHER)
    expect(page.get_by_role("heading", name="Students")).to_be_visible()
    shots(page, "students")

    page.get_by_label("Name or SIS id").fill(pupil["name"].split()[0])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=pupil["name"], exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(pupil["name"])
    shots(page, "student")

    period = page.locator("text=Report for").inner_text()
    start, end = re.findall(r"\d{4}-\d{2}-\d{2}", period)
    report = server.get(
        f"/api/v1/students/{pupil['id']}/performance?start={start}&end={end}", headers
    ).json()
    summary = report["summary"]
    for name in ("overall_average", "gpa", "attendance_rate"):
        shown = page.locator(f'[data-figure="{name}"]').inner_text()
        assert shown == _shown(summary[name]), name
    assert summary["overall_average"] is not None, "pick a student with counted work"
    rows = page.locator("section[aria-labelledby=courses-h] tbody tr")
    expect(rows).to_have_count(len(report["courses"]))

    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF", exact=True).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    content = open(download.path(), "rb").read()  # noqa: SIM115 - read at once
    assert content.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert pupil["name"] in text
    assert _shown(summary["overall_average"]) in text


def test_a_period_preset_and_custom_dates(page: Page, server: Server, shots: Shots) -> None:
    headers = server.token(TEACHER)
    pupil = server.get("/api/v1/students?per_page=1", headers).json()["items"][0]
    sign_in(page, server, TEACHER)
    page.goto(f"{server.url}/students/{pupil['id']}")
    page.get_by_label("Period").select_option(value="last-30")
    start = page.get_by_label("From").input_value()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("text=Report for")).to_contain_text(f"Report for {start}")
    page.get_by_label("From").fill("2026-10-05")
    page.get_by_label("To").fill("2026-09-01")
    expect(page.get_by_label("Period")).to_have_value("custom")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("swap the dates")
    shots(page, "student-bad-dates")


def test_a_teacher_cannot_open_another_teachers_student_by_url(
    page: Page, server: Server, shots: Shots
) -> None:
    mine = {
        s["id"]
        for s in server.get("/api/v1/students?per_page=200", server.token(TEACHER)).json()["items"]
    }
    everyone = server.get("/api/v1/students?per_page=200", server.token(ADMIN)).json()["items"]
    stranger = next(s for s in everyone if s["id"] not in mine)
    sign_in(page, server, TEACHER)
    answer = page.goto(f"{server.url}/students/{stranger['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(stranger["name"])
    shots(page, "not-yours")
    download = page.request.get(f"{server.url}/students/{stranger['id']}/report.pdf")
    assert download.status == 404
