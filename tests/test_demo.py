"""The demo school: deterministic, realistic, loaded whole into an empty database.

Expected figures are computed here with plain SQL and Python, independently of the
generator. Most tests read one demo school per backend (built once per module);
those that need an empty database use the ``engine`` fixture.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import CheckConstraint, Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from markbook import demo_data, migrate
from markbook.auth.passwords import verify_password
from markbook.db import make_engine
from markbook.demo import (
    DEMO_PASSWORD,
    DatabaseNotEmpty,
    DemoSummary,
    build_demo,
    school_terms,
)
from markbook.models import Base
from markbook.records.models import search_key
from markbook.settings import Settings
from tests.conftest import TEST_SECRET, empty_all_tables, make_database

# A Wednesday in the Fall term, after its mid-term.
TODAY = dt.date(2026, 11, 18)
FALL, SPRING = school_terms(TODAY)
LOADED = (
    "users",
    "students",
    "guardianships",
    "tutor_assignments",
    "courses",
    "enrollments",
    "assignments",
    "grades",
    "attendance",
    "analytics_data",
    "student_reports",
    "teacher_weekly_reports",
    "tutor_weekly_reports",
)


class School:
    def __init__(self, engine: Engine, settings: Settings, summary: DemoSummary) -> None:
        self.engine = engine
        self.settings = settings
        self.summary = summary

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params))

    def value(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()


@pytest.fixture(scope="module")
def school(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[School]:
    url = make_database(backend, "demo", request, tmp_path_factory)
    settings = Settings(database_url=url, secret_key=TEST_SECRET)
    engine = make_engine(settings)
    summary = build_demo(engine, students=60, seed=7, today=TODAY)
    yield School(engine, settings, summary)
    engine.dispose()


def _fingerprint(engine: Engine) -> str:
    """A hash of every loaded row but the password hashes (argon2 salts each one)."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for name in LOADED:
            table = Base.metadata.tables[name]
            columns = [column for column in table.columns if column.name != "password_hash"]
            ordered = select(*columns).order_by(*table.primary_key.columns)
            for row in connection.execute(ordered):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# --- the calendar ---------------------------------------------------------------


def test_the_school_year_has_a_fall_and_a_spring_term() -> None:
    assert (FALL.name, FALL.start, FALL.end) == (
        "2026-27 Fall",
        dt.date(2026, 8, 24),
        dt.date(2027, 1, 15),
    )
    assert (SPRING.name, SPRING.start, SPRING.end) == (
        "2026-27 Spring",
        dt.date(2027, 1, 18),
        dt.date(2027, 6, 4),
    )


@pytest.mark.parametrize(
    ("today", "year_name"),
    [
        (dt.date(2027, 3, 1), "2026-27 Fall"),
        (dt.date(2027, 7, 15), "2026-27 Fall"),  # summer: the year just finished
        (dt.date(2027, 8, 10), "2026-27 Fall"),  # before the new year starts
        (dt.date(2027, 8, 23), "2027-28 Fall"),
    ],
)
def test_today_picks_the_school_year(today: dt.date, year_name: str) -> None:
    assert school_terms(today)[0].name == year_name


def test_school_days_skip_weekends_and_holidays() -> None:
    days = set(FALL.days) | set(SPRING.days)
    assert all(day.weekday() < 5 for day in days)
    closed = [
        dt.date(2026, 9, 7),  # Labor Day
        dt.date(2026, 11, 26),  # Thanksgiving
        dt.date(2026, 11, 27),
        dt.date(2026, 12, 22),  # winter break
        dt.date(2027, 1, 1),
        dt.date(2027, 1, 18),  # Martin Luther King Jr. Day
        dt.date(2027, 2, 15),  # Presidents' Day
        dt.date(2027, 3, 29),  # spring break
        dt.date(2027, 4, 2),
        dt.date(2027, 5, 31),  # Memorial Day
    ]
    assert not days & set(closed)
    assert dt.date(2026, 12, 21) in days and dt.date(2027, 1, 4) in days


# --- determinism and refusal -----------------------------------------------------


def test_same_seed_and_day_build_the_same_school(engine: Engine) -> None:
    build_demo(engine, students=40, seed=3, today=TODAY)
    first = _fingerprint(engine)
    empty_all_tables(engine)
    build_demo(engine, students=40, seed=3, today=TODAY)
    assert _fingerprint(engine) == first
    empty_all_tables(engine)
    build_demo(engine, students=40, seed=4, today=TODAY)
    assert _fingerprint(engine) != first


def test_a_database_with_people_is_refused_and_left_alone(engine: Engine) -> None:
    build_demo(engine, students=12, seed=1, today=TODAY)
    before = _fingerprint(engine)
    with pytest.raises(DatabaseNotEmpty, match=r"already has \d+ users and 12 students"):
        build_demo(engine, students=12, seed=2, today=TODAY)
    assert _fingerprint(engine) == before


def _schema(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        inspector = inspect(connection)
        return {
            name: (
                sorted(inspector.get_indexes(name), key=lambda index: str(index["name"])),
                sorted(inspector.get_foreign_keys(name), key=lambda key: str(key["name"])),
                inspector.get_unique_constraints(name),
                inspector.get_check_constraints(name),
            )
            for name in LOADED
        }


def test_the_schema_after_a_load_is_the_migrated_one(engine: Engine) -> None:
    # The load drops indexes (and on PostgreSQL foreign keys) and rebuilds them.
    migrated = _schema(engine)
    build_demo(engine, students=5, seed=1, today=TODAY)
    assert _schema(engine) == migrated


def test_a_failed_load_leaves_the_database_as_it_was(engine: Engine, settings: Settings) -> None:
    def interrupt(stage: str, _rows: int) -> None:
        if stage == "attendance":
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        build_demo(engine, students=10, seed=1, today=TODAY, progress=interrupt)
    with engine.connect() as connection:
        for name in LOADED:
            assert connection.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar() == 0
    migrate.check(settings)  # the indexes dropped for the load are back
    assert build_demo(engine, students=10, seed=1, today=TODAY).rows["students"] == 10


def test_after_a_load_the_database_enforces_its_rules_and_takes_new_rows(
    engine: Engine,
) -> None:
    build_demo(engine, students=5, seed=1, today=TODAY)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # The load relaxed these on its own connection only; the pool gets it back as it was.
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in (
                    "foreign_keys",
                    "ignore_check_constraints",
                    "synchronous",
                    "journal_mode",
                )
            }
            assert pragmas == {
                "foreign_keys": 1,
                "ignore_check_constraints": 0,
                "synchronous": 1,
                "journal_mode": "wal",
            }
        # Rows were loaded with explicit ids: new rows must still get free ones.
        highest = connection.execute(text("SELECT MAX(id) FROM users")).scalar_one()
        new_id = connection.execute(
            text(
                "INSERT INTO users (email, name, role, active, created_at) "
                "VALUES ('new@example.org', 'New', 'teacher', true, CURRENT_TIMESTAMP) "
                "RETURNING id"
            )
        ).scalar_one()
        assert new_id > highest
        assignment, student = connection.execute(
            text("SELECT assignment_id, student_id FROM grades LIMIT 1")
        ).one()
        bad_rows = [
            (
                "INSERT INTO grades (assignment_id, student_id, status) VALUES (:a, :s, 'bogus')",
                {"a": assignment, "s": student},
            ),
            (
                "INSERT INTO attendance (student_id, course_id, date, status) "
                "VALUES (999999, 999999, '2026-09-01', 'present')",
                {},
            ),
        ]
        for sql, params in bad_rows:
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(text(sql), params)


def test_progress_reports_each_table_up_to_its_row_count(engine: Engine) -> None:
    calls: list[tuple[str, int]] = []
    summary = build_demo(
        engine, students=10, seed=1, today=TODAY, progress=lambda *call: calls.append(call)
    )
    last = {stage: rows for stage, rows in calls}
    assert {stage: last[stage] for stage in LOADED} == summary.rows
    assert set(summary.rows) == set(LOADED)
    assert last["indexes"] > 0


def test_a_school_of_one_still_has_a_sign_in_for_every_role(engine: Engine) -> None:
    summary = build_demo(engine, students=1, seed=1, today=TODAY)
    assert [sign_in.role for sign_in in summary.sign_ins] == [
        "admin",
        "teacher",
        "tutor",
        "guardian",
        "student",
    ]
    assert summary.rows["students"] == 1


def test_in_the_summer_the_year_just_ended_has_all_its_records(engine: Engine) -> None:
    summer = dt.date(2027, 7, 15)
    summary = build_demo(engine, students=8, seed=1, today=summer)
    assert summary.terms[1] == ("2026-27 Spring", SPRING.start, SPRING.end)
    with engine.connect() as connection:
        last_attendance = connection.execute(text("SELECT MAX(date) FROM attendance")).scalar()
        term_reports = connection.execute(
            text("SELECT COUNT(*) FROM student_reports WHERE period_end = :end"),
            {"end": SPRING.end},
        ).scalar()
        pending = connection.execute(
            text(
                "SELECT COUNT(*) FROM assignments a WHERE NOT EXISTS "
                "(SELECT 1 FROM grades g WHERE g.assignment_id = a.id)"
            )
        ).scalar()
    assert _as_date(last_attendance) == SPRING.days[-1]
    assert term_reports == 8
    assert pending == 0


# --- the school ------------------------------------------------------------------


def test_the_summary_describes_what_was_loaded(school: School) -> None:
    summary = school.summary
    assert (summary.students, summary.seed, summary.today) == (60, 7, TODAY)
    assert summary.terms == [(t.name, t.start, t.end) for t in (FALL, SPRING)]
    for name in LOADED:
        counted = school.value(f"SELECT COUNT(*) FROM {name}")
        assert summary.rows[name] == counted > 0, name


def test_the_first_students_have_the_awkward_names(school: School) -> None:
    rows = school.rows("SELECT id, name, name_search FROM students ORDER BY id LIMIT 7")
    assert [row.name for row in rows] == [spec.name for spec in demo_data.FIXED_STUDENTS]
    assert [row.name for row in rows][:7] == [
        "José Núñez",
        "Анна Иванова",
        "李雷",
        "Γιώργος Παπαδόπουλος",
        "Siobhán O'Brien",
        "Smith, Jr.",
        'Mary "Molly" Jones',
    ]
    assert all(row.name_search == search_key(row.name) for row in rows)


def test_names_come_in_several_scripts(school: School) -> None:
    names = [row.name for row in school.rows("SELECT name FROM users")]
    assert any(not name.isascii() for name in names[8:])
    assert any(name.isascii() for name in names)


def test_formula_like_and_awkward_texts_are_stored_exactly(school: School) -> None:
    columns = {
        "grades": ("feedback",),
        "teacher_weekly_reports": ("progress_summary", "behaviour", "next_steps"),
        "tutor_weekly_reports": ("topics", "notes"),
        "student_reports": ("summary", "strengths", "concerns", "recommendations"),
    }
    stored: set[str] = set()
    for table, names in columns.items():
        for name in names:
            stored.update(row[0] for row in school.rows(f"SELECT {name} FROM {table}"))
    for wanted in (
        "=SUM(A1:A3)",
        "+1 555 0100",
        "@home",
        "-5 points for lateness",
        'He said "I\'ll try harder"\nNext: fractions',
    ):
        assert wanted in stored, wanted
    assert any(value and "\t" in value for value in stored)


def test_emails_are_unique_lower_case_ascii_under_example_org(school: School) -> None:
    emails = [row.email for row in school.rows("SELECT email FROM users")]
    assert len(emails) == len(set(emails))
    assert all(email == email.lower() and email.isascii() for email in emails)
    assert all(email.endswith("example.org") for email in emails)
    students = school.rows("SELECT external_id, email, user_id FROM students")
    assert all(row.user_id is not None for row in students)
    assert len({row.external_id for row in students}) == len(students)


def test_every_role_has_users(school: School) -> None:
    roles = dict(school.rows("SELECT role, COUNT(*) FROM users GROUP BY role"))
    assert set(roles) == {"admin", "teacher", "tutor", "guardian", "student"}
    assert roles["student"] == 60


def test_each_sign_in_works_and_sees_records(school: School) -> None:
    by_role = {sign_in.role: sign_in for sign_in in school.summary.sign_ins}
    assert list(by_role) == ["admin", "teacher", "tutor", "guardian", "student"]
    users = {}
    for role, sign_in in by_role.items():
        assert sign_in.email == f"{role}@example.org"
        assert sign_in.password == DEMO_PASSWORD
        user = school.rows(
            "SELECT id, role, name, password_hash, active FROM users WHERE email = :email",
            email=sign_in.email,
        )[0]
        assert (user.role, user.name) == (role, sign_in.name)
        assert user.active
        assert verify_password(user.password_hash, DEMO_PASSWORD)
        users[role] = user.id

    taught = school.value(
        "SELECT COUNT(*) FROM courses c JOIN enrollments e ON e.course_id = c.id "
        "WHERE c.teacher_id = :id AND c.term = :term",
        id=users["teacher"],
        term=FALL.name,
    )
    assert taught > 0
    tutored = school.value(
        "SELECT COUNT(*) FROM tutor_assignments WHERE tutor_id = :id", id=users["tutor"]
    )
    assert tutored >= 2
    children = school.value(
        "SELECT COUNT(*) FROM guardianships WHERE guardian_id = :id", id=users["guardian"]
    )
    assert children == 2  # José Núñez and a sibling
    own = school.rows(
        "SELECT s.id, s.name FROM students s WHERE s.user_id = :id", id=users["student"]
    )
    assert [row.name for row in own] == ["José Núñez"]
    assert school.value("SELECT COUNT(*) FROM enrollments WHERE student_id = :id", id=own[0].id)


def test_every_student_has_guardians_and_about_eight_courses(school: School) -> None:
    guardians = dict(
        school.rows("SELECT student_id, COUNT(*) FROM guardianships GROUP BY student_id")
    )
    assert len(guardians) == 60 and set(guardians.values()) <= {1, 2}
    shared = school.value(
        "SELECT COUNT(*) FROM (SELECT guardian_id FROM guardianships GROUP BY guardian_id "
        "HAVING COUNT(*) > 1) siblings"
    )
    assert shared >= 1
    per_student = school.rows(
        "SELECT e.student_id, COUNT(DISTINCT c.subject) AS subjects, COUNT(*) AS courses "
        "FROM enrollments e JOIN courses c ON c.id = e.course_id "
        "WHERE c.term = :term AND e.end_date IS NULL GROUP BY e.student_id",
        term=FALL.name,
    )
    assert all(7 <= row.courses <= 8 for row in per_student)
    assert sum(row.courses for row in per_student) / len(per_student) > 7.5


def test_the_current_term_has_records_up_to_today_and_not_after(school: School) -> None:
    between = {"start": FALL.start, "today": TODAY}
    counts = school.rows(
        "SELECT (SELECT COUNT(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id "
        "        WHERE a.due_date BETWEEN :start AND :today) AS grades, "
        "       (SELECT COUNT(*) FROM attendance WHERE date BETWEEN :start AND :today) AS days, "
        "       (SELECT COUNT(*) FROM analytics_data WHERE recorded_at >= :start) AS analytics",
        **between,
    )[0]
    assert counts.grades > 0 and counts.days > 0 and counts.analytics > 0

    latest = school.rows(
        "SELECT (SELECT MAX(a.due_date) FROM grades g JOIN assignments a "
        "        ON a.id = g.assignment_id) AS graded, "
        "       (SELECT MAX(date) FROM attendance) AS attended, "
        "       (SELECT MAX(recorded_at) FROM analytics_data) AS recorded, "
        "       (SELECT MAX(submitted_at) FROM grades) AS submitted, "
        "       (SELECT MAX(week_start) FROM teacher_weekly_reports) AS teacher_week, "
        "       (SELECT MAX(week_start) FROM tutor_weekly_reports) AS tutor_week, "
        "       (SELECT MAX(created_at) FROM student_reports) AS written"
    )[0]
    end_of_today = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(), dt.UTC)
    assert _as_date(latest.graded) <= TODAY
    assert _as_date(latest.attended) == dt.date(2026, 11, 18)
    assert _as_datetime(latest.recorded) < end_of_today
    assert _as_datetime(latest.submitted) < end_of_today
    assert _as_datetime(latest.written) < end_of_today
    assert _as_date(latest.teacher_week) <= TODAY and _as_date(latest.tutor_week) <= TODAY

    future = school.rows(
        "SELECT a.id, (SELECT COUNT(*) FROM grades g WHERE g.assignment_id = a.id) AS graded "
        "FROM assignments a WHERE a.due_date > :today",
        today=TODAY,
    )
    assert future and all(row.graded == 0 for row in future)


def test_no_attendance_on_weekends_or_outside_enrollment(school: School) -> None:
    days = {_as_date(row[0]) for row in school.rows("SELECT DISTINCT date FROM attendance")}
    assert days <= set(FALL.days)
    outside = school.value(
        "SELECT COUNT(*) FROM attendance t WHERE NOT EXISTS ("
        " SELECT 1 FROM enrollments e WHERE e.student_id = t.student_id"
        " AND e.course_id = t.course_id AND e.start_date <= t.date"
        " AND (e.end_date IS NULL OR t.date <= e.end_date))"
    )
    assert outside == 0
    # One row per student, day and course the student was enrolled in that day.
    enrolled_days = sum(
        sum(1 for day in FALL.days if start <= day <= min(end or TODAY, TODAY))
        for start, end in (
            (_as_date(row.start_date), row.end_date and _as_date(row.end_date))
            for row in school.rows("SELECT start_date, end_date FROM enrollments")
        )
    )
    assert school.value("SELECT COUNT(*) FROM attendance") == enrolled_days


def test_scores_fit_their_status(school: School) -> None:
    rows = school.rows("SELECT status, score, submitted_at FROM grades")
    assert {row.status for row in rows} == {"graded", "late", "missing", "excused"}
    for row in rows:
        if row.status in ("missing", "excused"):
            assert row.score is None and row.submitted_at is None
        else:
            assert row.score is not None and row.score >= 0 and row.submitted_at is not None
    statuses = {row[0] for row in school.rows("SELECT DISTINCT status FROM attendance")}
    assert statuses == {"present", "late", "absent", "excused"}


def test_every_check_constraint_and_foreign_key_holds(school: School) -> None:
    # SQLite loads with both switched off for speed; this proves the rows need neither.
    with school.engine.connect() as connection:
        for name in LOADED:
            table = Base.metadata.tables[name]
            for constraint in table.constraints:
                if isinstance(constraint, CheckConstraint):
                    # NOT (check) is false or unknown for every row that passes.
                    broken = connection.execute(
                        text(f"SELECT COUNT(*) FROM {name} WHERE NOT ({constraint.sqltext})")
                    ).scalar()
                    assert broken == 0, (name, constraint.name)
        if connection.dialect.name == "sqlite":
            assert list(connection.exec_driver_sql("PRAGMA foreign_key_check")) == []


def test_the_records_vary_like_a_real_school(school: School) -> None:
    counted: dict[tuple[int, int], list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for row in school.rows(
        "SELECT g.student_id, a.course_id, a.weight, a.max_points, g.score, g.status "
        "FROM grades g JOIN assignments a ON a.id = g.assignment_id "
        "WHERE g.status IN ('graded', 'late', 'missing')"
    ):
        score = Decimal(0) if row.status == "missing" else Decimal(str(row.score))
        percent = 100 * score / Decimal(str(row.max_points))
        counted[row.student_id, row.course_id].append((Decimal(str(row.weight)), percent))
    averages = [
        sum(weight * percent for weight, percent in pairs) / sum(weight for weight, _ in pairs)
        for pairs in counted.values()
    ]
    assert min(averages) < 60 < 93 < max(averages)
    failing = sum(1 for average in averages if average < 60) / len(averages)
    assert 0.01 < failing < 0.2

    rates = [
        100 * (row.present + row.late) / (row.present + row.late + row.absent)
        for row in school.rows(
            "SELECT student_id, SUM(CASE WHEN status = 'present' THEN 1 ELSE 0 END) AS present,"
            " SUM(CASE WHEN status = 'late' THEN 1 ELSE 0 END) AS late,"
            " SUM(CASE WHEN status = 'absent' THEN 1 ELSE 0 END) AS absent "
            "FROM attendance GROUP BY student_id"
        )
    ]
    assert min(rates) < 90 < 97 < max(rates)

    missing = school.rows(
        "SELECT student_id, COUNT(*) AS n FROM grades WHERE status = 'missing' GROUP BY student_id"
    )
    assert any(row.n >= 3 for row in missing)
    extra_credit = school.value(
        "SELECT COUNT(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id "
        "WHERE g.score > a.max_points"
    )
    assert extra_credit > 0
    metrics = {row[0] for row in school.rows("SELECT DISTINCT metric_type FROM analytics_data")}
    assert {"lms_logins", "lms_minutes", "engagement"} <= metrics and len(metrics) >= 4
    per_course = school.value("SELECT COUNT(*) FROM analytics_data WHERE course_id IS NOT NULL")
    assert per_course > 0


def test_indexes_after_the_load_are_the_migrations_own(school: School) -> None:
    migrate.check(school.settings)  # raises on any difference from the models
    with school.engine.connect() as connection:
        inspector = inspect(connection)
        for name in LOADED:
            table = Base.metadata.tables[name]
            found = {index["name"] for index in inspector.get_indexes(name)}
            declared = {index.name for index in table.indexes}
            assert declared <= found, name


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _as_datetime(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, dt.datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
