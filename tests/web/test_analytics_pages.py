"""Class analytics pages: the course list, a course's weekly means, and their export.

The figures are worked out by hand, recomputed here from the inserted rows, and
compared with the page and with the CSV the export button downloads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.audit import AuditEvent
from markbook.auth.models import Role, User
from markbook.deps import today
from markbook.records.models import AnalyticsData, Course, Student
from tests import factories as f
from tests.web.conftest import sign_in

TODAY = dt.date(2026, 9, 20)  # a Sunday: the course has run four weeks
WEEK_1, WEEK_2 = dt.date(2026, 8, 31), dt.date(2026, 9, 7)


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


@dataclass
class School:
    teacher: User
    other_teacher: User
    admin: User
    algebra: Course
    art: Course
    ana: Student
    ben: Student
    cleo: Student  # in art only: not the algebra teacher's


@pytest.fixture
def school(session: Session, app: FastAPI) -> School:
    app.dependency_overrides[today] = lambda: TODAY
    teacher = f.user(session, Role.teacher, name="Tess Teacher")
    other = f.user(session, Role.teacher, name="Otto Other")
    admin = f.user(session, Role.admin)
    algebra = f.course(session, teacher, name="Algebra I")
    art = f.course(session, other, name="Art")
    ana, ben, cleo = (
        f.student(session, "Ana"),
        f.student(session, "Ben"),
        f.student(session, "Cleo"),
    )
    f.enroll(session, ana, algebra)
    f.enroll(session, ben, algebra)
    f.enroll(session, cleo, art)

    def value(
        pupil: Student, course: Course | None, metric: str, v: float, when: dt.datetime
    ) -> None:
        session.add(
            AnalyticsData(
                student_id=pupil.id,
                course_id=course.id if course else None,
                metric_type=metric,
                value=v,
                recorded_at=when,
                source="lms",
            )
        )

    # Week of Monday 31 August: engagement 60, 71 (Ana; the 71 late on Sunday) and 80 (Ben).
    value(ana, algebra, "engagement", 60.0, at(9, 1))
    value(ana, algebra, "engagement", 71.0, at(9, 6, 23, 30))
    value(ben, algebra, "engagement", 80.0, at(9, 2))
    value(ana, algebra, "quiz_score", 90.0, at(9, 3))
    # Week of Monday 7 September: engagement 50 (Ana, just after midnight) and 75 (Ben).
    value(ana, algebra, "engagement", 50.0, at(9, 7, 0, 10))
    value(ben, algebra, "engagement", 75.0, at(9, 10))
    value(ben, algebra, "quiz_score", 85.0, at(9, 8))
    # Not algebra's: another course's student and course, values of no course, and
    # a value after "today" (outside the default period).
    value(cleo, art, "engagement", 10.0, at(9, 1))
    value(ana, None, "engagement", 5.0, at(9, 2))
    value(ben, algebra, "engagement", 99.0, at(9, 24))
    session.commit()
    return School(teacher, other, admin, algebra, art, ana, ben, cleo)


# Hand-worked: metric -> week -> (students, values, mean, min, max), means to 2 places.
HAND_WORKED = {
    "engagement": {
        WEEK_1: (2, 3, "70.33", "60.00", "80.00"),  # (60 + 71 + 80) / 3
        WEEK_2: (2, 2, "62.50", "50.00", "75.00"),  # (50 + 75) / 2
    },
    "quiz_score": {
        WEEK_1: (1, 1, "90.00", "90.00", "90.00"),
        WEEK_2: (1, 1, "85.00", "85.00", "85.00"),
    },
}

Figures = dict[str, dict[dt.date, tuple[int, int, str, str, str]]]


def recomputed(session: Session, course: Course, start: dt.date, end: dt.date) -> Figures:
    """The weekly figures worked out again from the rows themselves."""
    groups: dict[tuple[str, dt.date], list[AnalyticsData]] = defaultdict(list)
    for row in session.scalars(select(AnalyticsData).where(AnalyticsData.course_id == course.id)):
        day = row.recorded_at.astimezone(dt.UTC).date()
        if start <= day <= end:
            groups[(row.metric_type, day - dt.timedelta(days=day.weekday()))].append(row)
    figures: Figures = defaultdict(dict)
    for (metric, week), rows in groups.items():
        values = [row.value for row in rows]
        figures[metric][week] = (
            len({row.student_id for row in rows}),
            len(values),
            f"{statistics.mean(values):.2f}",
            f"{min(values):.2f}",
            f"{max(values):.2f}",
        )
    return dict(figures)


class _Tables(HTMLParser):
    """The figures of a course page's tables: metric -> week -> cells."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[dt.date, list[str]]] = {}
        self.metric: str | None = None
        self.week: dt.date | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("data-metric"):
            self.metric = found["data-metric"]
            self.figures[self.metric or ""] = {}
        elif tag == "tr" and self.metric and found.get("data-week"):
            self.week = dt.date.fromisoformat(found["data-week"] or "")
            self.figures[self.metric][self.week] = []
        elif tag == "td" and self.week is not None:
            self.cell = []

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None and self.metric and self.week:
            self.figures[self.metric][self.week].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr":
            self.week = None
        elif tag == "table":
            self.metric = None


def page_figures(html: str) -> Figures:
    parser = _Tables()
    parser.feed(html)
    return {
        metric: {
            week: (int(cells[0]), int(cells[1]), cells[2], cells[3], cells[4])
            for week, cells in weeks.items()
        }
        for metric, weeks in parser.figures.items()
    }


def csv_figures(content: bytes) -> Figures:
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    figures: Figures = defaultdict(dict)
    for row in rows:
        figures[row["metric_type"]][dt.date.fromisoformat(row["week_start"])] = (
            int(row["students"]),
            int(row["count"]),
            f"{float(row['mean']):.2f}",
            f"{float(row['min']):.2f}",
            f"{float(row['max']):.2f}",
        )
    return dict(figures)


def test_weekly_means_match_hand_worked_figures_and_the_export(
    client: TestClient, session: Session, school: School
) -> None:
    sign_in(client, school.teacher.email)
    course_id = school.algebra.id
    response = client.get(f"/courses/{course_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    # The default period: the course's first day to today.
    assert 'value="2026-08-24"' in html and 'value="2026-09-20"' in html
    shown = page_figures(html)
    assert shown == HAND_WORKED
    assert shown == recomputed(session, school.algebra, dt.date(2026, 8, 24), TODAY)
    # One chart per metric, with its table beside it.
    assert html.count('<svg class="chart"') == 2
    assert "Engagement" in html and "Quiz score" in html

    link = f"/courses/{course_id}/analytics.csv?start=2026-08-24&amp;end=2026-09-20"
    assert link in html
    download = client.get(link.replace("&amp;", "&"))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    exported = csv_figures(download.content)
    assert exported == shown
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert {row["course_id"] for row in rows} == {str(course_id)}
    assert {row["iso_week"] for row in rows} == {"2026-W36", "2026-W37"}

    workbook = client.get(f"/courses/{course_id}/analytics.xlsx?start=2026-08-24&end=2026-09-20")
    assert workbook.status_code == 200
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as archive:
        assert "xl/workbook.xml" in archive.namelist()


def test_a_chosen_period_and_the_admin_view(
    client: TestClient, session: Session, school: School
) -> None:
    sign_in(client, school.admin.email)
    course_id = school.algebra.id
    # The second week only, up to the late value of the 24th.
    query = "start=2026-09-07&end=2026-09-30"
    html = client.get(f"/courses/{course_id}?{query}").text
    shown = page_figures(html)
    expected = recomputed(session, school.algebra, dt.date(2026, 9, 7), dt.date(2026, 9, 30))
    assert shown == expected
    assert shown["engagement"][dt.date(2026, 9, 21)] == (1, 1, "99.00", "99.00", "99.00")
    assert WEEK_1 not in shown["engagement"]
    exported = csv_figures(client.get(f"/courses/{course_id}/analytics.csv?{query}").content)
    assert exported == shown


def test_page_view_is_audited(client: TestClient, session: Session, school: School) -> None:
    sign_in(client, school.teacher.email)
    assert client.get(f"/courses/{school.algebra.id}").status_code == 200
    session.expire_all()
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.resource == "class_analytics"))
    )
    assert {e.student_id for e in events} == {school.ana.id, school.ben.id}
    for event in events:
        assert (event.action, event.channel, event.actor_id) == ("read", "web", school.teacher.id)
        assert event.detail is not None and event.detail["course_id"] == school.algebra.id


def test_courses_list_shows_only_the_users_courses(client: TestClient, school: School) -> None:
    sign_in(client, school.teacher.email)
    html = client.get("/courses").text
    assert f'href="/courses/{school.algebra.id}"' in html
    assert f'href="/courses/{school.art.id}"' not in html
    assert "1 course" in html
    assert client.get("/courses", params={"term": "1999 Spring"}).status_code == 200


def test_another_teachers_course_is_not_found(client: TestClient, school: School) -> None:
    sign_in(client, school.teacher.email)
    art = school.art.id
    for path in (
        f"/courses/{art}",
        f"/courses/{art}/analytics.csv",
        f"/courses/{art}/analytics.xlsx",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Cleo" not in response.text


BAD_PERIODS = [
    ("start=yesterday", "The start date must be a date"),
    ("start=2026-10-01&end=2026-09-01", "is after the end date"),
    ("start=2026-01-01&end=2030-01-01", "choose at most"),
    ("end=9999-12-31", "out of range"),
]


def test_bad_periods_are_explained(client: TestClient, school: School) -> None:
    sign_in(client, school.teacher.email)
    for query, message in BAD_PERIODS:
        page = client.get(f"/courses/{school.algebra.id}?{query}")
        assert page.status_code == 422, query
        assert message in page.text
        assert 'action="/courses/' in page.text  # the period can be fixed on the page itself
        download = client.get(f"/courses/{school.algebra.id}/analytics.csv?{query}")
        assert download.status_code == 422, query
        assert download.headers["content-type"].startswith("text/html")
        assert message in download.text


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient, school: School) -> None:
    response = client.get(f"/courses/{school.algebra.id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")
