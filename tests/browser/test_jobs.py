"""A teacher in Chromium runs report cards for a course and downloads the ZIP; and a
look at every other page (screenshots in test-artifacts/browser/)."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots, sign_in

pytestmark = pytest.mark.slow

TEACHER = "teacher@example.org"
ADMIN = "admin@example.org"


def test_report_cards_for_a_course_run_to_100_percent_and_download(
    page: Page, server: Server, shots: Shots
) -> None:
    headers = server.token(TEACHER)
    course = server.get("/api/v1/courses?per_page=1", headers).json()["items"][0]
    roster = server.get(f"/api/v1/courses/{course['id']}", headers).json()["students"]
    assert roster, "the demo teacher's course has students"

    sign_in(page, server, TEACHER)
    page.goto(f"{server.url}/report-cards")
    page.get_by_role("radio", name="Every student of a course").check()
    page.locator("#course_id").select_option(str(course["id"]))
    page.get_by_role("radio", name=re.compile("A zip of PDFs")).check()
    shots(page, "form")
    page.get_by_role("button", name="Make report cards").click()
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    shots(page, "running")

    # The page follows the job over Server-Sent Events and shows the download at the end.
    download_button = page.get_by_role("link", name=re.compile("^Download"))
    expect(download_button).to_be_visible(timeout=120_000)
    expect(page.locator("[data-field=status]")).to_have_text("succeeded")
    expect(page.locator("[data-field=percent]")).to_have_text("100.0%")
    expect(page.locator("[data-field=failed]")).to_have_text("0")
    shots(page, "done")

    with page.expect_download() as download_info:
        download_button.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip")
    with open(download.path(), "rb") as file:
        archive = zipfile.ZipFile(io.BytesIO(file.read()))
    pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
    assert len(pdfs) == len(roster)
    for name in pdfs:
        assert archive.read(name).startswith(b"%PDF-"), name

    page.goto(f"{server.url}/jobs")
    expect(page.locator("main")).to_contain_text("succeeded")
    shots(page, "my-jobs")


def test_every_page_opens_for_its_users(page: Page, server: Server, shots: Shots) -> None:
    headers = server.token(TEACHER)
    course = server.get("/api/v1/courses?per_page=1", headers).json()["items"][0]
    sign_in(page, server, TEACHER)
    for path, name, heading in [
        ("/exports", "exports", "Exports"),
        ("/exports?dataset=grades", "exports-grades", "Exports"),
        ("/courses", "courses", "Class analytics"),
        (f"/courses/{course['id']}", "course-analytics", course["name"]),
    ]:
        answer = page.goto(f"{server.url}{path}")
        assert answer is not None and answer.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        shots(page, name)
    admin_only = page.goto(f"{server.url}/admin")
    assert admin_only is not None and admin_only.status == 403
    shots(page, "admin-refused")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/signin"))
    sign_in(page, server, ADMIN)
    answer = page.goto(f"{server.url}/admin")
    assert answer is not None and answer.status == 200
    expect(page.get_by_role("heading", name="Admin", level=1)).to_be_visible()
    shots(page, "admin")
