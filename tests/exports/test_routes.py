"""The dataset export routes, read back and compared with the database.

Expected rows are built here from the tables with plain SQLAlchemy queries and
Python arithmetic (the grading rules, the statistics), never by calling
markbook.exports; the files are read back with csv, json, pyarrow and openpyxl.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import math
import re
import statistics
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from markbook.app import create_app
from markbook.audit import AuditEvent
from markbook.auth.models import User
from markbook.db import make_engine, make_sessionmaker
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    Course,
    Enrollment,
    Grade,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorWeeklyReport,
)
from markbook.settings import Settings
from tests import factories as f
from tests.conftest import TEST_SECRET, empty_all_tables
from tests.exports.conftest import (
    EXPORTS,
    FORMULA_TEXTS,
    UNICODE_NAMES,
    ExportSchool,
    build_exports_school,
    csv_dicts,
    csv_rows,
    json_dicts,
    ndjson_dicts,
    parquet_table,
    xlsx_sheets,
)

Row = dict[str, Any]
Response = Any  # the test client's response (httpx or httpx2)
FORMATS = ("csv", "ndjson", "json", "parquet", "xlsx")
DATASETS = (
    "analytics",
    "grades",
    "attendance",
    "students",
    "courses",
    "enrollments",
    "student_reports",
    "teacher_weekly_reports",
    "tutor_weekly_reports",
    "class_analytics",
    "audit_events",
)
BOM = b"\xef\xbb\xbf"
PROBLEM = "application/problem+json"
CENT = Decimal("0.01")
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


# --- one school per module and backend ---------------------------------------------------
#
# Every export runs in a worker process (markbook.exports.worker), which costs
# most of a second to start, so the school is built once per backend and the
# tests here only read it (and add audit events and tokens, which they allow for).
# These fixtures override the function-scoped ones of tests/conftest.py.


@dataclass
class Shared:
    settings: Settings
    session: Session
    client: TestClient
    school: ExportSchool


@pytest.fixture(scope="module")
def shared(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    settings = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        export_dir=tmp_path_factory.mktemp("exports"),
    )
    engine = make_engine(settings)
    empty_all_tables(engine)
    session = make_sessionmaker(engine)()
    try:
        school = build_exports_school(session)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield Shared(settings, session, client, school)
    finally:
        session.rollback()
        session.close()
        empty_all_tables(engine)
        engine.dispose()


@pytest.fixture(scope="module")
def session(shared: Shared) -> Session:
    return shared.session


@pytest.fixture(scope="module")
def client(shared: Shared) -> TestClient:
    return shared.client


@pytest.fixture(scope="module")
def exports_school(shared: Shared) -> ExportSchool:
    return shared.school


# --- expected rows, from the tables --------------------------------------------------


def money(value: Decimal) -> Decimal:
    """Two places, half-up (the grading rules)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percent(grade: Grade, assignment: Assignment) -> Decimal | None:
    """missing counts as 0, excused as nothing, else 100 * score / max_points."""
    if grade.status == "missing":
        return money(Decimal(0))
    if grade.status == "excused" or grade.score is None:
        return None
    return money(Decimal(100) * grade.score / assignment.max_points)


class Tables:
    """Every row of the tables an export reads, by id, as the ORM gives them."""

    def __init__(self, session: Session) -> None:
        session.expire_all()

        def by_id(model: Any) -> dict[int, Any]:
            return {row.id: row for row in session.scalars(select(model).order_by(model.id))}

        self.students: dict[int, Student] = by_id(Student)
        self.courses: dict[int, Course] = by_id(Course)
        self.users: dict[int, User] = by_id(User)
        self.assignments: dict[int, Assignment] = by_id(Assignment)
        self.session = session

    def rows(self, model: Any) -> list[Any]:
        return list(self.session.scalars(select(model).order_by(model.id)))

    def student(self, student_id: int) -> Row:
        pupil = self.students[student_id]
        return {"student_id": pupil.id, "sis_id": pupil.external_id, "student_name": pupil.name}

    def course(self, course_id: int | None) -> Row:
        name = None if course_id is None else self.courses[course_id].name
        return {"course_id": course_id, "course_name": name}


def _students(t: Tables) -> list[Row]:
    return [
        {
            "student_id": s.id,
            "sis_id": s.external_id,
            "name": s.name,
            "email": s.email,
            "grade_level": s.grade_level,
        }
        for s in t.students.values()
    ]


def _courses(t: Tables) -> list[Row]:
    return [
        {
            "course_id": c.id,
            "sis_id": c.external_id,
            "name": c.name,
            "subject": c.subject,
            "term": c.term,
            "teacher_id": c.teacher_id,
            "teacher_name": t.users[c.teacher_id].name,
            "credits": c.credits,
            "start_date": c.start_date,
            "end_date": c.end_date,
        }
        for c in t.courses.values()
    ]


def _enrollments(t: Tables) -> list[Row]:
    return [
        {
            "enrollment_id": e.id,
            **t.student(e.student_id),
            **t.course(e.course_id),
            "start_date": e.start_date,
            "end_date": e.end_date,
        }
        for e in t.rows(Enrollment)
    ]


def _grades(t: Tables) -> list[Row]:
    rows = []
    for g in t.rows(Grade):
        a = t.assignments[g.assignment_id]
        rows.append(
            {
                "grade_id": g.id,
                **t.student(g.student_id),
                **t.course(a.course_id),
                "assignment_id": a.id,
                "assignment": a.title,
                "category": a.category,
                "due_date": a.due_date,
                "max_points": a.max_points,
                "weight": a.weight,
                "score": g.score,
                "percent": percent(g, a),
                "status": g.status,
                "submitted_at": g.submitted_at,
                "feedback": g.feedback,
            }
        )
    return rows


def _attendance(t: Tables) -> list[Row]:
    return [
        {
            "attendance_id": a.id,
            **t.student(a.student_id),
            **t.course(a.course_id),
            "date": a.date,
            "status": a.status,
        }
        for a in t.rows(Attendance)
    ]


def _analytics(t: Tables) -> list[Row]:
    return [
        {
            "analytics_id": a.id,
            **t.student(a.student_id),
            **t.course(a.course_id),
            "metric_type": a.metric_type,
            "value": a.value,
            "recorded_at": a.recorded_at,
            "source": a.source,
        }
        for a in t.rows(AnalyticsData)
    ]


def _student_reports(t: Tables) -> list[Row]:
    return [
        {
            "report_id": r.id,
            **t.student(r.student_id),
            "author_id": r.author_id,
            "author_name": t.users[r.author_id].name,
            "period_start": r.period_start,
            "period_end": r.period_end,
            "summary": r.summary,
            "strengths": r.strengths,
            "concerns": r.concerns,
            "recommendations": r.recommendations,
            "created_at": r.created_at,
        }
        for r in t.rows(StudentReport)
    ]


def _teacher_weekly_reports(t: Tables) -> list[Row]:
    return [
        {
            "report_id": r.id,
            **t.student(r.student_id),
            "teacher_id": r.teacher_id,
            "teacher_name": t.users[r.teacher_id].name,
            **t.course(r.course_id),
            "week_start": r.week_start,
            "progress_summary": r.progress_summary,
            "homework_completion": r.homework_completion,
            "behaviour": r.behaviour,
            "next_steps": r.next_steps,
            "created_at": r.created_at,
        }
        for r in t.rows(TeacherWeeklyReport)
    ]


def _tutor_weekly_reports(t: Tables) -> list[Row]:
    return [
        {
            "report_id": r.id,
            **t.student(r.student_id),
            "tutor_id": r.tutor_id,
            "tutor_name": t.users[r.tutor_id].name,
            "week_start": r.week_start,
            "topics": r.topics,
            "hours": r.hours,
            "progress_rating": r.progress_rating,
            "notes": r.notes,
            "created_at": r.created_at,
        }
        for r in t.rows(TutorWeeklyReport)
    ]


def _audit_events(t: Tables) -> list[Row]:
    return [
        {
            "event_id": e.id,
            "occurred_at": e.occurred_at,
            "actor_id": e.actor_id,
            "actor_email": e.actor_email,
            "action": e.action,
            "channel": e.channel,
            "resource": e.resource,
            "student_id": e.student_id,
            "ip": e.ip,
            "detail": e.detail,  # a dict: compared as parsed JSON
        }
        for e in t.rows(AuditEvent)
    ]


def monday(moment: dt.datetime) -> dt.date:
    day = moment.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def class_analytics(
    t: Tables, *, weekly: bool = False, course_ids: set[int] | None = None
) -> list[Row]:
    """Per course x metric (x ISO week): the figures worked out with statistics."""
    groups: dict[tuple[Any, ...], list[AnalyticsData]] = defaultdict(list)
    for a in t.rows(AnalyticsData):
        if a.course_id is None or (course_ids is not None and a.course_id not in course_ids):
            continue
        key: tuple[Any, ...] = (a.course_id, a.metric_type)
        groups[key + ((monday(a.recorded_at),) if weekly else ())].append(a)
    rows = []
    for key in sorted(groups):
        values = [a.value for a in groups[key]]
        row: Row = {**t.course(key[0]), "metric_type": key[1]}
        if weekly:
            year, week, _ = key[2].isocalendar()
            row |= {"week_start": key[2], "iso_week": f"{year}-W{week:02d}"}
        row |= {
            "students": len({a.student_id for a in groups[key]}),
            "count": len(values),
            "mean": statistics.mean(values),
            "min": min(values),
            "max": max(values),
            "std_dev": statistics.stdev(values) if len(values) > 1 else None,
        }
        rows.append(row)
    return rows


EXPECTED: dict[str, Callable[[Tables], list[Row]]] = {
    "analytics": _analytics,
    "grades": _grades,
    "attendance": _attendance,
    "students": _students,
    "courses": _courses,
    "enrollments": _enrollments,
    "student_reports": _student_reports,
    "teacher_weekly_reports": _teacher_weekly_reports,
    "tutor_weekly_reports": _tutor_weekly_reports,
    "class_analytics": class_analytics,
    "audit_events": _audit_events,
}


def expected_rows(session: Session, dataset: str) -> list[Row]:
    return EXPECTED[dataset](Tables(session))


def _key(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # XLSX numbers
    if isinstance(value, str) and value.isdigit():
        return int(value)  # CSV text
    return value


def key_of(row: Row) -> Any:
    """A row's identity: its first column (an id), or course x metric (x week)."""
    if "metric_type" in row and "analytics_id" not in row:
        return tuple(_key(row.get(c)) for c in ("course_id", "metric_type", "week_start"))
    return _key(next(iter(row.values())))


# --- files read back ------------------------------------------------------------------


def export(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Response:
    response = client.get(f"{EXPORTS}/{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response


def listed_labels(client: TestClient, headers: dict[str, str], dataset: str) -> dict[str, str]:
    """The dataset's default columns (name -> header label) as GET /datasets lists them."""
    listing = client.get(f"{EXPORTS}/datasets", headers=headers)
    assert listing.status_code == 200, listing.text
    info = next(d for d in listing.json()["datasets"] if d["name"] == dataset)
    labels = {c["name"]: c["label"] for c in info["columns"]}
    return {name: labels[name] for name in info["default_columns"]}


def read_rows(response: Response, fmt: str, labels: dict[str, str] | None = None) -> list[Row]:
    """The rows of an export, keyed by column name (XLSX headers are mapped back)."""
    if fmt == "csv":
        return csv_dicts(response.content)
    if fmt == "ndjson":
        return ndjson_dicts(response.content)
    if fmt == "json":
        return json_dicts(response.content)
    if fmt == "parquet":
        rows: list[Row] = parquet_table(response.content).to_pylist()
        return rows
    assert labels is not None
    sheets = xlsx_sheets(response.content)
    assert len(sheets) == 1, list(sheets)
    header, *data = next(iter(sheets.values()))
    assert list(header) == list(labels.values())
    return [dict(zip(labels, row, strict=True)) for row in data]


def guarded(text: str) -> str:
    return "'" + text if text.startswith(TRIGGERS) else text


def utc_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def assert_cell(expected: Any, got: Any, fmt: str, where: str, *, guard: bool = True) -> None:
    """``got`` (as ``fmt`` carries it) is the database value ``expected``."""
    if expected is None:
        assert got == ("" if fmt == "csv" else None), where
    elif isinstance(expected, dict):  # JSON text (audit detail)
        assert json.loads(got) == expected, where
    elif isinstance(expected, str):
        assert got == (guarded(expected) if fmt == "csv" and guard else expected), where
    elif isinstance(expected, bool):
        assert got == ("true" if expected else "false") if fmt == "csv" else got is expected
    elif isinstance(expected, int):
        assert got == (str(expected) if fmt == "csv" else expected), where
        if fmt in ("json", "ndjson", "parquet"):
            assert type(got) is int, where
    elif isinstance(expected, Decimal):
        if fmt == "csv":
            assert got == str(money(expected)), where  # exactly two places: "85.50"
        else:
            assert isinstance(got, float), where
            assert got == float(money(expected)), where
    elif isinstance(expected, float):
        if fmt == "csv":
            assert got == repr(float(got)), where  # shortest repr
            got = float(got)
        assert isinstance(got, float), where
        assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12), where
    elif isinstance(expected, dt.datetime):
        if fmt in ("csv", "json", "ndjson"):
            assert got == utc_text(expected), where
        elif fmt == "parquet":
            assert got == expected, where
            assert got.utcoffset() == dt.timedelta(0), where
        else:
            naive = expected.astimezone(dt.UTC).replace(tzinfo=None)
            assert isinstance(got, dt.datetime), where
            assert abs(got - naive) < dt.timedelta(seconds=1), where
    elif isinstance(expected, dt.date):
        if fmt in ("csv", "json", "ndjson"):
            assert got == expected.isoformat(), where
        elif fmt == "parquet":
            assert got == expected and not isinstance(got, dt.datetime), where
        else:
            assert got == dt.datetime.combine(expected, dt.time()), where
    else:  # pragma: no cover - a kind this module does not know
        raise AssertionError(f"{where}: unexpected {expected!r}")


def assert_rows(expected: list[Row], got: list[Row], fmt: str, *, guard: bool = True) -> None:
    assert len(got) == len(expected)
    assert [key_of(row) for row in got] == [key_of(row) for row in expected]
    for want, have in zip(expected, got, strict=True):
        assert list(have) == list(want)
        for column, value in want.items():
            assert_cell(value, have[column], fmt, f"{key_of(want)}.{column}", guard=guard)


# --- 1. every dataset in every format ---------------------------------------------------


FILE_NAME = re.compile(r'attachment; filename="(?P<name>[a-z_]+_\d{8}-\d{6}\.[a-z.]+)"')


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_in_every_format_matches_the_database(
    client: TestClient, session: Session, exports_school: ExportSchool, dataset: str, fmt: str
) -> None:
    headers = exports_school.admin_headers
    expected = expected_rows(session, dataset)
    assert expected, f"the school has no {dataset} rows"
    labels = listed_labels(client, headers, dataset)
    assert list(labels) == list(expected[0])

    response = export(client, headers, f"{dataset}.{fmt}")

    assert response.headers["x-export-rows"] == str(len(expected))
    match = FILE_NAME.match(response.headers["content-disposition"])
    assert match, response.headers["content-disposition"]
    assert re.fullmatch(rf"{dataset}_\d{{8}}-\d{{6}}\.{fmt}", match["name"])
    if fmt == "csv":
        assert response.content.startswith(BOM)
        assert csv_rows(response.content)[0] == list(labels)
    assert_rows(expected, read_rows(response, fmt, labels), fmt)


def test_the_dataset_list(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    listing = client.get(f"{EXPORTS}/datasets", headers=exports_school.admin_headers).json()
    assert [d["name"] for d in listing["datasets"]] == list(DATASETS)
    assert set(listing["filter_operators"]) == {
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "in",
        "contains",
    }
    grades = next(d for d in listing["datasets"] if d["name"] == "grades")
    kinds = {c["name"]: c["type"] for c in grades["columns"]}
    assert kinds["percent"] == "decimal" and kinds["due_date"] == "date"
    assert kinds["submitted_at"] == "datetime" and kinds["grade_id"] == "integer"

    teacher = f.auth(session, exports_school.algebra_teacher)
    names = [
        d["name"] for d in client.get(f"{EXPORTS}/datasets", headers=teacher).json()["datasets"]
    ]
    assert "audit_events" not in names and "grades" in names


def test_xlsx_has_a_styled_frozen_header_and_typed_cells(
    client: TestClient, exports_school: ExportSchool
) -> None:
    response = export(client, exports_school.admin_headers, "grades.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["grades"]
    assert sheet.freeze_panes == "A2"
    header = sheet[1]
    assert header[0].value == "Grade id"
    for cell in header:
        assert cell.font.b
        assert cell.fill.fgColor.rgb.upper().endswith("1F4E79")
    by_label = {cell.value: cell.column - 1 for cell in header}
    row = sheet[2]
    assert row[by_label["Due"]].is_date
    assert isinstance(row[by_label["Percent"]].value, (int, float))
    assert row[by_label["Percent"]].number_format == "0.00"
    assert isinstance(row[by_label["Grade id"]].value, (int, float))


# --- 2. unicode and formula-looking text ------------------------------------------------


TEXT_LABELS = {
    "grade_id": "Grade id",
    "student_name": "Student",
    "assignment": "Assignment",
    "category": "Category",
    "feedback": "Feedback",
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unicode_and_formula_text_survive(
    client: TestClient, session: Session, exports_school: ExportSchool, fmt: str
) -> None:
    headers = exports_school.admin_headers
    stored = [{k: row[k] for k in TEXT_LABELS} for row in _grades(Tables(session))]
    texts = {v for row in stored for k, v in row.items() if k != "grade_id"}
    assert set(FORMULA_TEXTS) <= texts and set(UNICODE_NAMES) <= texts

    for guard in (True, False) if fmt == "csv" else (True,):
        response = export(
            client,
            headers,
            f"grades.{fmt}",
            columns=",".join(TEXT_LABELS),
            formula_guard=str(guard).lower(),
        )
        got = read_rows(response, fmt, TEXT_LABELS)
        assert_rows(stored, got, fmt, guard=guard)
        exported = {v for row in got for k, v in row.items() if k != "grade_id"}
        if fmt == "csv" and guard:
            assert {"'" + text for text in FORMULA_TEXTS} <= exported
            assert not set(FORMULA_TEXTS) & exported
        else:
            assert set(FORMULA_TEXTS) <= exported
        assert set(UNICODE_NAMES) <= exported

    if fmt == "csv":
        # A negative number is a number: never prefixed, guard or not (the dataset
        # test covers the guarded default).
        values = csv_dicts(
            export(
                client, headers, "analytics.csv", columns="value,source", formula_guard="false"
            ).content
        )
        assert {"value": "-0.5", "source": "@cmd"} in values


# --- 3. CSV options ------------------------------------------------------------------------


def _grade(rows: list[dict[str, str]], grade_id: int) -> dict[str, str]:
    return next(row for row in rows if row["grade_id"] == str(grade_id))


def test_csv_options(client: TestClient, session: Session, exports_school: ExportSchool) -> None:
    headers = exports_school.admin_headers
    # Due 2026-09-08, submitted 2026-09-08 14:30:45.123456 UTC.
    formula_grade = session.scalars(select(Grade).where(Grade.feedback == "-x")).one()
    excused = session.scalars(select(Grade).where(Grade.status == "excused")).one()
    missing = session.scalars(select(Grade).where(Grade.status == "missing")).one()

    plain = export(client, headers, "grades.csv")
    assert plain.content.startswith(BOM)
    assert plain.headers["content-type"].startswith("text/csv")
    rows = csv_rows(plain.content)
    header = ",".join(rows[0]).encode()
    row = _grade(csv_dicts(plain.content), formula_grade.id)
    assert (row["due_date"], row["submitted_at"]) == ("2026-09-08", "2026-09-08 14:30:45")
    assert _grade(csv_dicts(plain.content), excused.id)["percent"] == ""

    # Several options at once, each seen on its own cells (a child process per
    # SQLite export makes every request count).
    styles = {
        "us": ("09/08/2026", "09/08/2026 14:30:45"),
        "eu": ("08.09.2026", "08.09.2026 14:30:45"),
        "full": ("2026-09-08 00:00:00", "2026-09-08 14:30:45"),
    }
    for params, delimiter in (
        ({"encoding": "utf-8", "delimiter": ";", "null": "NULL", "date_format": "us"}, ";"),
        ({"delimiter": "tab", "date_format": "eu"}, "\t"),
        ({"delimiter": "|", "date_format": "full", "encoding": "utf-8-sig"}, "|"),
    ):
        response = export(client, headers, "grades.csv", **params)
        bom = params.get("encoding", "utf-8-sig") == "utf-8-sig"
        assert response.content.startswith(BOM) is bom
        assert response.content.removeprefix(BOM).startswith(
            header.replace(b",", delimiter.encode()) + b"\r\n"
        )
        null = params.get("null", "")
        styled = csv_dicts(response.content, delimiter=delimiter)
        assert len(styled) == len(rows) - 1
        assert _grade(styled, excused.id)["percent"] == null
        assert _grade(styled, missing.id)["score"] == null
        assert _grade(styled, missing.id)["percent"] == "0.00"
        date, moment = styles[params["date_format"]]
        row = _grade(styled, formula_grade.id)
        assert (row["due_date"], row["submitted_at"]) == (date, moment), params
        assert (row["percent"], row["feedback"]) == ("85.50", "'-x")
        # Apart from dates and nulls, the same cells as the default.
        same = [k for k in rows[0] if k not in ("due_date", "submitted_at", "score", "percent")]
        assert [[("" if r[k] == null else r[k]) for k in same] for r in styled] == [
            [r[k] for k in same] for r in csv_dicts(plain.content)
        ]

    lines = ndjson_dicts(export(client, headers, "grades.ndjson", date_format="eu").content)
    line = next(line for line in lines if line["grade_id"] == formula_grade.id)
    assert (line["due_date"], line["submitted_at"]) == styles["eu"]

    zipped = export(client, headers, "grades.csv", compress="gzip")
    name = FILE_NAME.match(zipped.headers["content-disposition"])
    assert name and re.fullmatch(r"grades_\d{8}-\d{6}\.csv\.gz", name["name"])
    assert zipped.headers["content-type"] == "application/gzip"
    assert gzip.decompress(zipped.content) == plain.content

    bad = client.get(f"{EXPORTS}/grades.parquet", headers=headers, params={"compress": "gzip"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


# --- 4. columns, filters, sort, limit ---------------------------------------------------


def ids(response: Response, column: str = "grade_id") -> list[int]:
    return [row[column] for row in ndjson_dicts(response.content)]


def _grade_columns() -> list[str]:
    return [
        *("grade_id", "student_id", "sis_id", "student_name", "course_id", "course_name"),
        *("assignment_id", "assignment", "category", "due_date", "max_points", "weight"),
        *("score", "percent", "status", "submitted_at", "feedback"),
    ]


def test_column_selection_and_order(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    headers = exports_school.admin_headers
    response = export(client, headers, "grades.csv", columns="percent,grade_id,student_name")
    header, *rows = csv_rows(response.content)
    assert header == ["percent", "grade_id", "student_name"]
    assert rows == [
        ["" if r["percent"] is None else str(r["percent"]), str(r["grade_id"]), r["student_name"]]
        for r in _grades(Tables(session))
    ]
    sheets = xlsx_sheets(export(client, headers, "grades.xlsx", columns="percent,grade_id").content)
    assert sheets["grades"][0] == ("Percent", "Grade id")


def test_unknown_column_is_a_422_listing_the_valid_ones(
    client: TestClient, exports_school: ExportSchool
) -> None:
    response = client.get(
        f"{EXPORTS}/grades.csv", headers=exports_school.admin_headers, params={"columns": "nope"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert "nope" in body["detail"]
    listed = body["detail"].split("Its columns are: ", 1)[1].rstrip(".").split(", ")
    assert listed == _grade_columns()
    assert body["errors"][0]["valid"] == _grade_columns()


@pytest.mark.parametrize(
    ("dataset", "params"),
    [
        ("grades", {"filter": "status:like:late"}),  # unknown operator
        ("grades", {"filter": "grade_id:eq:abc"}),  # not a whole number
        ("grades", {"filter": "percent:gt:lots"}),  # not a number
        ("grades", {"filter": "due_date:le:yesterday"}),  # not a date
        ("grades", {"filter": "score:contains:1"}),  # contains on a number
        ("grades", {"filter": "nope:eq:1"}),  # unknown column
        ("grades", {"filter": "status"}),  # not column:op:value
        ("grades", {"sort": "nope"}),
        ("grades", {"limit": "0"}),
        ("grades", {"date_format": "martian"}),
        ("grades", {"delimiter": "x"}),
        ("grades", {"start": "2026-10-01", "end": "2026-09-01"}),
        ("grades", {"metric_types": "logins"}),  # grades take no metric list
        ("students", {"start": "2026-09-01"}),  # no date column
        ("class_analytics", {"filter": "std_dev:gt:1"}),  # computed after the query
        ("class_analytics", {"filter": "iso_week:eq:2026-W36", "weekly": "true"}),
        ("class_analytics", {"sort": "-std_dev"}),
        ("class_analytics", {"columns": "week_start"}),  # only with weekly=true
    ],
)
def test_bad_specs_are_422_problems(
    client: TestClient, exports_school: ExportSchool, dataset: str, params: dict[str, str]
) -> None:
    response = client.get(
        f"{EXPORTS}/{dataset}.csv", headers=exports_school.admin_headers, params=params
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 422


def test_unknown_dataset_is_a_404(client: TestClient, exports_school: ExportSchool) -> None:
    response = client.get(f"{EXPORTS}/nope.csv", headers=exports_school.admin_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert client.get(f"{EXPORTS}/grades.csv").status_code == 401


FILTERS: list[tuple[list[str], Callable[[Row], bool]]] = [
    (["status:in:late|missing"], lambda r: r["status"] in ("late", "missing")),
    (["feedback:contains:tab"], lambda r: "tab" in (r["feedback"] or "")),
    (["feedback:contains:%"], lambda r: "%" in (r["feedback"] or "")),  # not a wildcard
    (["percent:gt:80"], lambda r: r["percent"] is not None and r["percent"] > 80),
    (
        ["due_date:le:2026-09-12", "grade_id:in:1|2|3|4|5|6|7|8"],
        lambda r: r["due_date"] <= dt.date(2026, 9, 12) and r["grade_id"] <= 8,
    ),
    (
        ["submitted_at:gt:2026-09-09T00:00:00"],
        lambda r: (
            r["submitted_at"] is not None
            and r["submitted_at"] > dt.datetime(2026, 9, 9, tzinfo=dt.UTC)
        ),
    ),
    (
        ["course_name:eq:Algebra", "percent:le:85"],
        lambda r: r["course_name"] == "Algebra" and r["percent"] is not None and r["percent"] <= 85,
    ),
    (
        ["student_name:ne:Анна Иванова", "status:eq:graded"],
        lambda r: r["student_name"] != "Анна Иванова" and r["status"] == "graded",
    ),
]


@pytest.mark.parametrize(("filters", "keep"), FILTERS, ids=[" & ".join(f) for f, _ in FILTERS])
def test_filters_keep_what_the_database_says(
    client: TestClient,
    session: Session,
    exports_school: ExportSchool,
    filters: list[str],
    keep: Callable[[Row], bool],
) -> None:
    everything = _grades(Tables(session))
    expected = [row["grade_id"] for row in everything if keep(row)]
    assert len(expected) < len(everything)
    response = export(client, exports_school.admin_headers, "grades.ndjson", filter=filters)
    assert ids(response) == expected
    assert response.headers["x-export-rows"] == str(len(expected))


def test_a_decimal_filter_matches_the_figure_the_file_shows(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    # 17.1 / 20 is 85.50% and 33.33 / 40 is 83.325%, shown (and so compared) as 83.33;
    # SQL has 85.50000000000001 and 83.325 (or a hair under) as floats.
    wanted = {Decimal("85.50"), Decimal("83.33")}
    expected = [row["grade_id"] for row in _grades(Tables(session)) if row["percent"] in wanted]
    assert len(expected) == 2
    response = export(
        client, exports_school.admin_headers, "grades.ndjson", filter="percent:in:85.5|83.33"
    )
    assert ids(response) == expected


def test_contains_is_the_same_on_every_backend(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    # Case-sensitive, as PostgreSQL (and Python's `in`) has it.
    expected = [r["grade_id"] for r in _grades(Tables(session)) if "TAB" in (r["feedback"] or "")]
    response = export(
        client, exports_school.admin_headers, "grades.ndjson", filter="feedback:contains:TAB"
    )
    assert ids(response) == expected


def test_sort_and_limit(client: TestClient, session: Session, exports_school: ExportSchool) -> None:
    headers = exports_school.admin_headers
    rows = _grades(Tables(session))
    by_due_desc = sorted(rows, key=lambda r: (-r["due_date"].toordinal(), r["grade_id"]))
    assert ids(export(client, headers, "grades.ndjson", sort="-due_date")) == [
        r["grade_id"] for r in by_due_desc
    ]
    by_course = sorted(rows, key=lambda r: (r["course_name"], -r["grade_id"]))
    limited = export(client, headers, "grades.ndjson", sort="course_name,-grade_id", limit="3")
    assert ids(limited) == [r["grade_id"] for r in by_course[:3]]
    assert limited.headers["x-export-rows"] == "3"


# --- 5. scoping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "teacher"),
    [
        ("grades", "algebra_teacher"),
        ("grades", "art_teacher"),
        ("attendance", "algebra_teacher"),
        ("analytics", "algebra_teacher"),
        ("enrollments", "art_teacher"),
    ],
)
def test_a_teacher_exports_only_the_rows_of_their_courses(
    client: TestClient, session: Session, exports_school: ExportSchool, dataset: str, teacher: str
) -> None:
    school = exports_school
    taught = {
        "algebra_teacher": {school.algebra.id},
        "art_teacher": {school.art.id, school.history.id},
    }[teacher]
    everything = expected_rows(session, dataset)
    expected = [row for row in everything if row["course_id"] in taught]
    assert expected and len(expected) < len(everything)
    headers = f.auth(session, getattr(school, teacher))
    got = ndjson_dicts(export(client, headers, f"{dataset}.ndjson").content)
    assert [key_of(r) for r in got] == [key_of(r) for r in expected]
    assert {r["course_id"] for r in got} <= taught


def test_other_roles_scope(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    school = exports_school
    teacher = f.auth(session, school.algebra_teacher)

    forbidden = client.get(f"{EXPORTS}/audit_events.csv", headers=teacher)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == PROBLEM

    tutor_notes = export(client, teacher, "tutor_weekly_reports.csv")
    assert tutor_notes.headers["x-export-rows"] == "0"
    assert len(csv_rows(tutor_notes.content)) == 1  # the header only

    # The algebra teacher sees Анна and José (Algebra), not 李 (Art only).
    students = ids(export(client, teacher, "students.ndjson"), "student_id")
    assert students == sorted([school.anna.id, school.jose.id])

    # The tutor: their student's rows only.
    tutor = f.auth(session, school.tutor)
    notes = ndjson_dicts(export(client, tutor, "tutor_weekly_reports.ndjson").content)
    assert notes and {n["student_id"] for n in notes} == {school.anna.id}

    guardian = f.auth(session, school.guardian)
    jose = school.jose.id
    expected = [r["grade_id"] for r in _grades(Tables(session)) if r["student_id"] == jose]
    assert ids(export(client, guardian, "grades.ndjson")) == expected
    rows = ndjson_dicts(export(client, guardian, "analytics.ndjson").content)
    assert rows and {r["student_id"] for r in rows} == {jose}
    assert client.get(f"{EXPORTS}/audit_events.csv", headers=guardian).status_code == 403


# --- 6. sheet rollover and row limits ---------------------------------------------------


@pytest.fixture
def limited_client(
    database_url: str, tmp_path: Path, exports_school: ExportSchool
) -> Iterator[Callable[..., TestClient]]:
    """A client of an app with other export limits, on the same database."""
    opened: list[TestClient] = []

    def make(**limits: int) -> TestClient:
        settings = Settings(
            database_url=database_url,
            secret_key=TEST_SECRET,
            export_dir=tmp_path / "exports",
            **limits,  # type: ignore[arg-type]
        )
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def test_xlsx_rolls_over_to_more_sheets(
    session: Session, exports_school: ExportSchool, limited_client: Callable[..., TestClient]
) -> None:
    client = limited_client(export_xlsx_sheet_rows=3)
    expected = _grades(Tables(session))[:8]
    response = export(
        client, exports_school.admin_headers, "grades.xlsx", limit="8", columns="grade_id,score"
    )
    assert response.headers["x-export-sheets"] == "grades, grades (2), grades (3)"
    assert response.headers["x-export-rows"] == "8"
    sheets = xlsx_sheets(response.content)
    assert list(sheets) == ["grades", "grades (2)", "grades (3)"]
    assert [len(rows) - 1 for rows in sheets.values()] == [3, 3, 2]
    got = []
    for rows in sheets.values():
        assert rows[0] == ("Grade id", "Score")
        got += [{"grade_id": r[0], "score": r[1]} for r in rows[1:]]
    want = [{"grade_id": r["grade_id"], "score": r["score"]} for r in expected]
    assert_rows(want, got, "xlsx")


def test_more_rows_than_allowed_is_a_413(
    exports_school: ExportSchool, limited_client: Callable[..., TestClient]
) -> None:
    client = limited_client(export_max_rows=2, export_xlsx_max_rows=2)
    headers = exports_school.admin_headers
    too_many = client.get(f"{EXPORTS}/grades.csv", headers=headers)
    assert too_many.status_code == 413
    assert too_many.headers["content-type"] == PROBLEM
    assert "MARKBOOK_EXPORT_MAX_ROWS" in too_many.json()["detail"]
    xlsx = client.get(f"{EXPORTS}/grades.xlsx", headers=headers)
    assert xlsx.status_code == 413
    assert "MARKBOOK_EXPORT_XLSX_MAX_ROWS" in xlsx.json()["detail"]
    # Narrowed to the limit, it goes out.
    assert export(client, headers, "grades.csv", limit="2").headers["x-export-rows"] == "2"


# --- 7. workbooks -------------------------------------------------------------------------


def test_workbook_of_several_sheets(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    body = {
        "date_format": "eu",
        "sheets": [
            {
                "name": "Grades: term [1]",
                "dataset": "grades",
                "spec": {"columns": ["grade_id", "due_date", "percent"]},
            },
            {"name": "grades: term [1]", "dataset": "students", "spec": {}},
            {"name": "x" * 40, "dataset": "courses", "spec": {"columns": "course_id"}},
        ],
    }
    response = client.post(f"{EXPORTS}/workbook", headers=exports_school.admin_headers, json=body)
    assert response.status_code == 200, response.text
    sheets = xlsx_sheets(response.content)
    titles = list(sheets)
    assert response.headers["x-export-sheets"] == ", ".join(titles)
    assert len(titles) == 3
    assert len({t.casefold() for t in titles}) == 3  # unique, ignoring case
    for title in titles:
        assert 1 <= len(title) <= 31
        assert not set(title) & set("[]:*?/\\")
    assert titles[0] == "Grades_ term _1_"
    assert titles[1].startswith("grades_ term _1_")
    assert titles[2] == "x" * 31

    tables = Tables(session)
    grades = _grades(tables)
    assert sheets[titles[0]][0] == ("Grade id", "Due", "Percent")
    assert_rows(
        [{k: r[k] for k in ("grade_id", "due_date", "percent")} for r in grades],
        [
            dict(zip(("grade_id", "due_date", "percent"), r, strict=True))
            for r in sheets[titles[0]][1:]
        ],
        "xlsx",
    )
    students = _students(tables)
    assert sheets[titles[1]][0] == ("Student id", "SIS id", "Name", "Email", "Grade level")
    assert_rows(
        students, [dict(zip(students[0], r, strict=True)) for r in sheets[titles[1]][1:]], "xlsx"
    )
    assert [r[0] for r in sheets[titles[2]][1:]] == list(tables.courses)
    assert response.headers["x-export-rows"] == str(
        len(grades) + len(students) + len(tables.courses)
    )
    # The eu date style is the cells' number format.
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book[titles[0]]["B2"].number_format == "dd.mm.yyyy"


def test_workbook_refuses_a_bad_sheet(client: TestClient, exports_school: ExportSchool) -> None:
    headers = exports_school.admin_headers
    for sheet, status in (
        ({"name": "A", "dataset": "nope"}, 404),
        ({"name": "A", "dataset": "grades", "spec": {"columns": ["nope"]}}, 422),
        ({"name": "", "dataset": "grades"}, 422),
    ):
        response = client.post(f"{EXPORTS}/workbook", headers=headers, json={"sheets": [sheet]})
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM


# --- 8. audit ------------------------------------------------------------------------------


def test_an_export_is_audited_once_per_student(
    client: TestClient, session: Session, exports_school: ExportSchool
) -> None:
    teacher = exports_school.art_teacher
    headers = f.auth(session, teacher)
    before = session.scalar(select(func.max(AuditEvent.id))) or 0
    response = export(client, headers, "grades.csv")
    disclosed = {int(row["student_id"]) for row in csv_dicts(response.content)}
    assert disclosed == {exports_school.anna.id, exports_school.li.id}

    session.expire_all()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.resource) for e in events] == [("export", "dataset:grades")] * len(
        disclosed
    )
    assert {e.student_id for e in events} == disclosed  # one each
    for event in events:
        assert (event.actor_id, event.actor_email) == (teacher.id, teacher.email)
        assert event.channel == "api"
        assert event.detail is not None
        assert event.detail["format"] == "csv"
        assert event.detail["rows"] == int(response.headers["x-export-rows"])
        assert event.detail["complete"] is True


# --- 9. class analytics -------------------------------------------------------------------


@pytest.mark.parametrize("weekly", [False, True])
def test_class_analytics_figures(
    client: TestClient, session: Session, exports_school: ExportSchool, weekly: bool
) -> None:
    headers = exports_school.admin_headers
    tables = Tables(session)
    params = {"weekly": str(weekly).lower()}
    expected = class_analytics(tables, weekly=weekly)
    assert len(expected) == (3 if weekly else 2)
    got = json_dicts(export(client, headers, "class_analytics.json", **params).content)
    assert_rows(expected, got, "json")
    if weekly:
        assert all(dt.date.fromisoformat(row["week_start"]).weekday() == 0 for row in got)
        # -0.5 was recorded on Sunday 2026-09-06 23:30 UTC: the week of Monday 08-31.
        algebra = [r for r in got if r["course_id"] == exports_school.algebra.id]
        assert [(r["week_start"], r["iso_week"], r["count"]) for r in algebra] == [
            ("2026-08-31", "2026-W36", 3),
            ("2026-09-28", "2026-W40", 2),
        ]
        art = exports_school.art.id
        narrowed = csv_dicts(
            export(client, headers, "class_analytics.csv", course_ids=str(art), **params).content
        )
        assert_rows(class_analytics(tables, weekly=True, course_ids={art}), narrowed, "csv")
    else:
        # A course's teacher gets every student's values in it.
        teacher = f.auth(session, exports_school.algebra_teacher)
        algebra_id = exports_school.algebra.id
        theirs = json_dicts(export(client, teacher, "class_analytics.json").content)
        assert_rows(class_analytics(tables, course_ids={algebra_id}), theirs, "json")


def test_class_analytics_chart(client: TestClient, exports_school: ExportSchool) -> None:
    headers = exports_school.admin_headers
    response = export(client, headers, "class_analytics.xlsx", chart="true")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert any(name.startswith("xl/charts/chart") for name in archive.namelist())
    refused = client.get(f"{EXPORTS}/grades.xlsx", headers=headers, params={"chart": "true"})
    assert refused.status_code == 422
