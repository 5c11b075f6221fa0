"""Every table, imported in one place so the metadata (and Alembic) sees them all."""

from markbook.audit import AuditEvent
from markbook.auth.models import ApiToken, Role, User
from markbook.db import Base
from markbook.jobs.models import ExportJob, ExportJobPart, JobKind, JobStatus
from markbook.records import versioning  # noqa: F401  (registers the data_version hook)
from markbook.records.models import (
    AnalyticsData,
    Assignment,
    Attendance,
    AttendanceStatus,
    Course,
    Enrollment,
    Grade,
    GradeStatus,
    Guardianship,
    Student,
    StudentReport,
    TeacherWeeklyReport,
    TutorAssignment,
    TutorWeeklyReport,
)

__all__ = [
    "AnalyticsData",
    "ApiToken",
    "Assignment",
    "Attendance",
    "AttendanceStatus",
    "AuditEvent",
    "Base",
    "Course",
    "Enrollment",
    "ExportJob",
    "ExportJobPart",
    "Grade",
    "GradeStatus",
    "Guardianship",
    "JobKind",
    "JobStatus",
    "Role",
    "Student",
    "StudentReport",
    "TeacherWeeklyReport",
    "TutorAssignment",
    "TutorWeeklyReport",
    "User",
]
