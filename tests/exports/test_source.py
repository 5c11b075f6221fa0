"""source.read: the ADBC readers give what the SQLAlchemy reader gives, on both backends.

Data is committed before it is read: the readers use their own connections (and on
SQLite a child process of their own).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from markbook.audit import AuditAction, Channel, record_access
from markbook.auth.models import Role, User
from markbook.db import make_engine
from markbook.exports import query, source
from markbook.exports.datasets import DATASETS, STUDENT_ID
from markbook.exports.spec import ExportFormat, ExportPlan, ExportSpec, plan_export
from markbook.exports.writers.frames import CANONICAL
from markbook.records.models import AnalyticsData, Assignment, Grade, Student
from markbook.settings import Settings
from tests import factories as f
from tests.reports.conftest import School, school  # noqa: F401

UTC = dt.UTC


def make_plan(
    settings: Settings, engine: Engine, user: User, dataset: str, **spec: Any
) -> ExportPlan:
    return plan_export(
        DATASETS[dataset],
        ExportSpec(**spec),
        ExportFormat.csv,
        user,
        settings,
        dialect=engine.dialect.name,
    )


def read_all(
    plan: ExportPlan, settings: Settings, engine: Engine, reader: str = "auto"
) -> tuple[int, pl.DataFrame]:
    with source.read(plan, settings, engine=engine, reader=reader) as rows:
        frames = list(rows.batches())
        total = rows.total
    schema: dict[str, pl.DataType] | None = {
        name: CANONICAL[kind] for name, kind in query.fields_of(plan)
    }
    if plan.dataset.finish is not None:
        schema = None  # finish() adds its own columns; take the frames' schema
    if not frames:
        return total, pl.DataFrame(schema=schema)
    return total, pl.concat(frames, how="vertical")


def assert_frames_equal(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert got.columns == expected.columns
    assert got.schema == expected.schema, (got.schema, expected.schema)
    assert got.to_dicts() == expected.to_dicts()
    assert got.equals(expected)


@pytest.fixture
def admin(session: Session) -> User:
    user = f.user(session, Role.admin, name="Admin")
    session.commit()
    return user


@pytest.fixture
def richer_school(session: Session, school: School, admin: User) -> School:  # noqa: F811
    """The reports' school plus awkward values: ties, formulas, unicode, nulls."""
    other = f.student(session, '=HYPERLINK("x")')
    f.enroll(session, other, school.algebra)
    tie = f.assignment(session, school.algebra, due=dt.date(2024, 2, 29), max_points="8")
    session.add_all(
        [
            Grade(
                assignment_id=tie.id,
                student_id=other.id,
                status="graded",
                score=Decimal("2.675"),  # NUMERIC(8,2) keeps 2.68 (or 2.67): either way
                submitted_at=dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
                feedback="-5 for lateness; 'quoted', \"double\"\ttab\nnewline Ünï",
            ),
            AnalyticsData(
                student_id=other.id,
                course_id=school.algebra.id,
                metric_type="quiz",
                value=1e-05,
                recorded_at=dt.datetime(2026, 9, 3, 8, 0, 0, 123456, tzinfo=UTC),
                source="@lms",
            ),
        ]
    )
    record_access(
        session,
        admin,
        AuditAction.export,
        Channel.api,
        "dataset:grades",
        [school.student.id, other.id],
        ip="203.0.113.7",
        detail={"rows": 3, "note": "ünï"},
    )
    session.commit()
    return school


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_adbc_and_dbapi_give_the_same_frames(
    dataset: str,
    settings: Settings,
    engine: Engine,
    richer_school: School,
    admin: User,
) -> None:
    specs: list[dict[str, Any]] = [{}]
    if dataset == "class_analytics":
        specs.append({"weekly": True})
    for spec in specs:
        plan = make_plan(settings, engine, admin, dataset, **spec)
        total, adbc = read_all(plan, settings, engine)
        dbapi_total, dbapi = read_all(plan, settings, engine, reader="dbapi")
        assert total == dbapi_total == adbc.height == dbapi.height
        assert total > 0, f"{dataset} has no rows to compare"
        assert_frames_equal(adbc, dbapi)
        # Every column in its canonical type.
        for name, kind in query.fields_of(plan):
            assert adbc.schema[name] == CANONICAL[kind], name


def test_values_come_out_as_stored(
    settings: Settings, engine: Engine, richer_school: School, admin: User
) -> None:
    plan = make_plan(
        settings,
        engine,
        admin,
        "grades",
        columns="student_name,score,submitted_at,feedback,due_date",
        filter=["due_date:eq:2024-02-29"],
    )
    for reader in ("auto", "dbapi"):
        total, frame = read_all(plan, settings, engine, reader)
        assert total == 1
        row = frame.row(0, named=True)
        assert row["student_name"] == '=HYPERLINK("x")'
        assert row["score"] in (2.67, 2.68)
        assert row["submitted_at"] == dt.datetime(2024, 2, 29, 23, 59, 59, 999999)
        assert row["due_date"] == dt.date(2024, 2, 29)
        assert row["feedback"].startswith("-5 for lateness") and row["feedback"].endswith("Ünï")
        # The hidden id of whose record it is comes along, for the audit trail.
        assert frame.columns == [*(plan.spec.columns or []), STUDENT_ID]
        assert row[STUDENT_ID] is not None


@pytest.mark.parametrize(
    "spec",
    [
        {"limit": 3},
        {"filter": ["status:in:graded|late"]},
        {"filter": ["feedback:contains:%"]},
        {"start": "2026-09-10", "end": "2026-09-20"},
    ],
)
def test_total_matches_the_rows(
    spec: dict[str, Any],
    settings: Settings,
    engine: Engine,
    richer_school: School,
    admin: User,
) -> None:
    plan = make_plan(settings, engine, admin, "grades", **spec)
    total, adbc = read_all(plan, settings, engine)
    dbapi_total, dbapi = read_all(plan, settings, engine, reader="dbapi")
    assert total == adbc.height == dbapi_total == dbapi.height
    assert_frames_equal(adbc, dbapi)


def test_a_teacher_reads_only_their_rows(
    settings: Settings, engine: Engine, richer_school: School
) -> None:
    teacher = richer_school.art_teacher
    plan = make_plan(settings, engine, teacher, "grades")
    total, adbc = read_all(plan, settings, engine)
    _, dbapi = read_all(plan, settings, engine, reader="dbapi")
    assert total == 4  # Art and History, both theirs; none of Algebra's
    assert set(adbc.get_column("course_name").to_list()) == {"Art", "History"}
    assert_frames_equal(adbc, dbapi)


# --- long runs of NULL, small batches ------------------------------------------------------


def test_null_for_more_than_a_batch_then_text(
    settings: Settings, engine: Engine, session: Session, admin: User
) -> None:
    teacher = f.user(session, Role.teacher)
    course = f.course(session, teacher, "Chemistry")
    student = f.student(session, "Zoë")
    moment = dt.datetime(2026, 9, 1, 9, tzinfo=UTC)
    for n in range(12):
        late = n >= 5
        session.add(
            AnalyticsData(
                student_id=student.id,
                course_id=course.id if late else None,
                metric_type="logins",
                value=float(n) + 0.5,
                recorded_at=moment + dt.timedelta(hours=n),
                source=f"src-{n}" if late else None,
            )
        )
    session.commit()
    small = settings.model_copy(update={"export_batch_rows": 2})
    plan = make_plan(small, engine, admin, "analytics")
    with source.read(plan, small, engine=engine) as rows:
        batches = list(rows.batches())
        assert rows.total == 12
    assert len(batches) >= 6  # really read in batches of two
    frame = pl.concat(batches)
    assert frame.get_column("course_name").to_list() == [None] * 5 + ["Chemistry"] * 7
    assert frame.get_column("course_id").to_list() == [None] * 5 + [course.id] * 7
    assert frame.get_column("source").to_list() == [None] * 5 + [f"src-{n}" for n in range(5, 12)]
    assert frame.schema["course_name"] == pl.String
    assert frame.schema["course_id"] == pl.Int64
    _, dbapi = read_all(plan, small, engine, reader="dbapi")
    assert_frames_equal(frame, dbapi)


def test_every_value_null_in_a_column(
    settings: Settings, engine: Engine, session: Session, admin: User
) -> None:
    student = f.student(session, "Nobody")
    session.add(
        AnalyticsData(
            student_id=student.id,
            course_id=None,
            metric_type="logins",
            value=1.0,
            recorded_at=dt.datetime(2026, 9, 1, tzinfo=UTC),
            source=None,
        )
    )
    session.commit()
    small = settings.model_copy(update={"export_batch_rows": 1})
    plan = make_plan(small, engine, admin, "analytics")
    total, adbc = read_all(plan, small, engine)
    _, dbapi = read_all(plan, small, engine, reader="dbapi")
    assert total == 1
    assert adbc.get_column("source").to_list() == [None]
    assert_frames_equal(adbc, dbapi)


def test_no_rows(settings: Settings, engine: Engine, admin: User) -> None:
    for dataset in ("grades", "class_analytics"):
        plan = make_plan(settings, engine, admin, dataset)
        with source.read(plan, settings, engine=engine) as rows:
            assert rows.total == 0
            assert list(rows.batches()) == []


# --- order -----------------------------------------------------------------------------


def _students_with_values(session: Session, names: list[str]) -> None:
    moment = dt.datetime(2026, 9, 1, tzinfo=UTC)
    for index, name in enumerate(names):
        student = f.student(session, name)
        for n in range(3):
            session.add(
                AnalyticsData(
                    student_id=student.id,
                    course_id=None,
                    metric_type="logins",
                    value=float(index * 10 + n),
                    recorded_at=moment + dt.timedelta(minutes=index * 3 + n),
                )
            )
    session.commit()


def test_sort_keeps_its_order_through_the_reader(
    settings: Settings, engine: Engine, session: Session, admin: User
) -> None:
    names = ["Mia", "Ava", "Zed", "Émile", "Bo", "Chloé", "Ana", "Zara", "Yuki", "Omar"]
    _students_with_values(session, names)
    small = settings.model_copy(update={"export_batch_rows": 2})
    plan = make_plan(small, engine, admin, "analytics", sort=["-student_name"])
    for reader in ("auto", "dbapi"):
        total, frame = read_all(plan, small, engine, reader)
        assert total == 30
        got = list(zip(frame["student_name"], frame["analytics_id"], strict=True))
        # Descending by name (binary order, as both databases here compare these),
        # ties by the dataset's default sort (analytics_id ascending).
        expected = sorted(got, key=lambda pair: pair[1])
        expected = sorted(expected, key=lambda pair: pair[0], reverse=True)
        if engine.dialect.name == "sqlite":
            assert got == expected, reader
        else:
            # PostgreSQL sorts by the database collation; both readers agree on it.
            assert [name for name, _ in got][:3] in (["Émile"] * 3, ["Zed"] * 3)
        assert frame.get_column("analytics_id").n_unique() == 30


def test_sort_and_limit(settings: Settings, engine: Engine, session: Session, admin: User) -> None:
    _students_with_values(session, ["A", "B", "C", "D"])
    small = settings.model_copy(update={"export_batch_rows": 2})
    plan = make_plan(small, engine, admin, "analytics", sort=["-value"], limit=5)
    total, adbc = read_all(plan, small, engine)
    assert total == 5
    assert adbc.get_column("value").to_list() == [32.0, 31.0, 30.0, 22.0, 21.0]
    _, dbapi = read_all(plan, small, engine, reader="dbapi")
    assert_frames_equal(adbc, dbapi)


# --- SQLite: reading while the app writes ----------------------------------------------------


# The two-copies-of-SQLite problem is SQLite's: this runs on SQLite only.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_export_while_the_app_writes(
    backend: str, settings: Settings, engine: Engine, session: Session, admin: User
) -> None:
    assert engine.dialect.name == "sqlite"
    teacher = f.user(session, Role.teacher)
    course = f.course(session, teacher, "Physics")
    students = [f.student(session) for _ in range(40)]
    session.commit()
    with engine.begin() as connection:
        assignment_ids = [
            connection.execute(
                insert(Assignment)
                .values(
                    course_id=course.id,
                    title=f"Seed {n}",
                    category="Homework",
                    max_points=Decimal(10),
                    weight=Decimal(1),
                    due_date=dt.date(2026, 9, 1),
                )
                .returning(Assignment.id)
            ).scalar_one()
            for n in range(50)
        ]
        connection.execute(
            insert(Grade),
            [
                {
                    "assignment_id": assignment_id,
                    "student_id": student.id,
                    "status": "graded",
                    "score": Decimal("7.5"),
                    "feedback": "x" * 200,
                }
                for assignment_id in assignment_ids
                for student in students
            ],
        )
    seeded = 50 * 40

    small = settings.model_copy(update={"export_batch_rows": 64})
    plan = make_plan(small, engine, admin, "grades")
    outcome: dict[str, Any] = {}
    started = threading.Event()

    def export() -> None:
        try:
            with source.read(plan, small, engine=engine) as rows:
                outcome["total"] = rows.total
                started.set()
                count = 0
                for frame in rows.batches():
                    count += frame.height
                    time.sleep(0.01)  # a slow client: the writer gets well ahead
                outcome["rows"] = count
        except BaseException as error:  # reported below
            outcome["error"] = error
        finally:
            started.set()

    # The app's writes: new connections each time (NullPool), so the last one to
    # close checkpoints the WAL, as a server's idle pool does.
    from sqlalchemy.pool import NullPool

    writer = make_engine(settings, poolclass=NullPool)
    thread = threading.Thread(target=export)
    thread.start()
    try:
        assert started.wait(30)
        written = 0
        deadline = time.monotonic() + 20
        while (thread.is_alive() or written < 40) and time.monotonic() < deadline:
            with writer.begin() as connection:
                assignment_id = connection.execute(
                    insert(Assignment)
                    .values(
                        course_id=course.id,
                        title=f"Live {written}",
                        category="Quiz",
                        max_points=Decimal(10),
                        weight=Decimal(1),
                        due_date=dt.date(2026, 9, 2),
                    )
                    .returning(Assignment.id)
                ).scalar_one()
                connection.execute(
                    insert(Grade),
                    [
                        {
                            "assignment_id": assignment_id,
                            "student_id": student.id,
                            "status": "late",
                            "score": Decimal("5"),
                            "feedback": "y" * 500,
                        }
                        for student in students
                    ],
                )
            written += 1
            if written % 10 == 0:
                with writer.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        thread.join(60)
        assert not thread.is_alive()
    finally:
        writer.dispose()

    assert "error" not in outcome, repr(outcome.get("error"))
    # One snapshot: the count and the rows agree, whatever was written meanwhile.
    assert outcome["total"] == outcome["rows"] == seeded
    assert written >= 40
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        grades = connection.execute(select(func.count()).select_from(Grade)).scalar_one()
        assert grades == seeded + written * 40
        assert connection.execute(text("SELECT count(*) FROM students")).scalar_one() == 40
    # And a second export sees the new rows, from a healthy file.
    plan = make_plan(settings, engine, admin, "grades")
    with source.read(plan, settings, engine=engine) as rows:
        assert rows.total == seeded + written * 40
        assert sum(frame.height for frame in rows.batches()) == rows.total
    assert session.execute(select(func.count()).select_from(Student)).scalar_one() == 40


# --- times are UTC on every reader and server ----------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [{"start": "2026-09-02", "end": "2026-09-03"}, {"filter": ["recorded_at:ge:2026-09-03"]}],
)
def test_dbapi_reader_takes_a_period_on_a_datetime_column(
    spec: dict[str, Any],
    settings: Settings,
    engine: Engine,
    richer_school: School,
    admin: User,
) -> None:
    plan = make_plan(settings, engine, admin, "analytics", **spec)
    total, adbc = read_all(plan, settings, engine)
    assert total > 0
    _, dbapi = read_all(plan, settings, engine, reader="dbapi")
    assert_frames_equal(adbc, dbapi)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_period_is_utc_whatever_the_server_time_zone(
    backend: str, settings: Settings, engine: Engine, session: Session, admin: User
) -> None:
    student = f.student(session)
    session.add(
        AnalyticsData(
            student_id=student.id,
            metric_type="logins",
            value=1.0,
            recorded_at=dt.datetime(2026, 9, 3, 2, 0, tzinfo=UTC),
        )
    )
    session.commit()
    database = engine.url.database
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"ALTER DATABASE \"{database}\" SET timezone = 'America/New_York'"))
    try:
        for spec in (
            {"end": "2026-09-02"},
            {"filter": ["recorded_at:lt:2026-09-03T00:00:00+00:00"]},
        ):
            plan = make_plan(settings, engine, admin, "analytics", **spec)
            total, _ = read_all(plan, settings, engine)
            assert total == 0, spec  # 02:00 UTC on the 3rd is after the 2nd, in UTC
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'ALTER DATABASE "{database}" RESET timezone'))
