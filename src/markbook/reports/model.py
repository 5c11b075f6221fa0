"""The student performance report: one typed object, every output a view of it.

The JSON answer is this model serialised; the PDF, CSV and XLSX documents and the
web page read the same object. Field names are the public JSON shape.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from markbook.reports import grading
from markbook.schemas import JsonDecimal

# Bump when the shape or the figures of a report change: cached reports of an older
# format are then never served.
REPORT_FORMAT_VERSION = 1


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True)


AssignmentStatus = Literal["graded", "late", "missing", "excused", "pending"]
AbsenceStatus = Literal["late", "absent", "excused"]


class StudentInfo(_Part):
    id: int
    external_id: str
    name: str
    grade_level: int
    email: str | None


class Period(_Part):
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class AssignmentCounts(_Part):
    counted: int = 0
    graded: int = 0
    late: int = 0
    missing: int = 0
    excused: int = 0
    pending: int = 0


class AttendanceCounts(_Part):
    present: int = 0
    late: int = 0
    absent: int = 0
    excused: int = 0


FlagCode = Literal["attendance_below_90", "failing_course", "missing_work", "declining"]


class Flag(_Part):
    code: FlagCode
    message: str
    course_id: int | None = None


class Summary(_Part):
    overall_average: JsonDecimal | None
    letter: str | None
    gpa: JsonDecimal | None
    attendance_rate: JsonDecimal | None
    completion_rate: JsonDecimal | None
    trend: JsonDecimal | None
    assignments: AssignmentCounts
    attendance: AttendanceCounts
    flags: list[Flag]


class CourseLine(_Part):
    id: int
    name: str
    subject: str
    term: str
    teacher: str
    credits: JsonDecimal
    average: JsonDecimal | None
    letter: str | None
    grade_points: JsonDecimal | None
    attendance_rate: JsonDecimal | None
    assignments: AssignmentCounts


class AssignmentLine(_Part):
    id: int
    course_id: int
    course: str
    title: str
    category: str
    due_date: dt.date
    max_points: JsonDecimal
    weight: JsonDecimal
    score: JsonDecimal | None
    percent: JsonDecimal | None  # rounded to 2 places; null when excused or pending
    status: AssignmentStatus


class AttendanceRecord(_Part):
    date: dt.date
    course_id: int
    course: str
    status: AbsenceStatus


class MetricSummary(_Part):
    metric_type: str
    count: int
    mean: JsonDecimal
    min: float
    max: float
    latest: float
    latest_at: dt.datetime


class StudentReportComment(_Part):
    kind: Literal["student_report"] = "student_report"
    author: str
    date: dt.date  # the end of the period it covers
    period_start: dt.date
    period_end: dt.date
    summary: str
    strengths: str | None
    concerns: str | None
    recommendations: str | None


class TeacherWeeklyComment(_Part):
    kind: Literal["teacher_weekly"] = "teacher_weekly"
    author: str
    date: dt.date  # the week's Monday
    course_id: int
    course: str
    progress_summary: str
    homework_completion: JsonDecimal | None
    behaviour: str | None
    next_steps: str | None


class TutorWeeklyComment(_Part):
    kind: Literal["tutor_weekly"] = "tutor_weekly"
    author: str
    date: dt.date  # the week's Monday
    topics: str
    hours: JsonDecimal
    progress_rating: int
    notes: str | None


Comment = Annotated[
    StudentReportComment | TeacherWeeklyComment | TutorWeeklyComment,
    Field(discriminator="kind"),
]


class PerformanceReport(_Part):
    student: StudentInfo
    period: Period
    summary: Summary
    courses: list[CourseLine]
    assignments: list[AssignmentLine]
    attendance_records: list[AttendanceRecord]
    analytics: list[MetricSummary]
    comments: list[Comment]
    generated_at: dt.datetime
    data_version: int


def decimal_or_none(value: float | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def weekly_averages(report: PerformanceReport) -> list[tuple[dt.date, Decimal | None]]:
    """The running overall average at the end of each week of the report's period.

    Rebuilt from the report's own assignment lines (exact scores, not the rounded
    percents), so every view of one report draws the same line.
    """
    credits = {course.id: course.credits for course in report.courses}
    works = [
        grading.Work(
            course_id=line.course_id,
            due_date=line.due_date,
            weight=line.weight,
            status=line.status,
            percent=grading.assignment_percent(line.status, line.score, line.max_points),
        )
        for line in report.assignments
        if line.course_id in credits
    ]
    return grading.weekly_averages(works, credits, report.period.start, report.period.end)
