"""The grading rules: the numbers every report shows.

Pure functions over plain values, no database: ../shared/DESIGN.md "Grading rules"
is the specification, and tests/reports/test_grading.py checks each rule against
figures worked out by hand.

All arithmetic is Decimal. Percents and averages are kept exact while they are
summed and rounded half-up to two places only where a figure is shown; a letter is
always read off the rounded figure (92.995 rounds to 93.00, an A).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markbook.records.models import GradeStatus

HUNDRED = Decimal(100)
_CENTS = Decimal("0.01")

# Grade rows that count towards an average; excused ones and assignments with no
# grade row yet (pending) are left out.
COUNTED = frozenset({GradeStatus.graded, GradeStatus.late, GradeStatus.missing})
PENDING = "pending"

# (lowest rounded average, letter, grade points), best first.
LETTER_SCALE: tuple[tuple[Decimal, str, Decimal], ...] = tuple(
    (Decimal(floor), letter, Decimal(points))
    for floor, letter, points in (
        (93, "A", "4.0"),
        (90, "A-", "3.7"),
        (87, "B+", "3.3"),
        (83, "B", "3.0"),
        (80, "B-", "2.7"),
        (77, "C+", "2.3"),
        (73, "C", "2.0"),
        (70, "C-", "1.7"),
        (67, "D+", "1.3"),
        (63, "D", "1.0"),
        (60, "D-", "0.7"),
        (0, "F", "0.0"),
    )
)

# Flag thresholds.
ATTENDANCE_FLAG_BELOW = Decimal(90)
FAILING_BELOW = Decimal(60)
MISSING_FLAG_AT = 3
DECLINING_AT = Decimal(-10)


def round2(value: Decimal) -> Decimal:
    """Half-up to two decimal places (92.995 -> 93.00; Python's round() would give 92.99)."""
    return value.quantize(_CENTS, rounding=ROUND_HALF_UP)


def letter_for(average: Decimal) -> tuple[str, Decimal]:
    """The letter and grade points of an average, read off its rounded value."""
    rounded = round2(average)
    for floor, letter, points in LETTER_SCALE:
        if rounded >= floor:
            return letter, points
    return LETTER_SCALE[-1][1], LETTER_SCALE[-1][2]  # negative averages cannot occur


def assignment_percent(status: str, score: Decimal | None, max_points: Decimal) -> Decimal | None:
    """100 x score / max points, exact; missing work is 0; excused and pending are None.

    Above 100 is allowed (extra credit).
    """
    if status == GradeStatus.missing:
        return Decimal(0)
    if status in (GradeStatus.graded, GradeStatus.late) and score is not None:
        return HUNDRED * score / max_points
    return None


@dataclass(frozen=True, slots=True)
class Work:
    """One assignment as it stands for one student."""

    course_id: int
    due_date: dt.date
    weight: Decimal
    status: str  # a GradeStatus, or "pending" when there is no grade row
    percent: Decimal | None  # exact, from assignment_percent

    @property
    def counted(self) -> bool:
        return self.status in COUNTED


def course_average(works: Iterable[Work]) -> Decimal | None:
    """Σ(weight x percent) / Σ weight over counted work, rounded; None when nothing counts.

    Counted work whose weights are all zero gives no average either (there is
    nothing to divide by).
    """
    weighted = Decimal(0)
    weights = Decimal(0)
    for work in works:
        if work.counted and work.percent is not None:
            weighted += work.weight * work.percent
            weights += work.weight
    if weights == 0:
        return None
    return round2(weighted / weights)


def credit_weighted(pairs: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """Σ(credits x value) / Σ credits, rounded; None when no credits are counted."""
    total = Decimal(0)
    credits = Decimal(0)
    for value, weight in pairs:
        total += value * weight
        credits += weight
    if credits == 0:
        return None
    return round2(total / credits)


@dataclass(frozen=True, slots=True)
class CourseMark:
    credits: Decimal
    average: Decimal | None  # the rounded course average


def overall(courses: Sequence[CourseMark]) -> tuple[Decimal | None, Decimal | None]:
    """Overall average and GPA: credit-weighted over courses that have an average.

    The overall average weighs the *rounded* course averages, the figures the report
    shows, so a reader can check it from the course table.
    """
    marked = [course for course in courses if course.average is not None]
    average = credit_weighted((course.average, course.credits) for course in marked)  # type: ignore[misc]
    gpa = credit_weighted(
        (letter_for(course.average)[1], course.credits)  # type: ignore[arg-type]
        for course in marked
    )
    return average, gpa


def rate(part: int, whole: int) -> Decimal | None:
    """100 x part / whole, rounded; None when the whole is zero."""
    if whole == 0:
        return None
    return round2(HUNDRED * part / whole)


def attendance_rate(present: int, late: int, absent: int) -> Decimal | None:
    """Present and late count as attended; excused days are left out."""
    return rate(present + late, present + late + absent)


def completion_rate(graded: int, late: int, missing: int) -> Decimal | None:
    return rate(graded + late, graded + late + missing)


def trend(current: Decimal | None, previous: Decimal | None) -> Decimal | None:
    if current is None or previous is None:
        return None
    return current - previous


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The equally long period just before ``start``..``end`` (both inclusive)."""
    length = end - start + dt.timedelta(days=1)
    return start - length, start - dt.timedelta(days=1)


def overall_of_works(works: Iterable[Work], credits: dict[int, Decimal]) -> Decimal | None:
    """The overall average of some work: per-course averages, then credit-weighted."""
    by_course: dict[int, list[Work]] = {}
    for work in works:
        by_course.setdefault(work.course_id, []).append(work)
    marks = [
        CourseMark(credits[course_id], course_average(course_works))
        for course_id, course_works in by_course.items()
    ]
    return overall(marks)[0]


def weekly_averages(
    works: Sequence[Work], credits: dict[int, Decimal], start: dt.date, end: dt.date
) -> list[tuple[dt.date, Decimal | None]]:
    """The overall average as it stood at the end of each week of the period.

    One point per week (the Monday that starts it), computed from the work due from
    ``start`` up to that week's Sunday (or ``end``): the running average a report
    card's trend line shows. None until some work counts.
    """
    monday = start - dt.timedelta(days=start.weekday())
    ordered = sorted(works, key=lambda work: work.due_date)
    # Running Σ(weight x percent) and Σ weight per course: each week adds its work
    # instead of recomputing the period so far (the same figures as overall_of_works).
    sums: dict[int, list[Decimal]] = {}
    points: list[tuple[dt.date, Decimal | None]] = []
    taken = 0
    while monday <= end:
        cutoff = min(monday + dt.timedelta(days=6), end)
        while taken < len(ordered) and ordered[taken].due_date <= cutoff:
            work = ordered[taken]
            taken += 1
            if work.counted and work.percent is not None:
                running = sums.setdefault(work.course_id, [Decimal(0), Decimal(0)])
                running[0] += work.weight * work.percent
                running[1] += work.weight
        averages = (
            (round2(weighted / weights), credits[course_id])
            for course_id, (weighted, weights) in sums.items()
            if weights != 0
        )
        points.append((monday, credit_weighted(averages)))
        monday += dt.timedelta(days=7)
    return points


@dataclass(frozen=True, slots=True)
class FlagRaised:
    code: str
    message: str
    course_id: int | None = None


def flags(
    *,
    attendance: Decimal | None,
    course_averages: Sequence[tuple[int, str, Decimal | None]],
    missing: int,
    trend_value: Decimal | None,
) -> list[FlagRaised]:
    """The warnings a report raises, in a fixed order.

    ``course_averages`` is (course id, course name, rounded average).
    """
    raised: list[FlagRaised] = []
    if attendance is not None and attendance < ATTENDANCE_FLAG_BELOW:
        raised.append(
            FlagRaised(
                "attendance_below_90",
                f"Attendance is {attendance}%, below {ATTENDANCE_FLAG_BELOW}%.",
            )
        )
    for course_id, name, average in course_averages:
        if average is not None and average < FAILING_BELOW:
            raised.append(
                FlagRaised(
                    "failing_course",
                    f"{name}: average {average}, below {FAILING_BELOW} (F).",
                    course_id,
                )
            )
    if missing >= MISSING_FLAG_AT:
        raised.append(FlagRaised("missing_work", f"{missing} assignments are missing."))
    if trend_value is not None and trend_value <= DECLINING_AT:
        raised.append(
            FlagRaised(
                "declining",
                f"The average fell {-trend_value} points from the period before.",
            )
        )
    return raised
