"""The grading rules of DESIGN.md, each checked against figures worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from markbook.reports import grading
from markbook.reports.grading import CourseMark, Work

D = Decimal
DAY = dt.date(2026, 9, 15)


def work(percent: str | None, status: str = "graded", weight: str = "1", course: int = 1) -> Work:
    return Work(course, DAY, D(weight), status, None if percent is None else D(percent))


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("92.995", "93.00"),  # half-up, where round() and banker's rounding give 92.99
        ("92.994999", "92.99"),
        ("89.995", "90.00"),
        ("0.005", "0.01"),
        ("100", "100.00"),
        ("66.665", "66.67"),
    ],
)
def test_round2_is_half_up(value: str, rounded: str) -> None:
    assert grading.round2(D(value)) == D(rounded)
    assert str(grading.round2(D(value))) == rounded


@pytest.mark.parametrize(
    ("average", "letter", "points"),
    [
        ("100", "A", "4.0"),
        ("93", "A", "4.0"),
        ("92.995", "A", "4.0"),  # rounds to 93.00 first
        ("92.99", "A-", "3.7"),
        ("90", "A-", "3.7"),
        ("89.99", "B+", "3.3"),
        ("87", "B+", "3.3"),
        ("86.994", "B", "3.0"),
        ("83", "B", "3.0"),
        ("80", "B-", "2.7"),
        ("77", "C+", "2.3"),
        ("73", "C", "2.0"),
        ("70", "C-", "1.7"),
        ("67", "D+", "1.3"),
        ("63", "D", "1.0"),
        ("60", "D-", "0.7"),
        ("59.995", "D-", "0.7"),
        ("59.99", "F", "0.0"),
        ("0", "F", "0.0"),
        ("112.5", "A", "4.0"),  # extra credit
    ],
)
def test_letter_and_points_from_the_rounded_average(average: str, letter: str, points: str) -> None:
    assert grading.letter_for(D(average)) == (letter, D(points))


def test_percent_of_one_assignment() -> None:
    assert grading.assignment_percent("graded", D("17"), D("20")) == D("85")
    assert grading.assignment_percent("late", D("7"), D("8")) == D("87.5")
    # Extra credit goes above 100.
    assert grading.assignment_percent("graded", D("22"), D("20")) == D("110")
    # Missing counts as zero whatever the score column says.
    assert grading.assignment_percent("missing", None, D("20")) == D("0")
    assert grading.assignment_percent("missing", D("15"), D("20")) == D("0")
    # Excused and pending have no percent.
    assert grading.assignment_percent("excused", D("15"), D("20")) is None
    assert grading.assignment_percent("pending", None, D("20")) is None


def test_course_average_is_weighted_and_leaves_out_excused_and_pending() -> None:
    works = [
        work("90", weight="2"),
        work("75", weight="1"),
        work("0", status="missing", weight="1"),
        work(None, status="excused", weight="5"),
        work(None, status="pending", weight="5"),
    ]
    # (2*90 + 1*75 + 1*0) / (2 + 1 + 1) = 255 / 4 = 63.75
    assert grading.course_average(works) == D("63.75")


def test_course_average_rounds_half_up_once_at_the_end() -> None:
    # (92.99 + 93 + 93) / 3 = 92.99666.. -> 93.00: an A, though one piece is below 93.
    works = [work("92.99"), work("93"), work("93")]
    average = grading.course_average(works)
    assert average == D("93.00")
    assert grading.letter_for(average)[0] == "A"
    # Exact thirds: (100/3 x 3 pieces of 1/3 weight...) 100*2/3 = 66.666.. -> 66.67
    assert grading.course_average([work("100"), work("100"), work("0", status="missing")]) == D(
        "66.67"
    )


def test_course_average_with_extra_credit_above_100() -> None:
    assert grading.course_average([work("110"), work("100")]) == D("105.00")


def test_course_average_is_none_when_nothing_counts() -> None:
    assert grading.course_average([]) is None
    assert grading.course_average([work(None, "excused"), work(None, "pending")]) is None
    # Counted work of zero weight gives nothing to divide by.
    assert grading.course_average([work("80", weight="0")]) is None


def test_overall_average_and_gpa_are_credit_weighted_over_courses_with_marks() -> None:
    courses = [
        CourseMark(D("1.0"), D("95.00")),  # A, 4.0
        CourseMark(D("0.5"), D("81.50")),  # B-, 2.7
        CourseMark(D("1.0"), D("58.25")),  # F, 0.0
        CourseMark(D("2.0"), None),  # no counted work: left out
    ]
    average, gpa = grading.overall(courses)
    # (95 + 0.5*81.5 + 58.25) / 2.5 = 194.0 / 2.5 = 77.60
    assert average == D("77.60")
    # (4.0 + 0.5*2.7 + 0.0) / 2.5 = 5.35 / 2.5 = 2.14
    assert gpa == D("2.14")


def test_overall_rounds_half_up() -> None:
    # (90 + 85.01) / 2 = 87.505 -> 87.51; GPA (3.7 + 3.0) / 2 = 3.35
    assert grading.overall([CourseMark(D(1), D("90.00")), CourseMark(D(1), D("85.01"))]) == (
        D("87.51"),
        D("3.35"),
    )


def test_overall_is_none_without_marks() -> None:
    assert grading.overall([]) == (None, None)
    assert grading.overall([CourseMark(D(1), None)]) == (None, None)


def test_attendance_rate_counts_late_as_present_and_leaves_excused_out() -> None:
    # (17 + 2) / (17 + 2 + 1) = 95%
    assert grading.attendance_rate(present=17, late=2, absent=1) == D("95.00")
    # 2 / 3 = 66.666..%
    assert grading.attendance_rate(present=2, late=0, absent=1) == D("66.67")
    assert grading.attendance_rate(0, 0, 0) is None


def test_completion_rate() -> None:
    # (5 graded + 2 late) / (5 + 2 + 1 missing) = 87.5%
    assert grading.completion_rate(graded=5, late=2, missing=1) == D("87.50")
    assert grading.completion_rate(0, 0, 3) == D("0.00")
    assert grading.completion_rate(0, 0, 0) is None


def test_trend_needs_both_periods() -> None:
    assert grading.trend(D("80.00"), D("91.25")) == D("-11.25")
    assert grading.trend(D("80.00"), None) is None
    assert grading.trend(None, D("80.00")) is None


def test_previous_period_is_equally_long_and_just_before() -> None:
    # 2026-09-01..2026-09-30 is 30 days; the 30 days before end on 08-31.
    assert grading.previous_period(dt.date(2026, 9, 1), dt.date(2026, 9, 30)) == (
        dt.date(2026, 8, 2),
        dt.date(2026, 8, 31),
    )
    assert grading.previous_period(dt.date(2026, 9, 1), dt.date(2026, 9, 1)) == (
        dt.date(2026, 8, 31),
        dt.date(2026, 8, 31),
    )


def test_flags_at_their_thresholds() -> None:
    quiet = grading.flags(
        attendance=D("90.00"),
        course_averages=[(1, "Algebra", D("60.00"))],
        missing=2,
        trend_value=D("-9.99"),
    )
    assert quiet == []
    raised = grading.flags(
        attendance=D("89.99"),
        course_averages=[(1, "Algebra", D("59.99")), (2, "Art", None), (3, "Biology", D("75"))],
        missing=3,
        trend_value=D("-10.00"),
    )
    assert [(flag.code, flag.course_id) for flag in raised] == [
        ("attendance_below_90", None),
        ("failing_course", 1),
        ("missing_work", None),
        ("declining", None),
    ]
    assert "Algebra" in raised[1].message and "59.99" in raised[1].message


def test_no_flags_without_data() -> None:
    assert grading.flags(attendance=None, course_averages=[], missing=0, trend_value=None) == []


def test_weekly_averages_run_from_the_start() -> None:
    monday = dt.date(2026, 9, 7)
    works = [
        Work(1, monday + dt.timedelta(days=1), D(1), "graded", D(80)),  # week 1
        Work(2, monday + dt.timedelta(days=9), D(1), "graded", D(60)),  # week 2
        Work(1, monday + dt.timedelta(days=10), D(1), "missing", D(0)),  # week 2
    ]
    credits = {1: D("1.0"), 2: D("0.5")}
    points = grading.weekly_averages(works, credits, monday, monday + dt.timedelta(days=20))
    assert [day for day, _ in points] == [
        monday,
        monday + dt.timedelta(days=7),
        monday + dt.timedelta(days=14),
    ]
    # Week 1: course 1 = 80 -> 80.00.
    # Week 2: course 1 = (80 + 0)/2 = 40, course 2 = 60: (40*1 + 60*0.5)/1.5 = 70/1.5 = 46.67
    assert [value for _, value in points] == [D("80.00"), D("46.67"), D("46.67")]


def test_weekly_averages_are_none_until_work_counts() -> None:
    start = dt.date(2026, 9, 9)  # a Wednesday: the first point is its week's Monday
    points = grading.weekly_averages([], {}, start, start + dt.timedelta(days=3))
    assert points == [(dt.date(2026, 9, 7), None)]


def test_weekly_averages_end_on_the_overall_average() -> None:
    # The last point covers all the work, so it is the period's overall average.
    start = dt.date(2026, 9, 1)
    works = [
        Work(course, start + dt.timedelta(days=day), D(weight), status, percent)
        for course, day, weight, status, percent in [
            (1, 0, "2", "graded", D("91.5")),
            (2, 3, "1", "late", D("70")),
            (1, 9, "1", "missing", D("0")),
            (3, 12, "0", "graded", D("88")),  # zero weight: course 3 has no average
            (2, 20, "1", "excused", None),
            (1, 27, "3", "graded", D("104.25")),
        ]
    ]
    credits = {1: D("1.0"), 2: D("0.5"), 3: D("1.0")}
    points = grading.weekly_averages(works, credits, start, start + dt.timedelta(days=29))
    assert points[-1][1] == grading.overall_of_works(works, credits)
    # Course 1: (2x91.5 + 0 + 3x104.25) / 6 = 495.75 / 6 = 82.625 -> 82.63;
    # course 2: 70.00; overall (82.63 + 0.5x70) / 1.5 = 117.63 / 1.5 = 78.42.
    assert points[-1][1] == D("78.42")
