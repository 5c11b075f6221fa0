"""A hand-built performance report for testing the documents without a database.

Awkward on purpose: names in four scripts, texts that look like spreadsheet
formulas, quotes, newlines and tabs, extra credit, every status, enough
assignments to span pages.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from markbook.reports import grading
from markbook.reports.model import (
    AssignmentCounts,
    AssignmentLine,
    AttendanceCounts,
    AttendanceRecord,
    CourseLine,
    Flag,
    MetricSummary,
    PerformanceReport,
    Period,
    StudentInfo,
    StudentReportComment,
    Summary,
    TeacherWeeklyComment,
    TutorWeeklyComment,
)

D = Decimal
START = dt.date(2026, 8, 24)
END = dt.date(2027, 1, 15)

COURSES = [
    # id, name, subject, teacher, credits
    (11, "Algebra II", "Mathematics", "Γιώργος Παπαδόπουλος", D("1.00")),
    (12, "=SUM(A1:A3) Lab", "Science", "Анна Иванова", D("0.50")),
    (13, "Chinese 中文 I", "Languages", "李雷", D("1.00")),
]
STATUSES = ["graded", "late", "missing", "excused", "pending", "graded", "graded"]


def sample_assignments(per_course: int = 24) -> list[AssignmentLine]:
    lines: list[AssignmentLine] = []
    next_id = 1000
    for course_id, course, _subject, _teacher, _credits in COURSES:
        for index in range(per_course):
            status = STATUSES[index % len(STATUSES)]
            max_points = D(20) if index % 3 else D(50)
            score: Decimal | None
            if status in ("graded", "late"):
                # Some extra credit above 100%.
                score = max_points * D(index % 5 + 6) / D(10) + (D(3) if index == 5 else D(0))
            elif status == "missing":
                score = None
            else:
                score = None
            percent = grading.assignment_percent(status, score, max_points)
            lines.append(
                AssignmentLine(
                    id=next_id,
                    course_id=course_id,
                    course=course,
                    title=(
                        "-5 points for lateness"
                        if index == 2
                        else "@home reading log"
                        if index == 3
                        else 'Essay: "What I did", part 2\nwith a second line'
                        if index == 4
                        else f"Homework {index + 1}"
                    ),
                    category="homework" if index % 4 else "quiz",
                    due_date=START + dt.timedelta(days=3 + index * 6),
                    max_points=max_points,
                    weight=D("1.000") if index % 4 else D("2.000"),
                    score=score,
                    percent=None if percent is None else grading.round2(percent),
                    status=status,  # type: ignore[arg-type]
                )
            )
            next_id += 1
    return lines


def sample_report() -> PerformanceReport:
    assignments = sample_assignments()
    courses = []
    for course_id, name, subject, teacher, credits in COURSES:
        mine = [line for line in assignments if line.course_id == course_id]
        works = [
            grading.Work(
                course_id,
                line.due_date,
                line.weight,
                line.status,
                grading.assignment_percent(line.status, line.score, line.max_points),
            )
            for line in mine
        ]
        average = grading.course_average(works)
        letter, points = grading.letter_for(average) if average is not None else (None, None)
        counts = AssignmentCounts(
            counted=sum(1 for work in works if work.counted),
            graded=sum(1 for line in mine if line.status == "graded"),
            late=sum(1 for line in mine if line.status == "late"),
            missing=sum(1 for line in mine if line.status == "missing"),
            excused=sum(1 for line in mine if line.status == "excused"),
            pending=sum(1 for line in mine if line.status == "pending"),
        )
        courses.append(
            CourseLine(
                id=course_id,
                name=name,
                subject=subject,
                term="2026-27 Fall",
                teacher=teacher,
                credits=credits,
                average=average,
                letter=letter,
                grade_points=points,
                attendance_rate=D("91.50"),
                assignments=counts,
            )
        )
    overall, gpa = grading.overall([grading.CourseMark(c.credits, c.average) for c in courses])
    totals = AssignmentCounts(
        **{
            field: sum(getattr(course.assignments, field) for course in courses)
            for field in AssignmentCounts.model_fields
        }
    )
    return PerformanceReport(
        student=StudentInfo(
            id=7,
            external_id="S-0007",
            name="李雷 Анна Γιώργος José Núñez",
            grade_level=10,
            email="student@example.org",
        ),
        period=Period(start=START, end=END),
        summary=Summary(
            overall_average=overall,
            letter=grading.letter_for(overall)[0] if overall is not None else None,
            gpa=gpa,
            attendance_rate=D("88.24"),
            completion_rate=grading.completion_rate(totals.graded, totals.late, totals.missing),
            trend=D("-12.50"),
            assignments=totals,
            attendance=AttendanceCounts(present=140, late=10, absent=20, excused=4),
            flags=[
                Flag(code="attendance_below_90", message="Attendance is 88.24%, below 90%."),
                Flag(
                    code="failing_course",
                    message="=SUM(A1:A3) Lab: average 55.00, below 60 (F).",
                    course_id=12,
                ),
                Flag(code="missing_work", message="9 assignments are missing."),
                Flag(
                    code="declining",
                    message="The average fell 12.50 points from the period before.",
                ),
            ],
        ),
        courses=courses,
        assignments=assignments,
        attendance_records=[
            AttendanceRecord(
                date=START + dt.timedelta(days=7 * i + 1),
                course_id=COURSES[i % 3][0],
                course=COURSES[i % 3][1],
                status=("absent", "late", "excused")[i % 3],
            )
            for i in range(34)
        ],
        analytics=[
            MetricSummary(
                metric_type="time_on_task_minutes",
                count=40,
                mean=D("31.25"),
                min=5.0,
                max=88.5,
                latest=30.0,
                latest_at=dt.datetime(2027, 1, 14, 15, 30, tzinfo=dt.UTC),
            ),
            MetricSummary(
                metric_type="quiz_score",
                count=12,
                mean=D("-0.50"),
                min=-5.0,
                max=4.0,
                latest=-5.0,
                latest_at=dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC),
            ),
        ],
        comments=[
            StudentReportComment(
                author="Γιώργος Παπαδόπουλος",
                date=dt.date(2026, 10, 30),
                period_start=START,
                period_end=dt.date(2026, 10, 30),
                summary='=HYPERLINK("http://x") works hard.\nSecond line.',
                strengths="+1 555 0100 calls home",
                concerns=None,
                recommendations="Read 20 minutes a day.\tTabbed.",
            ),
            TeacherWeeklyComment(
                author="Анна Иванова",
                date=dt.date(2026, 9, 7),
                course_id=12,
                course="=SUM(A1:A3) Lab",
                progress_summary="李雷 made good progress.",
                homework_completion=D("87.50"),
                behaviour="Calm",
                next_steps=None,
            ),
            TutorWeeklyComment(
                author="Siobhán O'Brien",
                date=dt.date(2026, 9, 14),
                topics='Fractions; "word problems"',
                hours=D("1.50"),
                progress_rating=4,
                notes="-5 points for lateness discussed",
            ),
        ],
        generated_at=dt.datetime(2027, 1, 16, 8, 0, tzinfo=dt.UTC),
        data_version=42,
    )
