"""Students, courses, and batch writes of grades, attendance and analytics."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from markbook.audit import AuditAction, Channel, record_access
from markbook.deps import ClientIP, CurrentUser, SessionDep, SettingsDep
from markbook.errors import API_ERRORS, BATCH_ERRORS
from markbook.records import service, writes
from markbook.records.models import MAX_GRADE_LEVEL, MIN_GRADE_LEVEL, Student
from markbook.schemas import NO_NUL, JsonDecimal, Page, PathId, QueryId, Schema

router = APIRouter(prefix="/api/v1", tags=["records"], responses=API_ERRORS)

PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE, description="Items per page.")]


class StudentOut(Schema):
    id: int
    external_id: str
    name: str
    email: str | None
    grade_level: int
    data_version: int


class EnrollmentOut(Schema):
    course_id: int
    course_name: str
    subject: str
    term: str
    start_date: dt.date
    end_date: dt.date | None


class StudentDetail(StudentOut):
    enrollments: list[EnrollmentOut]


class TeacherOut(Schema):
    id: int
    name: str


class CourseOut(Schema):
    id: int
    external_id: str | None
    name: str
    subject: str
    term: str
    teacher: TeacherOut
    credits: JsonDecimal
    start_date: dt.date
    end_date: dt.date
    student_count: int


class RosterEntry(Schema):
    id: int
    external_id: str
    name: str
    grade_level: int


class CourseDetail(CourseOut):
    assignment_count: int
    students: list[RosterEntry]


class BatchOut(Schema):
    written: int
    created: int
    updated: int
    students: int


def _course_out(view: service.CourseView) -> CourseOut:
    course = view.course
    return CourseOut(
        id=course.id,
        external_id=course.external_id,
        name=course.name,
        subject=course.subject,
        term=course.term,
        teacher=TeacherOut(id=course.teacher_id, name=view.teacher_name),
        credits=course.credits,
        start_date=course.start_date,
        end_date=course.end_date,
        student_count=view.student_count,
    )


@router.get("/students", response_model=Page[StudentOut])
def list_students(
    user: CurrentUser,
    session: SessionDep,
    ip: ClientIP,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL, description="Part of a name, or an exact SIS id."),
    ] = None,
    course_id: Annotated[QueryId, Query(description="Only students enrolled in it.")] = None,
    grade_level: Annotated[int | None, Query(ge=MIN_GRADE_LEVEL, le=MAX_GRADE_LEVEL)] = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[StudentOut]:
    """Search the students you may see by name or SIS id, filtered and paginated."""
    students, total = service.search_students(
        session,
        user,
        q=q,
        course_id=course_id,
        grade_level=grade_level,
        page=service.PageRequest(page, per_page),
    )
    record_access(
        session,
        user,
        AuditAction.read,
        Channel.api,
        "student_list",
        [student.id for student in students],
        ip=ip,
    )
    return Page[StudentOut](
        items=[StudentOut.model_validate(s) for s in students],
        total=total,
        page=page,
        per_page=per_page,
    )


@router.get("/students/{student_id}", response_model=StudentDetail)
def get_student(
    student_id: PathId, user: CurrentUser, session: SessionDep, ip: ClientIP
) -> StudentDetail:
    """One student you may see, with the enrollments you may see."""
    student, enrollments = service.student_detail(session, user, student_id)
    record_access(session, user, AuditAction.read, Channel.api, "student", [student.id], ip=ip)
    return StudentDetail(
        **StudentOut.model_validate(student).model_dump(),
        enrollments=[EnrollmentOut.model_validate(e) for e in enrollments],
    )


@router.get("/courses", response_model=Page[CourseOut])
def list_courses(
    user: CurrentUser,
    session: SessionDep,
    term: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    subject: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    teacher_id: QueryId = None,
    page: PageNumber = 1,
    per_page: PerPage = 50,
) -> Page[CourseOut]:
    """The courses you may see: all (admin), yours (teacher), your students' (others)."""
    views, total = service.search_courses(
        session,
        user,
        term=term,
        subject=subject,
        teacher_id=teacher_id,
        page=service.PageRequest(page, per_page),
    )
    return Page[CourseOut](
        items=[_course_out(view) for view in views], total=total, page=page, per_page=per_page
    )


@router.get("/courses/{course_id}", response_model=CourseDetail)
def get_course(
    course_id: PathId, user: CurrentUser, session: SessionDep, ip: ClientIP
) -> CourseDetail:
    """One course you may see, with its students that you may see."""
    view, roster, assignment_count = service.course_detail(session, user, course_id)
    record_access(
        session,
        user,
        AuditAction.read,
        Channel.api,
        "course_roster",
        [student.id for student in roster],
        ip=ip,
        detail={"course_id": course_id},
    )
    return CourseDetail(
        **_course_out(view).model_dump(),
        assignment_count=assignment_count,
        students=[_roster_entry(student) for student in roster],
    )


def _roster_entry(student: Student) -> RosterEntry:
    return RosterEntry.model_validate(student)


@router.post("/grades", response_model=BatchOut, responses=BATCH_ERRORS)
def post_grades(
    body: writes.GradeBatch, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> writes.BatchResult:
    """Insert or update a batch of grades, all or none (admins and the course's teacher)."""
    return writes.write_grades(session, user, body.grades, settings.max_batch_rows)


@router.post("/attendance", response_model=BatchOut, responses=BATCH_ERRORS)
def post_attendance(
    body: writes.AttendanceBatch, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> writes.BatchResult:
    """Insert or update a batch of attendance marks, all or none."""
    return writes.write_attendance(session, user, body.records, settings.max_batch_rows)


@router.post("/analytics", response_model=BatchOut, responses=BATCH_ERRORS)
def post_analytics(
    body: writes.AnalyticsBatch, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> writes.BatchResult:
    """Append a batch of analytics measurements, all or none."""
    return writes.write_analytics(session, user, body.records, settings.max_batch_rows)
