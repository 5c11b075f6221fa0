"""Class analytics: each learning-analytics metric's weekly mean over one course.

The figures are the ``class_analytics`` export's (weekly, narrowed to the course):
the page plans that dataset for the same spec and runs the planned SELECT with
SQLAlchemy, so what the page shows and what its export button downloads come from
one definition and one scope (:mod:`markbook.exports.datasets`). Only the columns
computed after the query (standard deviation, ISO week name) are not read here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from markbook.auth.models import User
from markbook.errors import InvalidInput
from markbook.exports.datasets import DATASETS, Scope
from markbook.exports.spec import ExportFormat, ExportSpec, dataset_named, plan_export
from markbook.records.models import AnalyticsData, Course
from markbook.settings import Settings

DATASET = "class_analytics"
# A period longer than this is almost certainly a typo (a year of 2206 for 2026);
# the years are bounded so date arithmetic on them cannot overflow.
MAX_PERIOD_DAYS = 3 * 366
FIRST_YEAR, LAST_YEAR = 1970, 2200


@dataclass(frozen=True)
class Week:
    """One metric's figures for one ISO week (Monday to Sunday, UTC)."""

    week_start: dt.date
    students: int  # students with at least one value that week
    count: int
    mean: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class Metric:
    metric_type: str
    weeks: tuple[Week, ...]  # the weeks with values, oldest first

    @property
    def label(self) -> str:
        return self.metric_type.replace("_", " ")

    def points(self) -> list[tuple[dt.date, float | None]]:
        """The weekly means for a line chart.

        Weeks without values are left out rather than drawn as gaps: a metric taken
        every other week would otherwise be dots without a line (the axis is one of
        dates, so the weeks stay where they fall).
        """
        return [(week.week_start, week.mean) for week in self.weeks]


@dataclass(frozen=True)
class ClassAnalytics:
    course: Course
    start: dt.date
    end: dt.date
    metrics: tuple[Metric, ...]
    # The students whose values the figures are made of (for the audit trail).
    student_ids: tuple[int, ...]


def default_period(course: Course, today: dt.date) -> tuple[dt.date, dt.date]:
    """From the course's first day to today, or to its last day once it has ended
    (the whole course if it has not started yet)."""
    if today < course.start_date:
        return course.start_date, course.end_date
    return course.start_date, min(course.end_date, today)


def check_period(start: dt.date, end: dt.date) -> None:
    """A period a page can draw; InvalidInput saying what to change otherwise."""
    for day, label, field in ((start, "start", "start"), (end, "end", "end")):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise InvalidInput(
                f"The {label} date {day.isoformat()} is out of range: use a year from "
                f"{FIRST_YEAR} to {LAST_YEAR}.",
                errors=[{"field": field, "message": "year out of range"}],
            )
    if start > end:
        raise InvalidInput(
            f"The start date ({start.isoformat()}) is after the end date "
            f"({end.isoformat()}): swap them or widen the period.",
            errors=[{"field": "end", "message": "before the start date"}],
        )
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"The period is {(end - start).days + 1} days long; choose at most "
            f"{MAX_PERIOD_DAYS} days (about three years).",
            errors=[{"field": "start", "message": "period too long"}],
        )


def export_spec(course_id: int, start: dt.date, end: dt.date) -> ExportSpec:
    """The export the page's figures are: class_analytics for one course, per week."""
    return ExportSpec(course_ids=[course_id], start=start, end=end, weekly=True)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _day(value: Any) -> dt.date:
    # SQLite's date() gives text; PostgreSQL a date.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def weekly_figures(
    session: Session,
    settings: Settings,
    user: User,
    course: Course,
    start: dt.date,
    end: dt.date,
) -> ClassAnalytics:
    """The course's weekly figures per metric over ``start``..``end``, as ``user`` may
    see them. ``course`` must be one ``user`` may see (``auth.scope.visible_course``):
    for any other the figures are simply empty."""
    check_period(start, end)
    spec = export_spec(course.id, start, end)
    dialect = _dialect(session)
    plan = plan_export(
        dataset_named(DATASET, user), spec, ExportFormat.csv, user, settings, dialect=dialect
    )
    grouped: dict[str, list[Week]] = {}
    # The plan's rows are sorted by course, metric and week.
    for row in session.execute(plan.statement).mappings():
        grouped.setdefault(row["metric_type"], []).append(
            Week(
                week_start=_day(row["week_start"]),
                students=int(row["students"]),
                count=int(row["count"]),
                mean=_number(row["mean"]),
                min=_number(row["min"]),
                max=_number(row["max"]),
            )
        )
    metrics = tuple(Metric(name, tuple(weeks)) for name, weeks in grouped.items())
    return ClassAnalytics(
        course=course,
        start=start,
        end=end,
        metrics=metrics,
        student_ids=_students_counted(session, user, spec, dialect),
    )


def _students_counted(
    session: Session, user: User, spec: ExportSpec, dialect: str
) -> tuple[int, ...]:
    """The students whose values are in the figures: the dataset's own SELECT (same
    joins, same scope, same period), asked for its distinct students instead of its
    aggregates."""
    scope = Scope(
        user=user,
        start=spec.start,
        end=spec.end,
        course_ids=spec.course_ids,
        weekly=spec.weekly,
        dialect=dialect,
    )
    aggregate = DATASETS[DATASET].build(scope)
    students = (
        aggregate.with_only_columns(AnalyticsData.student_id)
        .group_by(None)
        .distinct()
        .order_by(AnalyticsData.student_id)
    )
    return tuple(session.scalars(students))
