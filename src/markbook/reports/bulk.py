"""Report cards for many students at once: who is in the batch, each student's card,
and the file that holds them all.

A ``report_cards`` job (markbook.jobs) runs in three steps, and this module is each:

1. :func:`select_students`: the students the request names (by ids, a course or a
   grade level) that the caller may see, in output order, and the period;
2. :func:`render_part`: a slice of those students rendered into one *part file*
   (parts run in parallel, on any worker);
3. :func:`assemble`: the parts, in order, made into the final file (pdf-zip, pdf,
   xlsx or csv).

The synchronous route (``POST /api/v1/reports/bulk/student-performance``, at most
:data:`MAX_SYNC_STUDENTS` students) calls :func:`student_figures`.

Every figure is read off the :class:`PerformanceReport` that
:func:`performance_report` builds, exactly as for one student. A student whose card
fails does not fail the batch: it becomes a :class:`Failure` with a sentence, counted
and listed in the answer and in the file. An id the caller may not see fails with the
same sentence as an id that does not exist.

A part file is a zip (stored, not compressed: PDFs are compressed already) holding
``rows.json``, one entry per student in order (the student's :class:`CardRow` or
:class:`Failure`, and the name of the student's PDF in the part), and the PDFs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import io
import logging
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from markbook.auth.models import User
from markbook.auth.scope import student_filter, visible_course
from markbook.downloads import file_name
from markbook.errors import CourseNotFound, InvalidInput
from markbook.exports.writers import Column, CsvWriter, Kind, XlsxWorkbook
from markbook.records.models import MAX_GRADE_LEVEL, MIN_GRADE_LEVEL, Course, Enrollment, Student
from markbook.reports.model import Flag, PerformanceReport, Period
from markbook.reports.performance import (
    ReportScope,
    performance_report,
    resolve_period,
    scope_for,
)
from markbook.schemas import Id, Schema

log = logging.getLogger(__name__)

# Most students one synchronous request may name; more go to a report_cards job.
MAX_SYNC_STUDENTS = 50
# Most student ids one report_cards request may list (settings may set a lower cap).
MAX_JOB_STUDENTS = 20_000
# Ids per IN (...) list: well under SQLite's 32,766 bound parameters.
_IN_CHUNK = 5_000

ROWS_MEMBER = "rows.json"
SUMMARY_MEMBER = "summary.csv"
FAILURES_TITLE = "Failed students"


class CardFormat(enum.StrEnum):
    pdf_zip = "pdf-zip"  # one PDF per student and summary.csv, in a zip
    pdf = "pdf"  # one PDF, a bookmark per student
    xlsx = "xlsx"  # Summary and Failures sheets
    csv = "csv"  # the summary rows, then the failed students

    @property
    def has_pdfs(self) -> bool:
        return self in (CardFormat.pdf_zip, CardFormat.pdf)


class ReportCardsRequest(Schema):
    """What a report_cards job makes: whose cards, over which period, in which file."""

    model_config = ConfigDict(extra="forbid")

    student_ids: list[Id] | None = Field(
        None,
        min_length=1,
        max_length=MAX_JOB_STUDENTS,
        description="These students, in this order (duplicates are dropped).",
    )
    course_id: Id | None = Field(None, description="The students enrolled in this course.")
    grade_level: int | None = Field(
        None,
        ge=MIN_GRADE_LEVEL,
        le=MAX_GRADE_LEVEL,
        description="Every student of this grade level you may see.",
    )
    start: dt.date | None = Field(None, description="First day (inclusive); default: term.")
    end: dt.date | None = Field(None, description="Last day (inclusive); default: term.")
    format: CardFormat = CardFormat.pdf_zip

    @model_validator(mode="after")
    def _one_selection(self) -> ReportCardsRequest:
        given = [self.student_ids, self.course_id, self.grade_level]
        if sum(value is not None for value in given) != 1:
            raise PydanticCustomError(
                "one_selection",
                "give exactly one of student_ids, course_id or grade_level to say whose "
                "report cards to make",
            )
        return self


@dataclass
class Failure:
    """A student without a card, and why (a sentence)."""

    student: str  # the reference as requested, or the student's id
    student_id: int | None  # None when unknown or not visible: never say which
    name: str | None
    reason: str


@dataclass
class Selection:
    student_ids: list[int]  # the students to render, in output order
    failures: list[Failure]  # ids that are unknown or not visible
    period: Period


@dataclass
class Assembled:
    succeeded: int
    failures: list[Failure]
    # The students whose cards are in the file, for the audit trail. Not "selected
    # minus failed": a failure's student_id is None when the student is not visible.
    student_ids: list[int] = field(default_factory=list)


class CardRow(BaseModel):
    """A student's key figures: one row of every summary (JSON, CSV, XLSX)."""

    model_config = ConfigDict(frozen=True)

    student_id: int
    external_id: str
    name: str
    grade_level: int
    average: Decimal | None
    letter: str | None
    gpa: Decimal | None
    attendance_rate: Decimal | None
    completion_rate: Decimal | None
    courses: int
    flags: list[Flag]


def card_row(report: PerformanceReport) -> CardRow:
    """The key figures of a report, as the report states them."""
    student, summary = report.student, report.summary
    return CardRow(
        student_id=student.id,
        external_id=student.external_id,
        name=student.name,
        grade_level=student.grade_level,
        average=summary.overall_average,
        letter=summary.letter,
        gpa=summary.gpa,
        attendance_rate=summary.attendance_rate,
        completion_rate=summary.completion_rate,
        courses=len(report.courses),
        flags=list(summary.flags),
    )


def not_visible(reference: object) -> Failure:
    """The one answer for an id that does not exist and for one the caller may not see."""
    return Failure(str(reference), None, None, f"There is no student {reference} that you may see.")


# --- who is in the batch ------------------------------------------------------------


def select_students(
    session: Session, user: User | None, request: ReportCardsRequest, *, today: dt.date
) -> Selection:
    """The students ``request`` names that ``user`` may see (``None``: the operator, who
    sees everyone), in output order: as listed for ids, by name then id otherwise.

    A course the caller may not see fails the whole request (CourseNotFound); ids
    they may not see are failures of their own.
    """
    period = resolve_period(session, request.start, request.end, today)
    if request.student_ids is not None:
        ids, failures = _listed(session, user, request.student_ids)
        return Selection(ids, failures, period)
    if request.course_id is not None:
        _course(session, user, request.course_id)
        query = (
            select(Student.id, Student.name_search)
            .join(Enrollment, Enrollment.student_id == Student.id)
            .where(
                Enrollment.course_id == request.course_id,
                Enrollment.start_date <= period.end,
                (Enrollment.end_date.is_(None)) | (Enrollment.end_date >= period.start),
            )
            .distinct()
        )
    else:
        query = select(Student.id, Student.name_search).where(
            Student.grade_level == request.grade_level
        )
    rows = session.execute(query.where(_visible(user))).all()
    # Sorted here, not in SQL: PostgreSQL's collation and SQLite's would disagree on
    # the order of the same names. name_search is the name without accents or case.
    ordered = sorted(rows, key=lambda row: (row.name_search, row.id))
    return Selection([row.id for row in ordered], [], period)


def _visible(user: User | None) -> ColumnElement[bool]:
    return true() if user is None else student_filter(user, Student.id)


def _course(session: Session, user: User | None, course_id: int) -> None:
    if user is not None:
        visible_course(session, user, course_id)
    elif session.get(Course, course_id) is None:
        raise CourseNotFound(course_id)


def _listed(
    session: Session, user: User | None, requested: Iterable[int]
) -> tuple[list[int], list[Failure]]:
    """The listed ids the caller may see, in order and once each, and a failure for
    every other one."""
    ids = list(dict.fromkeys(requested))
    visible: set[int] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        query = select(Student.id).where(Student.id.in_(chunk), _visible(user))
        visible.update(session.execute(query).scalars())
    failures = [not_visible(student_id) for student_id in ids if student_id not in visible]
    return [student_id for student_id in ids if student_id in visible], failures


def _students(session: Session, user: User | None, ids: list[int]) -> dict[int, Student]:
    """The students of ``ids`` the caller may see, in one query per few thousand."""
    found: dict[int, Student] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        query = select(Student).where(Student.id.in_(chunk), _visible(user))
        found.update((student.id, student) for student in session.execute(query).scalars())
    return found


# --- one student's card -------------------------------------------------------------


@dataclass
class _Card:
    row: CardRow
    pdf: bytes | None


class _Builder:
    """Builds students' cards one after another; one that fails does not stop the rest."""

    def __init__(
        self,
        session: Session,
        scope: ReportScope,
        period: Period,
        *,
        pdf_school: str | None = None,
    ) -> None:
        self._session = session
        self._scope = scope
        self._period = period
        self._pdf_school = pdf_school
        # On PostgreSQL a failed statement aborts the whole transaction, and every
        # student after it would fail too; a savepoint per student confines it.
        # (SQLite does not abort, and pysqlite's savepoints are unreliable.)
        self._savepoints = session.get_bind().dialect.name == "postgresql"

    def card(self, student: Student) -> _Card | Failure:
        student_id, name = student.id, student.name
        try:
            with self._savepoint():
                report = performance_report(
                    self._session, student, self._period.start, self._period.end, scope=self._scope
                )
            pdf = None
            if self._pdf_school is not None:
                from markbook.reports.pdf import render_pdf  # ReportLab: imported when needed

                pdf = render_pdf(report, school_name=self._pdf_school)
            return _Card(card_row(report), pdf)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("report card of student %s failed (reference %s)", student_id, reference)
            return Failure(
                str(student_id),
                student_id,
                name,
                f"The student's report could not be made because of an error on our side "
                f"(reference {reference}); try again, or give the reference to your "
                "administrator.",
            )

    def _savepoint(self) -> contextlib.AbstractContextManager[object]:
        return self._session.begin_nested() if self._savepoints else contextlib.nullcontext()


# --- the synchronous route ----------------------------------------------------------


@dataclass
class Outcome:
    student_id: int  # as requested
    result: CardRow | Failure


@dataclass
class StudentFigures:
    period: Period
    outcomes: list[Outcome]

    @property
    def rows(self) -> list[CardRow]:
        return [each.result for each in self.outcomes if isinstance(each.result, CardRow)]

    @property
    def failures(self) -> list[Failure]:
        return [each.result for each in self.outcomes if isinstance(each.result, Failure)]


def student_figures(
    session: Session,
    user: User,
    student_ids: list[int],
    *,
    start: dt.date | None,
    end: dt.date | None,
    course_id: int | None,
    today: dt.date,
) -> StudentFigures:
    """Key figures of up to :data:`MAX_SYNC_STUDENTS` students, in the order asked
    (each once); a student ``user`` may not see, or whose report fails, is a failure."""
    if len(student_ids) > MAX_SYNC_STUDENTS:
        raise InvalidInput(
            f"{len(student_ids)} students were asked for; this route answers at most "
            f"{MAX_SYNC_STUDENTS} at once. For more, start a report_cards job: POST "
            '/api/v1/jobs with {"kind": "report_cards"}, and download its file when it is done.',
            errors=[{"field": "student_ids", "message": f"at most {MAX_SYNC_STUDENTS} students"}],
        )
    if course_id is not None:
        _named_course(session, user, course_id)
    period = _named_period(session, start, end, today)
    ids = list(dict.fromkeys(student_ids))
    students = _students(session, user, ids)
    builder = _Builder(session, scope_for(user, course_id), period)
    outcomes = []
    for student_id in ids:
        student = students.get(student_id)
        made = not_visible(student_id) if student is None else builder.card(student)
        outcomes.append(Outcome(student_id, made if isinstance(made, Failure) else made.row))
    return StudentFigures(period, outcomes)


def _named_course(session: Session, user: User, course_id: int) -> None:
    # As the single report's course_id: an unknown course is bad input, not a 404.
    try:
        visible_course(session, user, course_id)
    except CourseNotFound:
        raise InvalidInput(
            f"There is no course {course_id} that you may see: leave course_id out for "
            "every course, or pick one from GET /api/v1/courses.",
            errors=[{"field": "course_id", "message": f"unknown course {course_id}"}],
        ) from None


def _named_period(
    session: Session, start: dt.date | None, end: dt.date | None, today: dt.date
) -> Period:
    try:
        return resolve_period(session, start, end, today)
    except InvalidInput as error:
        # This route's fields are start_date and end_date (the older API's names).
        renamed = {"start": "start_date", "end": "end_date"}
        raise InvalidInput(
            error.detail,
            errors=[
                {**item, "field": renamed.get(item["field"], item["field"])}
                for item in error.errors or []
            ],
        ) from None


# --- a part of a job ----------------------------------------------------------------


class PartEntry(BaseModel):
    """One student of a part: their row and PDF, or their failure."""

    row: CardRow | None = None
    failure: Failure | None = None
    pdf: str | None = None  # the PDF's name inside the part file


_ENTRIES = TypeAdapter(list[PartEntry])


def render_part(
    session: Session,
    user: User | None,
    student_ids: list[int],
    period: Period,
    fmt: CardFormat,
    *,
    school_name: str,
    part_path: Path,
    on_student: Callable[[bool], None],
) -> None:
    """Render these students' cards into the part file ``part_path``.

    ``on_student(ok)`` is called after each student; if it raises (a cancelled job),
    nothing is left behind. The file appears complete or not at all.
    """
    scope = scope_for(user) if user is not None else ReportScope()
    builder = _Builder(session, scope, period, pdf_school=school_name if fmt.has_pdfs else None)
    # Checked again, not trusted from the selection: the part may run much later.
    students = _students(session, user, student_ids)
    with _replacing(part_path) as sink, zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as part:
        entries = []
        for position, student_id in enumerate(student_ids):
            student = students.get(student_id)
            made = not_visible(student_id) if student is None else builder.card(student)
            if isinstance(made, Failure):
                entries.append(PartEntry(failure=made))
            else:
                pdf_name = None
                if made.pdf is not None:
                    pdf_name = f"{position:05d}.pdf"
                    part.writestr(pdf_name, made.pdf)
                entries.append(PartEntry(row=made.row, pdf=pdf_name))
            on_student(not isinstance(made, Failure))
        part.writestr(ROWS_MEMBER, _ENTRIES.dump_json(entries))


def part_entries(part: zipfile.ZipFile | Path) -> list[PartEntry]:
    """The entries of a part file, in order (the runner audits from their rows)."""
    if isinstance(part, Path):
        with zipfile.ZipFile(part) as opened:
            return part_entries(opened)
    return _ENTRIES.validate_json(part.read(ROWS_MEMBER))


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[BinaryIO]:
    """A file that becomes ``target`` only if the block succeeds: written under a
    temporary name beside it, synced, then renamed over it; removed on any error."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w+b") as sink:
            yield sink
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


# --- the final file -----------------------------------------------------------------


def assemble(
    parts: list[Path],
    failures: list[Failure],
    fmt: CardFormat,
    target: Path,
    *,
    period: Period,
    school_name: str,
) -> Assembled:
    """Write the job's file to ``target`` from its parts, in order. ``failures`` are
    the selection's; the parts' own are added after them."""
    failed = list(failures)
    cards = _Cards(parts, failed)
    if fmt is CardFormat.pdf_zip:
        _write_zip(cards, target)
    elif fmt is CardFormat.pdf:
        _write_book(cards, target, period=period, school_name=school_name)
    elif fmt is CardFormat.xlsx:
        _write_workbook(cards, target, period=period)
    else:
        with target.open("wb") as sink:
            write_summary_csv(sink, cards.rows(), failed)
    return Assembled(len(cards.student_ids), failed, cards.student_ids)


class _Cards:
    """The parts' students in order; failures go to ``failed`` as they are read."""

    def __init__(self, parts: list[Path], failed: list[Failure]) -> None:
        self._parts = parts
        self.failed = failed
        self.student_ids: list[int] = []

    def entries(self) -> Iterator[tuple[CardRow, zipfile.ZipFile, str | None]]:
        """Each rendered student's row, the part holding their PDF, and its name there."""
        for path in self._parts:
            with zipfile.ZipFile(path) as part:
                for entry in part_entries(part):
                    if entry.row is None:
                        if entry.failure is not None:
                            self.failed.append(entry.failure)
                        continue
                    self.student_ids.append(entry.row.student_id)
                    yield entry.row, part, entry.pdf

    def rows(self) -> Iterator[CardRow]:
        for row, _, _ in self.entries():
            yield row


def card_title(row: CardRow) -> str:
    """How a card is named: in the zip, and as the merged PDF's bookmark."""
    return f"{row.name} ({row.external_id})"


def _write_zip(cards: _Cards, target: Path) -> None:
    taken: set[str] = set()
    listed: list[tuple[CardRow, str]] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for row, part, pdf in cards.entries():
            if pdf is None:
                continue
            name = _unique_pdf_name(card_title(row), taken)
            with part.open(pdf) as source, archive.open(name, "w") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
            listed.append((row, name))
        summary = io.BytesIO()
        write_summary_csv(summary, (row for row, _ in listed), cards.failed, files=listed)
        archive.writestr(SUMMARY_MEMBER, summary.getvalue(), zipfile.ZIP_DEFLATED)


def _unique_pdf_name(title: str, taken: set[str]) -> str:
    # Compared without case: the zip may be unpacked where "A.pdf" and "a.pdf" clash.
    stem = file_name(title)[:140]
    name, number = f"{stem}.pdf", 2
    while name.casefold() in taken or name.casefold() == SUMMARY_MEMBER:
        name, number = f"{stem}_({number}).pdf", number + 1
    taken.add(name.casefold())
    return name


def _write_workbook(cards: _Cards, target: Path, *, period: Period) -> None:
    with XlsxWorkbook(
        target,
        constant_memory=True,
        title=f"Report cards, {period.start} to {period.end}",
        tmpdir=str(target.parent),
    ) as workbook:
        workbook.add_sheet(
            "Summary", SUMMARY_COLUMNS, (_summary_cells(row) for row in cards.rows())
        )
        workbook.add_sheet("Failures", FAILURE_COLUMNS, _failure_cells(cards.failed))


def _write_book(cards: _Cards, target: Path, *, period: Period, school_name: str) -> None:
    with target.open("wb") as sink:
        book = PdfConcatenation(sink, title=f"Report cards, {period.start} to {period.end}")
        for row, part, pdf in cards.entries():
            if pdf is not None:
                book.add(part.read(pdf), bookmark=card_title(row))
        # A file with no page at all is not a document viewers open: an empty batch
        # gets the (empty) list of failures.
        if cards.failed or not book.pages:
            book.add(
                failures_pdf(cards.failed, period=period, school_name=school_name),
                bookmark=FAILURES_TITLE,
            )
        book.close()


# --- the summary table (CSV, XLSX) --------------------------------------------------

SUMMARY_COLUMNS = (
    Column("student_id", "Student id", Kind.INTEGER),
    Column("external_id", "SIS id", Kind.TEXT),
    Column("name", "Name", Kind.TEXT),
    Column("grade_level", "Grade level", Kind.INTEGER),
    Column("average", "Overall average", Kind.DECIMAL),
    Column("letter", "Letter", Kind.TEXT),
    Column("gpa", "GPA", Kind.DECIMAL),
    Column("attendance_rate", "Attendance rate (%)", Kind.DECIMAL),
    Column("completion_rate", "Completion rate (%)", Kind.DECIMAL),
    Column("courses", "Courses", Kind.INTEGER),
    Column("flags", "Flags", Kind.TEXT),
)
FILE_COLUMN = Column("file", "File", Kind.TEXT)
FAILURE_COLUMNS = (
    Column("student", "Student", Kind.TEXT),
    Column("student_id", "Student id", Kind.INTEGER),
    Column("name", "Name", Kind.TEXT),
    Column("reason", "Reason", Kind.TEXT),
)


def _summary_cells(row: CardRow) -> tuple[object, ...]:
    return (
        row.student_id,
        row.external_id,
        row.name,
        row.grade_level,
        row.average,
        row.letter,
        row.gpa,
        row.attendance_rate,
        row.completion_rate,
        row.courses,
        " ".join(flag.message for flag in row.flags) or None,
    )


def _failure_cells(failures: Iterable[Failure]) -> Iterator[tuple[object, ...]]:
    for failure in failures:
        yield (failure.student, failure.student_id, failure.name, failure.reason)


def write_summary_csv(
    sink: BinaryIO,
    rows: Iterable[CardRow],
    failures: list[Failure],
    *,
    files: list[tuple[CardRow, str]] | None = None,
    bom: bool = False,
) -> None:
    """One row per student, a blank line, then the "Failed students" section (always
    there, so a reader finds it in the same place). ``failures`` is read after the
    rows, so it may still be filling while they are written. With ``files``, a last
    column names each student's PDF."""
    columns = (*SUMMARY_COLUMNS, FILE_COLUMN) if files is not None else SUMMARY_COLUMNS
    cells: Iterable[tuple[object, ...]] = (
        ((*_summary_cells(row), name) for row, name in files)
        if files is not None
        else (_summary_cells(row) for row in rows)
    )
    with CsvWriter(sink, encoding="utf-8-sig" if bom else "utf-8") as writer:
        writer.write_header(columns)
        writer.write_rows(columns, cells)
        writer.write_rows((), [()])  # the blank line between the two tables
        writer.write_section(FAILURES_TITLE, FAILURE_COLUMNS, _failure_cells(failures))


# --- PDF: many documents as one -----------------------------------------------------


class PdfConcatenation:
    """One PDF made of many, written as it goes: each document's pages and every
    object they use are copied to ``sink`` (renumbered) as the document is added, so
    memory holds one document and the list of pages, however many are added. Each
    document may get a bookmark at its first page.
    """

    _CATALOG, _PAGES, _OUTLINES = 1, 2, 3

    def __init__(self, sink: BinaryIO, *, title: str) -> None:
        self._sink = sink
        self._title = title
        self._at = 0
        self._offsets: dict[int, int] = {}
        self._last = self._OUTLINES
        self._pages: list[int] = []
        self._bookmarks: list[tuple[str, int]] = []
        self._put(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    @property
    def pages(self) -> int:
        return len(self._pages)

    def add(self, pdf: bytes, *, bookmark: str | None = None) -> None:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(pdf))
        copier = _Copier(self)
        pages = reader.pages
        numbers = [copier.number_of_page(page) for page in pages]
        if bookmark is not None and numbers:
            self._bookmarks.append((bookmark, numbers[0]))
        for page, number in zip(pages, numbers, strict=True):
            copier.write_page(page, number)
            self._pages.append(number)
        copier.write_pending()

    def close(self) -> None:
        """Write the page tree, the bookmarks, the catalog and the cross-reference table."""
        from pypdf.generic import TextStringObject

        def text(value: str) -> bytes:
            out = io.BytesIO()
            TextStringObject(value).write_to_stream(out)
            return out.getvalue()

        kids = b" ".join(b"%d 0 R" % number for number in self._pages)
        self._object(
            self._PAGES, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(self._pages), kids)
        )
        items = [self.allocate() for _ in self._bookmarks]
        for index, ((title, page), number) in enumerate(zip(self._bookmarks, items, strict=True)):
            links = b""
            if index:
                links += b" /Prev %d 0 R" % items[index - 1]
            if index + 1 < len(items):
                links += b" /Next %d 0 R" % items[index + 1]
            self._object(
                number,
                b"<< /Title %s /Parent %d 0 R%s /Dest [%d 0 R /Fit] >>"
                % (text(title), self._OUTLINES, links, page),
            )
        ends = b" /First %d 0 R /Last %d 0 R" % (items[0], items[-1]) if items else b""
        self._object(self._OUTLINES, b"<< /Type /Outlines /Count %d%s >>" % (len(items), ends))
        self._object(
            self._CATALOG,
            b"<< /Type /Catalog /Pages %d 0 R /Outlines %d 0 R /PageMode /UseOutlines >>"
            % (self._PAGES, self._OUTLINES),
        )
        info = self.allocate()
        self._object(info, b"<< /Title %s /Producer (Markbook) >>" % text(self._title))
        xref = self._at
        size = self._last + 1
        lines = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
        for number in range(1, size):
            offset = self._offsets.get(number)
            lines.append(
                b"0000000000 65535 f \n" if offset is None else b"%010d 00000 n \n" % offset
            )
        lines.append(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, self._CATALOG, info, xref)
        )
        self._put(b"".join(lines))
        self._sink.flush()

    def allocate(self) -> int:
        self._last += 1
        return self._last

    def write_object(self, number: int, body: bytes) -> None:
        self._object(number, body)

    def _object(self, number: int, body: bytes) -> None:
        self._offsets[number] = self._at
        self._put(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def _put(self, data: bytes) -> None:
        self._sink.write(data)
        self._at += len(data)


class _Copier:
    """Copies one source document's objects into a :class:`PdfConcatenation`."""

    def __init__(self, book: PdfConcatenation) -> None:
        from pypdf import generic

        self._book = book
        # Bound once: _serialise runs for every value of every object.
        self._reference = generic.IndirectObject
        self._stream = generic.StreamObject
        self._dictionary = generic.DictionaryObject
        self._array = generic.ArrayObject
        self._numbers: dict[tuple[int, int], int] = {}
        self._pending: list[tuple[Any, int]] = []

    def number_of_page(self, page: Any) -> int:
        reference = page.indirect_reference
        number = self._book.allocate()
        self._numbers[(reference.idnum, reference.generation)] = number
        return number

    def write_page(self, page: Any, number: int) -> None:
        # pypdf's page carries the attributes it inherits from the source's page tree
        # (resources, media box), so it stands alone under the new tree.
        out = io.BytesIO()
        out.write(b"<< /Parent %d 0 R" % PdfConcatenation._PAGES)
        for key, value in page.items():
            if key != "/Parent":
                out.write(b" ")
                key.write_to_stream(out)
                out.write(b" ")
                self._serialise(value, out)
        out.write(b" >>")
        self._book.write_object(number, out.getvalue())

    def write_pending(self) -> None:
        while self._pending:
            reference, number = self._pending.pop()
            out = io.BytesIO()
            self._serialise(reference.get_object(), out)
            self._book.write_object(number, out.getvalue())

    def _number(self, reference: Any) -> int:
        key = (reference.idnum, reference.generation)
        number = self._numbers.get(key)
        if number is None:
            target = reference.get_object()
            kind = target.get("/Type") if hasattr(target, "get") else None
            # The source's own page tree and catalog become the book's.
            if kind == "/Pages":
                number = PdfConcatenation._PAGES
            elif kind == "/Catalog":
                number = PdfConcatenation._CATALOG
            else:
                number = self._book.allocate()
                self._pending.append((reference, number))
            self._numbers[key] = number
        return number

    def _serialise(self, value: Any, out: io.BytesIO) -> None:
        if isinstance(value, self._reference):
            out.write(b"%d 0 R" % self._number(value))
        elif isinstance(value, self._stream):
            data: bytes = value._data  # the stream as stored (still compressed)
            out.write(b"<< /Length %d" % len(data))
            self._entries(value, out, skip="/Length")
            out.write(b" >>\nstream\n")
            out.write(data)
            out.write(b"\nendstream")
        elif isinstance(value, self._dictionary):
            out.write(b"<<")
            self._entries(value, out)
            out.write(b" >>")
        elif isinstance(value, self._array):
            out.write(b"[")
            for item in value:
                out.write(b" ")
                self._serialise(item, out)
            out.write(b" ]")
        else:
            value.write_to_stream(out)

    def _entries(self, dictionary: Any, out: io.BytesIO, skip: str = "") -> None:
        for key, item in dictionary.items():
            if key != skip:
                out.write(b" ")
                key.write_to_stream(out)
                out.write(b" ")
                self._serialise(item, out)


# --- PDF: the failed students' page -------------------------------------------------

_FAILURE_FONT = "MarkbookBulkSans"


@functools.cache
def _failure_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from markbook.reports.pdf import FONT_DIR

    pdfmetrics.registerFont(TTFont(_FAILURE_FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    return _FAILURE_FONT


def failures_pdf(failures: list[Failure], *, period: Period, school_name: str) -> bytes:
    """A plain list of the students without a card and why, as many pages as it takes."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen.canvas import Canvas

    font = _failure_font()
    width, height = LETTER
    margin, size, leading = 54.0, 10.0, 13.0
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LETTER, initialFontName=font)
    canvas.setTitle(FAILURES_TITLE)
    y = height - margin

    def line(text: str, font_size: float = size, indent: float = 0.0) -> None:
        nonlocal y
        for piece in simpleSplit(text, font, font_size, width - 2 * margin - indent):
            if y < margin:
                canvas.showPage()
                y = height - margin
            canvas.setFont(font, font_size)
            canvas.drawString(margin + indent, y, piece)
            y -= font_size + 3

    line(f"{FAILURES_TITLE}: {len(failures)}", 14)
    line(f"{school_name} · report cards {period.start} to {period.end}", 9)
    y -= leading
    if not failures:
        line("No students were chosen, so there are no report cards.")
    for failure in failures:
        who = failure.name or f"Student {failure.student}"
        if failure.name:
            who += f" (id {failure.student})"
        line(who)
        line(failure.reason, 9, indent=14)
        y -= 4
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
