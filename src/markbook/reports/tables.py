"""The performance report as tables: the CSV and XLSX downloads.

Both are views of one :class:`PerformanceReport` through the shared export
writers. Each section's columns are declared once below and serve both formats:
a CSV file holds the sections one after another, a workbook has one sheet each.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from markbook.exports.writers import Column, CsvWriter, Kind, XlsxWorkbook
from markbook.reports.model import (
    Comment,
    PerformanceReport,
    StudentReportComment,
    TeacherWeeklyComment,
)

__all__ = ["SECTIONS", "Section", "render_csv", "render_xlsx"]

Row = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Section:
    title: str  # the CSV section title and the sheet name
    columns: tuple[Column, ...]
    rows: Callable[[PerformanceReport], Iterator[Row]]


def render_csv(report: PerformanceReport, *, bom: bool = False) -> bytes:
    """Every section in one UTF-8 CSV file; ``bom`` for Excel, which needs it to read UTF-8."""
    sink = io.BytesIO()
    with CsvWriter(sink, encoding="utf-8-sig" if bom else "utf-8") as writer:
        for section in SECTIONS:
            writer.write_section(section.title, section.columns, section.rows(report))
    return sink.getvalue()


def render_xlsx(report: PerformanceReport) -> bytes:
    """A workbook with a sheet per section and a chart of the course averages."""
    sink = io.BytesIO()
    student, period = report.student, report.period
    with XlsxWorkbook(
        sink,
        title=f"Performance report: {student.name}, {period.start} to {period.end}",
        # The report's own time, so one report always gives the same bytes.
        created=report.generated_at,
    ) as workbook:
        sheets = {
            section.title: workbook.add_sheet(section.title, section.columns, section.rows(report))
            for section in SECTIONS
        }
        if any(course.average is not None for course in report.courses):
            workbook.add_column_chart(
                sheets["Summary"],
                source=sheets["Courses"],
                categories="course",
                values="average",
                title="Course averages",
            )
    return sink.getvalue()


# Summary: one field per row reads better than a row of twenty-odd columns; the
# value column takes each value's own kind, so figures stay numbers and dates dates.
SUMMARY_COLUMNS = (Column("field", "Field", Kind.TEXT), Column("value", "Value", Kind.MIXED))


def _summary_rows(report: PerformanceReport) -> Iterator[Row]:
    student, summary = report.student, report.summary
    work, days = summary.assignments, summary.attendance
    yield from (
        ("Student", student.name),
        ("SIS id", student.external_id),
        ("Grade level", student.grade_level),
        ("Period start", report.period.start),
        ("Period end", report.period.end),
        ("Overall average", summary.overall_average),
        ("Letter", summary.letter),
        ("GPA", summary.gpa),
        ("Attendance rate (%)", summary.attendance_rate),
        ("Completion rate (%)", summary.completion_rate),
        ("Trend (points)", summary.trend),
        ("Assignments counted", work.counted),
        ("Assignments graded", work.graded),
        ("Assignments late", work.late),
        ("Assignments missing", work.missing),
        ("Assignments excused", work.excused),
        ("Assignments pending", work.pending),
        ("Days present", days.present),
        ("Days late", days.late),
        ("Days absent", days.absent),
        ("Days excused", days.excused),
    )
    for flag in summary.flags:
        yield ("Flag", flag.message)
    yield ("Generated at (UTC)", report.generated_at)


COURSE_COLUMNS = (
    Column("course", "Course", Kind.TEXT),
    Column("subject", "Subject", Kind.TEXT),
    Column("term", "Term", Kind.TEXT),
    Column("teacher", "Teacher", Kind.TEXT),
    Column("credits", "Credits", Kind.DECIMAL),
    Column("average", "Average", Kind.DECIMAL),
    Column("letter", "Letter", Kind.TEXT),
    Column("grade_points", "Grade points", Kind.DECIMAL),
    Column("attendance_rate", "Attendance rate (%)", Kind.DECIMAL),
    Column("counted", "Counted", Kind.INTEGER),
    Column("graded", "Graded", Kind.INTEGER),
    Column("late", "Late", Kind.INTEGER),
    Column("missing", "Missing", Kind.INTEGER),
    Column("excused", "Excused", Kind.INTEGER),
    Column("pending", "Pending", Kind.INTEGER),
)


def _course_rows(report: PerformanceReport) -> Iterator[Row]:
    for course in report.courses:
        work = course.assignments
        yield (
            course.name,
            course.subject,
            course.term,
            course.teacher,
            course.credits,
            course.average,
            course.letter,
            course.grade_points,
            course.attendance_rate,
            work.counted,
            work.graded,
            work.late,
            work.missing,
            work.excused,
            work.pending,
        )


ASSIGNMENT_COLUMNS = (
    Column("course", "Course", Kind.TEXT),
    Column("title", "Title", Kind.TEXT),
    Column("category", "Category", Kind.TEXT),
    Column("due_date", "Due date", Kind.DATE),
    Column("status", "Status", Kind.TEXT),
    Column("score", "Score", Kind.DECIMAL),
    Column("max_points", "Max points", Kind.DECIMAL),
    Column("percent", "Percent", Kind.DECIMAL),
    # Weights have three places (0.125): shown as they are, not rounded to two.
    Column("weight", "Weight", Kind.FLOAT),
)


def _assignment_rows(report: PerformanceReport) -> Iterator[Row]:
    for line in report.assignments:
        yield (
            line.course,
            line.title,
            line.category,
            line.due_date,
            line.status,
            line.score,
            line.max_points,
            line.percent,
            line.weight,
        )


ATTENDANCE_COLUMNS = (
    Column("date", "Date", Kind.DATE),
    Column("course", "Course", Kind.TEXT),
    Column("status", "Status", Kind.TEXT),
)


def _attendance_rows(report: PerformanceReport) -> Iterator[Row]:
    for record in report.attendance_records:
        yield (record.date, record.course, record.status)


ANALYTICS_COLUMNS = (
    Column("metric_type", "Metric", Kind.TEXT),
    Column("count", "Count", Kind.INTEGER),
    Column("mean", "Mean", Kind.DECIMAL),
    Column("min", "Min", Kind.FLOAT),
    Column("max", "Max", Kind.FLOAT),
    Column("latest", "Latest", Kind.FLOAT),
    Column("latest_at", "Latest at (UTC)", Kind.DATETIME),
)


def _analytics_rows(report: PerformanceReport) -> Iterator[Row]:
    for metric in report.analytics:
        yield (
            metric.metric_type,
            metric.count,
            metric.mean,
            metric.min,
            metric.max,
            metric.latest,
            metric.latest_at,
        )


# The three kinds of comment share the first columns; each fills the text
# columns it has and leaves the others empty.
COMMENT_COLUMNS = (
    Column("kind", "Kind", Kind.TEXT),
    Column("author", "Author", Kind.TEXT),
    Column("date", "Date", Kind.DATE),
    Column("course", "Course", Kind.TEXT),
    Column("summary", "Summary", Kind.TEXT),
    Column("strengths", "Strengths", Kind.TEXT),
    Column("concerns", "Concerns", Kind.TEXT),
    Column("recommendations", "Recommendations", Kind.TEXT),
    Column("behaviour", "Behaviour", Kind.TEXT),
    Column("next_steps", "Next steps", Kind.TEXT),
    Column("notes", "Notes", Kind.TEXT),
    Column("homework_completion", "Homework completion (%)", Kind.DECIMAL),
    Column("hours", "Hours", Kind.DECIMAL),
    Column("progress_rating", "Progress rating", Kind.INTEGER),
    Column("period_start", "Period start", Kind.DATE),
    Column("period_end", "Period end", Kind.DATE),
)
COMMENT_KINDS = {
    "student_report": "Student report",
    "teacher_weekly": "Teacher weekly",
    "tutor_weekly": "Tutor weekly",
}


def _comment_rows(report: PerformanceReport) -> Iterator[Row]:
    for comment in report.comments:
        fields = {"kind": COMMENT_KINDS[comment.kind], **_comment_fields(comment)}
        yield tuple(fields.get(column.name) for column in COMMENT_COLUMNS)


def _comment_fields(comment: Comment) -> dict[str, object]:
    common = {"author": comment.author, "date": comment.date}
    if isinstance(comment, StudentReportComment):
        return {
            **common,
            "summary": comment.summary,
            "strengths": comment.strengths,
            "concerns": comment.concerns,
            "recommendations": comment.recommendations,
            "period_start": comment.period_start,
            "period_end": comment.period_end,
        }
    if isinstance(comment, TeacherWeeklyComment):
        return {
            **common,
            "course": comment.course,
            "summary": comment.progress_summary,
            "behaviour": comment.behaviour,
            "next_steps": comment.next_steps,
            "homework_completion": comment.homework_completion,
        }
    return {
        **common,
        "summary": comment.topics,
        "notes": comment.notes,
        "hours": comment.hours,
        "progress_rating": comment.progress_rating,
    }


SECTIONS: tuple[Section, ...] = (
    Section("Summary", SUMMARY_COLUMNS, _summary_rows),
    Section("Courses", COURSE_COLUMNS, _course_rows),
    Section("Assignments", ASSIGNMENT_COLUMNS, _assignment_rows),
    Section("Attendance", ATTENDANCE_COLUMNS, _attendance_rows),
    Section("Analytics", ANALYTICS_COLUMNS, _analytics_rows),
    Section("Comments", COMMENT_COLUMNS, _comment_rows),
)
