"""The class analytics service: weekly figures per metric, as the export defines them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from markbook.auth.models import Role
from markbook.errors import InvalidInput
from markbook.exports import source
from markbook.exports.spec import ExportFormat, dataset_named, plan_export
from markbook.records.models import AnalyticsData, Course, Student
from markbook.reports import class_analytics as ca
from markbook.settings import Settings
from tests import factories as f

START, END = dt.date(2026, 8, 24), dt.date(2026, 9, 27)


def at(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def add(
    session: Session, pupil: Student, course: Course, metric: str, value: float, when: dt.datetime
) -> None:
    session.add(
        AnalyticsData(
            student_id=pupil.id,
            course_id=course.id,
            metric_type=metric,
            value=value,
            recorded_at=when,
        )
    )


def test_weekly_figures_per_metric_with_gaps(
    session: Session, settings: Settings, engine: Engine
) -> None:
    teacher = f.user(session, Role.teacher)
    course = f.course(session, teacher)
    ana, ben = f.student(session), f.student(session)
    f.enroll(session, ana, course)
    f.enroll(session, ben, course)
    add(session, ana, course, "minutes", 30.0, at(8, 25))
    add(session, ben, course, "minutes", 40.0, at(8, 30))  # Sunday: still the week of 24 Aug
    add(session, ana, course, "minutes", 20.0, at(9, 14))  # after a week without values
    add(session, ben, course, "logins", 3.0, at(9, 15))
    session.commit()

    figures = ca.weekly_figures(session, settings, teacher, course, START, END)
    assert [m.metric_type for m in figures.metrics] == ["logins", "minutes"]
    minutes = figures.metrics[1]
    assert [(w.week_start, w.students, w.count, w.mean, w.min, w.max) for w in minutes.weeks] == [
        (dt.date(2026, 8, 24), 2, 2, 35.0, 30.0, 40.0),
        (dt.date(2026, 9, 14), 1, 1, 20.0, 20.0, 20.0),
    ]
    assert minutes.label == "minutes"
    # The chart's points: the weeks with values (the axis is one of dates).
    assert minutes.points() == [(dt.date(2026, 8, 24), 35.0), (dt.date(2026, 9, 14), 20.0)]
    assert figures.metrics[0].points() == [(dt.date(2026, 9, 14), 3.0)]
    assert figures.student_ids == tuple(sorted((ana.id, ben.id)))

    # The same figures as the export pipeline reads them (polars frames of the plan).
    plan = plan_export(
        dataset_named(ca.DATASET, teacher),
        ca.export_spec(course.id, START, END),
        ExportFormat.csv,
        teacher,
        settings,
        dialect=engine.dialect.name,
    )
    with source.read(plan, settings, engine=engine, reader="dbapi") as rows:
        frames = list(rows.batches())
    exported = [
        (r["metric_type"], r["week_start"], r["students"], r["count"], r["mean"])
        for frame in frames
        for r in frame.iter_rows(named=True)
    ]
    assert exported == [
        (m.metric_type, w.week_start, w.students, w.count, w.mean)
        for m in figures.metrics
        for w in m.weeks
    ]


def test_a_tutor_sees_only_their_students_values(session: Session, settings: Settings) -> None:
    teacher, tutor = f.user(session, Role.teacher), f.user(session, Role.tutor)
    course = f.course(session, teacher)
    ana, ben = f.student(session), f.student(session)
    f.enroll(session, ana, course)
    f.enroll(session, ben, course)
    f.tutor_of(session, tutor, ana)
    add(session, ana, course, "minutes", 10.0, at(9, 1))
    add(session, ben, course, "minutes", 50.0, at(9, 1))
    session.commit()

    theirs = ca.weekly_figures(session, settings, tutor, course, START, END)
    assert [(w.count, w.mean) for w in theirs.metrics[0].weeks] == [(1, 10.0)]
    assert theirs.student_ids == (ana.id,)
    everyone = ca.weekly_figures(session, settings, teacher, course, START, END)
    assert [(w.count, w.mean) for w in everyone.metrics[0].weeks] == [(2, 30.0)]


def test_default_period(session: Session) -> None:
    teacher = f.user(session, Role.teacher)
    course = f.course(session, teacher, start=dt.date(2026, 8, 24), end=dt.date(2027, 1, 15))
    assert ca.default_period(course, dt.date(2026, 10, 1)) == (
        course.start_date,
        dt.date(2026, 10, 1),
    )
    assert ca.default_period(course, dt.date(2027, 6, 1)) == (course.start_date, course.end_date)
    assert ca.default_period(course, dt.date(2026, 8, 1)) == (course.start_date, course.end_date)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (dt.date(2026, 9, 2), dt.date(2026, 9, 1), "is after the end date"),
        (dt.date(2020, 1, 1), dt.date(2026, 1, 1), "choose at most"),
        (dt.date(1, 1, 1), dt.date(2026, 1, 1), "out of range"),
        (dt.date(2026, 1, 1), dt.date(9999, 12, 31), "out of range"),
    ],
)
def test_periods_a_page_cannot_draw(start: dt.date, end: dt.date, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ca.check_period(start, end)
