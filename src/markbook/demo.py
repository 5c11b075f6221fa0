"""The demo school: a deterministic, realistic school loaded into an empty database.

``markbook demo`` and ``markbook serve --demo`` call :func:`build_demo`. The same
seed and the same ``today`` give the same school, row for row: every random choice
comes from a seeded ``random.Random`` (one per concern, so the grades never shift
because attendance changed), and nothing reads the clock except the default
``today``.

The school year is the one containing ``today``, in two terms (Fall, Spring), with
records up to ``today``: a term that has started has assignments (some still due),
grades, attendance, analytics and written reports up to that day; a term still to
come has its sections and enrollments only.

Loading is one transaction. The school is planned in memory first (people,
sections, enrollments, assignments: small), then the big tables stream from
generators of plain tuples into :func:`markbook.db.bulk_insert` (COPY on
PostgreSQL, executemany on SQLite), each in the order of its unique index.
Secondary indexes (and on PostgreSQL foreign keys) are dropped for the load and
rebuilt from the metadata at the end, inside the same transaction; SQLite loads
with per-row constraint checks and fsync off on its own connection (see
``_SQLITE_LOAD_PRAGMAS``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import NormalDist
from typing import Any

from sqlalchemy import Engine, ForeignKeyConstraint, Index, Table, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint, DropConstraint

from markbook import demo_data as data
from markbook.auth.models import Role
from markbook.auth.passwords import hash_password
from markbook.db import bulk_insert
from markbook.models import Base
from markbook.records.models import AttendanceStatus, GradeStatus, search_key

# Printed for anyone to use: the demo holds no real people's records.
DEMO_PASSWORD = "markbook-demo"  # noqa: S105

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class SignIn:
    """An account to try the demo with; its password is :data:`DEMO_PASSWORD`."""

    role: str
    email: str
    password: str
    name: str


@dataclass(frozen=True)
class DemoSummary:
    students: int
    seed: int
    today: dt.date
    # (name, first day, last day) of each term of the school year.
    terms: list[tuple[str, dt.date, dt.date]]
    sign_ins: list[SignIn]
    # Table name -> rows inserted.
    rows: dict[str, int]
    seconds: float


class DatabaseNotEmpty(Exception):
    """The target database already has users or students; the demo loads only into an empty one."""


def build_demo(
    engine: Engine,
    *,
    students: int = 300,
    seed: int = 42,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Load a demo school of ``students`` students into the empty, migrated database.

    ``progress(stage, rows)`` is called as the load goes: ``stage`` is the table being
    loaded and ``rows`` how many rows of it are in so far (then "indexes" and how
    many were rebuilt). Raises :class:`DatabaseNotEmpty` if the database already has
    users or students; then nothing is written.
    """
    if students < 1:
        raise ValueError("a demo school needs at least one student")
    started = time.perf_counter()
    plan = _plan_school(students, seed, today or dt.date.today())
    # argon2 is slow on purpose. Demo only: every demo account shares this one hash
    # of the published demo password, so 40,000 accounts cost one hashing instead
    # of half an hour. Real accounts are hashed one by one, each with its own salt.
    password_hash = hash_password(DEMO_PASSWORD)
    with engine.connect() as connection:
        rows = _load(connection, plan, password_hash, progress or _ignore_progress)
    return DemoSummary(
        students=students,
        seed=seed,
        today=plan.today,
        terms=[(term.name, term.start, term.end) for term in plan.terms],
        sign_ins=plan.sign_ins,
        rows=rows,
        seconds=time.perf_counter() - started,
    )


def _ignore_progress(_stage: str, _rows: int) -> None:
    """The progress callback when the caller gives none: reports nowhere."""


# ---------------------------------------------------------------------------
# The calendar
# ---------------------------------------------------------------------------

_MONDAY, _THURSDAY, _FRIDAY = 0, 3, 4
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Term:
    name: str  # "2026-27 Fall"
    code: str  # "F26", for course external ids
    start: dt.date
    end: dt.date
    days: tuple[dt.date, ...]  # school days: no weekends, no holidays


@dataclass(frozen=True)
class Week:
    """A school week of a term: reports and weekly analytics are dated by it."""

    monday: dt.date
    # The last school day of the week: weekly figures are recorded on it.
    last_day: dt.date
    index: int  # 0 for the term's first week


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = dt.date(year + month // 12, month % 12 + 1, 1) - _DAY
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _weekday_on_or_after(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def _year_start(year: int) -> dt.date:
    """The Monday of the last full Monday-to-Friday week of August."""
    monday = _last_weekday(year, 8, _MONDAY)
    return monday if monday.day + 4 <= 31 else monday - dt.timedelta(days=7)


def _holidays(year: int) -> set[dt.date]:
    """Days without school in the year starting in August of ``year`` (US-style)."""
    closed = {
        _nth_weekday(year, 9, _MONDAY, 1),  # Labor Day
        _nth_weekday(year, 11, _THURSDAY, 4),  # Thanksgiving
        _nth_weekday(year, 11, _THURSDAY, 4) + _DAY,
        _nth_weekday(year + 1, 1, _MONDAY, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year + 1, 2, _MONDAY, 3),  # Presidents' Day
        _last_weekday(year + 1, 5, _MONDAY),  # Memorial Day
    }
    winter = dt.date(year, 12, 22)
    while winter <= dt.date(year + 1, 1, 2):
        closed.add(winter)
        winter += _DAY
    spring_break = _last_weekday(year + 1, 3, _MONDAY)
    closed.update(spring_break + dt.timedelta(days=offset) for offset in range(5))
    return closed


def school_terms(today: dt.date) -> tuple[Term, Term]:
    """The two terms of the school year that ``today`` falls in (or last ended in).

    In the summer before a year starts, that is the year just finished.
    """
    year = today.year if today >= _year_start(today.year) else today.year - 1
    closed = _holidays(year)
    fall_start = _year_start(year)
    fall_end = _weekday_on_or_after(dt.date(year + 1, 1, 13), _FRIDAY)
    spring_start = fall_end + dt.timedelta(days=3)
    spring_end = _weekday_on_or_after(dt.date(year + 1, 6, 2), _FRIDAY)
    label = f"{year}-{(year + 1) % 100:02d}"

    def term(name: str, code: str, start: dt.date, end: dt.date) -> Term:
        days = []
        day = start
        while day <= end:
            if day.weekday() < 5 and day not in closed:
                days.append(day)
            day += _DAY
        return Term(f"{label} {name}", code, start, end, tuple(days))

    return (
        term("Fall", f"F{year % 100:02d}", fall_start, fall_end),
        term("Spring", f"S{(year + 1) % 100:02d}", spring_start, spring_end),
    )


def _weeks(term: Term, today: dt.date) -> list[Week]:
    """The term's weeks whose last school day is on or before ``today``."""
    by_monday: dict[dt.date, dt.date] = {}
    for day in term.days:
        by_monday[day - dt.timedelta(days=day.weekday())] = day
    weeks = [
        Week(monday, last_day, index) for index, (monday, last_day) in enumerate(by_monday.items())
    ]
    return [week for week in weeks if week.last_day <= today]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------
# The plan: everything but the big tables, decided up front
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _User:
    id: int
    email: str
    name: str
    role: str


@dataclass(slots=True, eq=False)
class _Student:
    id: int
    external_id: str
    name: str
    given: str
    gender: str
    email: str
    grade_level: int
    family: _Family
    user_id: int = 0
    # Traits that drive the records; ability is a z-score.
    ability: float = 0.0
    p_missing: float = 0.0  # chance a piece of work is never handed in
    p_late_work: float = 0.0
    p_absent_day: float = 0.0  # whole days off, unexcused
    p_excused_day: float = 0.0  # whole days off with a note (illness)
    p_late_class: float = 0.0  # late to one lesson
    p_cut: float = 0.0  # misses one lesson
    engagement: float = 0.0  # 0..1, how much the learning platform is used
    language: str = "SPAN"
    # Catalogue codes per term, slot by slot.
    courses: list[list[str]] = field(default_factory=list)
    # When a transfer student starts; None for the first day of the year.
    entry: dt.date | None = None


@dataclass(slots=True, eq=False)
class _Family:
    culture: data.Culture
    surname: tuple[str, str]
    second_surname: tuple[str, str] | None
    children: list[_Student] = field(default_factory=list)
    # (user, relationship label)
    guardians: list[tuple[_User, str]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Assignment:
    id: int
    title: str
    category: str
    max_points: int
    weight: int
    due: dt.date
    difficulty: float  # added to every student's expected percent
    graded: bool  # due on or before today and marked (else pending: no grade rows)


@dataclass(slots=True, eq=False)
class _Section:
    id: int
    term_index: int
    spec: data.CourseSpec
    number: int
    teacher_id: int = 0
    harshness: float = 0.0
    enrollments: list[_Enrollment] = field(default_factory=list)
    assignments: list[_Assignment] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Enrollment:
    student: _Student
    section: _Section
    start: dt.date
    end: dt.date | None
    mean: float  # the percent this student tends to score in this course
    id: int = 0


@dataclass(slots=True)
class _Tutoring:
    tutor: _User
    specialty: str
    student: _Student
    start: dt.date


@dataclass
class _Plan:
    seed: int
    today: dt.date
    terms: tuple[Term, Term]
    started: int  # how many terms have started (1 or 2)
    weeks: list[list[Week]]  # per started term, the weeks up to today
    data_days: list[tuple[dt.date, ...]]  # per started term, school days up to today
    admins: list[_User]
    teachers: list[_User]
    tutors: list[_User]
    families: list[_Family]
    students: list[_Student]
    sections: list[_Section]
    tutoring: list[_Tutoring]
    sign_ins: list[SignIn]

    @property
    def enrollments(self) -> Iterator[_Enrollment]:
        for section in self.sections:
            yield from section.enrollments


def _rng(seed: int, concern: str) -> random.Random:
    # One generator per concern, so a change to how one kind of row is made never
    # shifts the others. String seeds hash with SHA-512: stable across runs.
    return random.Random(f"markbook-demo/{seed}/{concern}")


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _plan_school(count: int, seed: int, today: dt.date) -> _Plan:
    terms = school_terms(today)
    started = sum(1 for term in terms if term.start <= today)
    families, students = _plan_students(count, seed)
    _draw_traits(students, seed)
    _choose_courses(students, seed)
    sections = _plan_sections(students, seed, terms)
    departments = _teachers_needed(sections)
    tutored = _choose_tutored(students, seed)

    ids = itertools.count(1)
    people = _rng(seed, "staff")
    admins = [
        _User(next(ids), "admin@example.org", "Dana Whitfield", Role.admin.value),
        _User(next(ids), "a.2@school.example.org", _random_name(people), Role.admin.value),
    ]
    teachers = [
        _User(next(ids), f"t.{n}@school.example.org", _random_name(people), Role.teacher.value)
        for n in range(1, sum(departments.values()) + 1)
    ]
    tutor_count = max(1, round(len(tutored) / 10))
    tutors = [
        _User(next(ids), f"tutor.{n}@tutors.example.org", _random_name(people), Role.tutor.value)
        for n in range(1, tutor_count + 1)
    ]
    guardian_number = itertools.count(1)
    for family in families:
        family.guardians = _plan_guardians(family, people, ids, guardian_number)
    for student in students:
        student.user_id = next(ids)

    _assign_teachers(sections, departments, teachers, seed)
    data_days = [term.days[: bisect.bisect_right(term.days, today)] for term in terms[:started]]
    _enroll(students, sections, terms, started, data_days, seed)
    _plan_assignments(sections, terms, started, today, seed)
    tutoring = _plan_tutoring(tutored, tutors, students, data_days[0], seed)
    plan = _Plan(
        seed=seed,
        today=today,
        terms=terms,
        started=started,
        weeks=[_weeks(term, today) for term in terms[:started]],
        data_days=data_days,
        admins=admins,
        teachers=teachers,
        tutors=tutors,
        families=families,
        students=students,
        sections=sections,
        tutoring=tutoring,
        sign_ins=[],
    )
    plan.sign_ins = _sign_ins(plan)
    return plan


def _pick_culture(rng: random.Random) -> data.Culture:
    return rng.choices(data.CULTURES, weights=[c.weight for c in data.CULTURES])[0]


def _person_name(
    culture: data.Culture,
    gender: str,
    surname: tuple[str, str],
    second: tuple[str, str] | None,
    rng: random.Random,
) -> tuple[str, str]:
    """(full name, given name) written the way the culture writes it."""
    given = rng.choice(culture.female if gender == "f" else culture.male)
    family_name = surname[1] if gender == "f" else surname[0]
    if culture.order == "joined":
        # Written and said in full, surname first: 李雷, 김민준.
        return family_name + given, family_name + given
    if culture.order == "family":
        middle = rng.choice(culture.middle_female if gender == "f" else culture.middle_male)
        return f"{family_name} {middle} {given}", given
    if second is not None:
        family_name = f"{family_name} {second[1] if gender == 'f' else second[0]}"
    return f"{given} {family_name}", given


def _random_name(rng: random.Random) -> str:
    culture = _pick_culture(rng)
    gender = rng.choice("fm")
    return _person_name(culture, gender, rng.choice(culture.surnames), None, rng)[0]


def _new_family(culture: data.Culture, rng: random.Random) -> _Family:
    surname = rng.choice(culture.surnames)
    second = None
    if rng.random() < culture.double_surname:
        second = rng.choice(culture.surnames)
    return _Family(culture, surname, second)


def _plan_students(count: int, seed: int) -> tuple[list[_Family], list[_Student]]:
    """Families and their children; the fixed names first, then the rest shuffled."""
    rng = _rng(seed, "students")
    families: list[_Family] = []
    fixed: list[tuple[_Family, str, str, str]] = []
    for spec in data.FIXED_STUDENTS[:count]:
        family = _Family(data.CULTURE_BY_KEY[spec.culture], spec.surname, None)
        families.append(family)
        fixed.append((family, spec.name, spec.given, spec.gender))
    others: list[tuple[_Family, str, str, str]] = []

    def add_child(family: _Family) -> None:
        gender = rng.choice("fm")
        name, given = _person_name(
            family.culture, gender, family.surname, family.second_surname, rng
        )
        others.append((family, name, given, gender))

    if count > len(fixed):
        # José Núñez gets a sibling, so the demo guardian has two children to see.
        add_child(families[0])
    while len(fixed) + len(others) < count:
        family = _new_family(_pick_culture(rng), rng)
        families.append(family)
        size = rng.choices((1, 2, 3), weights=(78, 17, 5))[0]
        for _ in range(min(size, count - len(fixed) - len(others))):
            add_child(family)
    rng.shuffle(others)

    students = []
    for number, (family, name, given, gender) in enumerate(fixed + others, start=1):
        external_id = f"S{number:06d}"
        student = _Student(
            id=number,
            external_id=external_id,
            name=name,
            given=given,
            gender=gender,
            email=f"{external_id.lower()}@students.example.org",
            grade_level=rng.choices((9, 10, 11, 12), weights=(26, 25, 25, 24))[0],
            family=family,
        )
        family.children.append(student)
        students.append(student)
    students[0].email = "student@example.org"
    return families, students


def _plan_guardians(
    family: _Family,
    rng: random.Random,
    ids: Iterator[int],
    numbers: Iterator[int],
) -> list[tuple[_User, str]]:
    culture = family.culture
    is_first = bool(family.children) and family.children[0].id == 1
    if is_first or rng.random() < 0.62:
        genders = ["f", "m"]
    else:
        genders = ["f" if rng.random() < 0.7 else "m"]
    guardians = []
    for index, gender in enumerate(genders):
        surname = family.surname
        if family.second_surname is not None and gender == "f":
            # A Spanish mother's surname is the children's second one.
            surname = family.second_surname
        elif gender == "f" and len(genders) == 2 and rng.random() < 0.25:
            surname = rng.choice(culture.surnames)
        name = _person_name(culture, gender, surname, None, rng)[0]
        labels = data.GUARDIAN_LABELS_FEMALE if gender == "f" else data.GUARDIAN_LABELS_MALE
        label = labels[0] if len(genders) == 2 else rng.choice(labels)
        if is_first and index == 0:
            email = "guardian@example.org"
        else:
            email = f"g{next(numbers)}@families.example.org"
        guardians.append((_User(next(ids), email, name, Role.guardian.value), label))
    return guardians


def _draw_traits(students: list[_Student], seed: int) -> None:
    rng = _rng(seed, "traits")
    for student in students:
        ability = rng.gauss(0.0, 1.0)
        student.ability = ability
        student.p_missing = 0.005 + 0.14 * _logistic(-2.2 * (ability + 1.3))
        student.p_late_work = 0.02 + 0.07 * _logistic(-1.5 * (ability + 0.3))
        chronic = rng.random() < 0.08 + 0.1 * _logistic(-2.0 * ability)
        student.p_absent_day = rng.uniform(0.07, 0.2) if chronic else rng.uniform(0.0, 0.035)
        student.p_excused_day = rng.uniform(0.004, 0.02)
        student.p_late_class = rng.uniform(0.005, 0.05)
        student.p_cut = 0.02 if chronic else 0.003
        student.engagement = min(1.0, max(0.05, 0.55 + 0.2 * ability + rng.gauss(0, 0.15)))
        student.language = rng.choices(("SPAN", "FREN", "MAND", "GERM"), (50, 22, 15, 13))[0]


_LANGUAGE_LEVELS = {"SPAN": 4, "FREN": 4, "MAND": 3, "GERM": 3}
_ARTS = ("ART1", "CERAM", "PHOTO", "CHOIR", "BAND", "DRAMA", "DMEDIA")
_ELECTIVES = ("CSP", "ROBOT", "PSYCH", "JOURN", "CWRIT", "FINLIT", "SOC")
_UPPER_ELECTIVES = ("APCSA", "FORENS")


def _choose_courses(students: list[_Student], seed: int) -> None:
    """About eight courses a term for each student, fitting the grade level."""
    rng = _rng(seed, "courses")
    for student in students:
        student.courses = _timetable(student, rng)


def _timetable(student: _Student, rng: random.Random) -> list[list[str]]:
    """Catalogue codes for the Fall and the Spring term, slot by slot."""
    grade, ability = student.grade_level, student.ability
    strong = ability > 0.85
    year_long = [
        {9: "ENG9", 10: "ENG10", 11: "APLANG" if strong else "AMLIT"}.get(
            grade, "APLIT" if strong else "BRLIT"
        ),
        {
            9: "GEOM" if strong else "ALG1",
            10: "ALG2" if strong else "GEOM",
            11: "PREC" if strong else "ALG2",
        }.get(grade, "APCALC" if strong else rng.choice(("STAT", "PREC"))),
        {9: "BIO", 10: "CHEM", 11: "APBIO" if ability > 1.1 else "PHYS"}.get(
            grade, rng.choice(("ENVSCI", "ANAT", "FORENS"))
        ),
    ]
    if grade < 12:
        year_long.append({9: "WGEO", 10: "WHIST"}.get(grade, "APUSH" if strong else "USHIST"))
    level = grade - 8
    if level <= _LANGUAGE_LEVELS[student.language] and not (grade == 12 and rng.random() < 0.35):
        year_long.append(f"{student.language}{level}")
    slots = [(code, code) for code in year_long]
    if grade == 12:
        slots.append(("GOV", "ECON"))
    art = rng.choice(_ARTS)
    slots.append((art, art if rng.random() < 0.6 else rng.choice(_ARTS)))
    if grade <= 10:
        slots.append(("PE", "HEALTH") if rng.random() < 0.5 else ("HEALTH", "PE"))
    else:
        slots.append((rng.choice(("FITW", "TEAMSP")), rng.choice(("FITW", "TEAMSP"))))
    electives = _ELECTIVES + (_UPPER_ELECTIVES if grade >= 11 else ())
    # A quarter of seniors have a free period.
    wanted = 8 if grade < 12 or rng.random() < 0.75 else 7
    while len(slots) < wanted:
        taken = [{fall for fall, _ in slots}, {spring for _, spring in slots}]
        fall = rng.choice([code for code in electives if code not in taken[0]])
        spring = fall
        if rng.random() < 0.5 or fall in taken[1]:
            spring = rng.choice([code for code in electives if code not in taken[1]])
        slots.append((fall, spring))
    return [[fall for fall, _ in slots], [spring for _, spring in slots]]


_SECTION_SIZE = 30
_SECTIONS_PER_TEACHER = 5


def _plan_sections(students: list[_Student], seed: int, terms: Sequence[Term]) -> list[_Section]:
    """Sections of at most 30, with their students (enrollments get dates later)."""
    rng = _rng(seed, "sections")
    sections: list[_Section] = []
    ids = itertools.count(1)
    for term_index in range(len(terms)):
        members: dict[str, list[_Student]] = defaultdict(list)
        for student in students:
            for code in student.courses[term_index]:
                members[code].append(student)
        for spec in data.CATALOGUE:
            roster = members.get(spec.code)
            if not roster:
                continue
            rng.shuffle(roster)
            count = math.ceil(len(roster) / _SECTION_SIZE)
            for number in range(count):
                section = _Section(next(ids), term_index, spec, number + 1)
                section.harshness = rng.gauss(0.0, 2.5)
                # Enrollments without dates yet: _enroll() fills them in.
                section.enrollments = [
                    _Enrollment(student, section, terms[term_index].start, None, 0.0)
                    for student in roster[number::count]
                ]
                sections.append(section)
    return sections


def _teachers_needed(sections: list[_Section]) -> dict[str, int]:
    """Teachers per department: enough for about five sections each, every term."""
    per_term: dict[tuple[str, int], int] = defaultdict(int)
    for section in sections:
        per_term[section.spec.subject, section.term_index] += 1
    needed: dict[str, int] = {}
    for (subject, _), count in per_term.items():
        needed[subject] = max(needed.get(subject, 0), math.ceil(count / _SECTIONS_PER_TEACHER))
    return needed


def _assign_teachers(
    sections: list[_Section], needed: dict[str, int], teachers: list[_User], seed: int
) -> None:
    rng = _rng(seed, "teachers")
    pool = iter(teachers)
    staff = {subject: [next(pool) for _ in range(count)] for subject, count in needed.items()}
    harshness = {teacher.id: rng.gauss(0.0, 2.0) for teacher in teachers}
    grouped: dict[tuple[str, int], list[_Section]] = defaultdict(list)
    for section in sections:
        grouped[section.spec.subject, section.term_index].append(section)
    for (subject, _), group in grouped.items():
        # Contiguous blocks: a teacher takes several sections of the same course.
        department = staff[subject]
        for index, section in enumerate(group):
            teacher = department[index * len(department) // len(group)]
            section.teacher_id = teacher.id
            section.harshness += harshness[teacher.id]


def _enroll(
    students: list[_Student],
    sections: list[_Section],
    terms: Sequence[Term],
    started: int,
    data_days: list[tuple[dt.date, ...]],
    seed: int,
) -> None:
    """Dates and expected scores for every enrollment; transfers and section changes."""
    rng = _rng(seed, "enrollments")
    fixed = len(data.FIXED_STUDENTS) + 1
    for student in students:
        draw = rng.random()
        if student.id <= fixed:
            continue
        # A few students join during the year: every course starts that day.
        if draw < 0.02 and len(data_days[0]) > 12:
            days = data_days[0]
            student.entry = days[rng.randrange(10, max(11, min(len(days), 50)))]
        elif draw < 0.03 and started == 2 and len(data_days[1]) > 8:
            days = data_days[1]
            student.entry = days[rng.randrange(5, max(6, min(len(days), 40)))]

    by_code: dict[tuple[int, str], list[_Section]] = defaultdict(list)
    for section in sections:
        by_code[section.term_index, section.spec.code].append(section)
    for section in sections:
        term = terms[section.term_index]
        kept = []
        for enrollment in section.enrollments:
            student = enrollment.student
            if student.entry is not None:
                if student.entry > term.end:
                    continue
                enrollment.start = max(term.start, student.entry)
            enrollment.mean = _expected_percent(student, section, rng)
            kept.append(enrollment)
        section.enrollments = kept

    # Section changes: a student moves to another section of the same course.
    for term_index in range(started):
        days = data_days[term_index]
        if len(days) < 15:
            continue
        candidates = [
            (section, enrollment)
            for section in sections
            if section.term_index == term_index
            for enrollment in section.enrollments
        ]
        for section, enrollment in candidates:
            siblings = by_code[term_index, section.spec.code]
            if enrollment.student.id <= fixed or len(siblings) < 2:
                continue
            if rng.random() >= 0.004:
                continue
            first = bisect.bisect_left(days, enrollment.start) + 5
            last = min(len(days) - 1, len(days) // 2 + 10)
            if first >= last:
                continue
            day_index = rng.randrange(first, last)
            moved = days[day_index]
            target = rng.choice([other for other in siblings if other is not section])
            enrollment.end = days[day_index - 1]
            target.enrollments.append(
                _Enrollment(
                    enrollment.student,
                    target,
                    moved,
                    None,
                    _expected_percent(enrollment.student, target, rng),
                )
            )

    for section in sections:
        section.enrollments.sort(key=lambda e: (e.student.id, e.start))
    ordered = sorted(
        (e for section in sections for e in section.enrollments),
        key=lambda e: (e.section.term_index, e.student.id, e.section.id, e.start),
    )
    for number, enrollment in enumerate(ordered, start=1):
        enrollment.id = number


_EASIER_PLANS = {"pe": 6.0, "arts": 4.0}


def _expected_percent(student: _Student, section: _Section, rng: random.Random) -> float:
    return (
        81.0
        + 9.0 * student.ability
        + 4.0 * rng.gauss(0.0, 1.0)
        - section.harshness
        + _EASIER_PLANS.get(section.spec.plan, 0.0)
    )


# Categories assessed at the end of a unit rather than along the way.
_END_OF_UNIT = {"Test", "Portfolio review", "Fitness test"}
# How many days after the due date the teacher has usually marked the work.
_MARKED_BY_LAG = (0.3, 0.55, 0.85)


def _plan_assignments(
    sections: list[_Section], terms: Sequence[Term], started: int, today: dt.date, seed: int
) -> None:
    """Assignments for the sections of started terms, the same for one teacher's sections."""
    rng = _rng(seed, "assignments")
    templates: dict[tuple[int, str, int], list[tuple[str, str, int, int, int, float]]] = {}
    ids = itertools.count(1)
    for section in sections:
        if section.term_index >= started:
            continue
        term = terms[section.term_index]
        key = (section.teacher_id, section.spec.code, section.term_index)
        if key not in templates:
            templates[key] = _assignment_template(section.spec, term, rng)
        last_index = bisect.bisect_right(term.days, today) - 1
        for title, category, points, weight, day_index, difficulty in templates[key]:
            due = term.days[day_index]
            lag = last_index - day_index
            # Once the term is over, everything has been marked.
            graded = (
                today > term.end
                or lag >= len(_MARKED_BY_LAG)
                or (lag >= 0 and rng.random() < _MARKED_BY_LAG[lag])
            )
            section.assignments.append(
                _Assignment(next(ids), title, category, points, weight, due, difficulty, graded)
            )


def _assignment_template(
    spec: data.CourseSpec, term: Term, rng: random.Random
) -> list[tuple[str, str, int, int, int, float]]:
    days = len(term.days)
    # The counts in the plans are for a 20-week (90-day) term.
    scale = days / 90
    items = []
    for order, (category, weight, maxima, per_term) in enumerate(data.ASSIGNMENT_PLANS[spec.plan]):
        count = max(1, round(per_term * scale))
        for number in range(count):
            if category in _END_OF_UNIT:
                position = (number + 1) / count - rng.uniform(0.0, 0.04)
            else:
                position = (number + 0.5 + rng.uniform(-0.3, 0.3)) / count
            day_index = min(days - 1, max(2, round(position * days)))
            topic = spec.topics[min(len(spec.topics) - 1, int(position * len(spec.topics)))]
            difficulty = rng.gauss(0.0, 4.0) - (3.0 if category in _END_OF_UNIT else 0.0)
            items.append(
                (
                    day_index,
                    order,
                    f"{category} {number + 1}: {topic}",
                    category,
                    rng.choice(maxima),
                    weight,
                    difficulty,
                )
            )
    items.sort(key=lambda item: (item[0], item[1]))
    return [
        (title, category, points, weight, day_index, difficulty)
        for day_index, _, title, category, points, weight, difficulty in items
    ]


def _with_demo_tutor(students: list[_Student]) -> set[int]:
    """Students of the tutor who signs in: 李雷 and Siobhán O'Brien, with their texts."""
    return {3, 5} if len(students) >= 5 else {1}


def _choose_tutored(students: list[_Student], seed: int) -> list[_Student]:
    """About 15% of students have a tutor, weaker ones more often."""
    rng = _rng(seed, "tutored")
    forced = _with_demo_tutor(students)
    return [
        student
        for student in students
        if rng.random() < 0.05 + 0.3 * _logistic(-1.6 * (student.ability + 0.6))
        or student.id in forced
    ]


def _plan_tutoring(
    tutored: list[_Student],
    tutors: list[_User],
    students: list[_Student],
    days: tuple[dt.date, ...],
    seed: int,
) -> list[_Tutoring]:
    rng = _rng(seed, "tutoring")
    forced = _with_demo_tutor(students)
    pairs = []
    for student in tutored:
        first = student.entry or days[0]
        start_index = bisect.bisect_left(days, first)
        if student.id in forced:
            chosen = [0]
        else:
            start_index = min(len(days) - 1, start_index + rng.randrange(0, 25))
            chosen = [rng.randrange(len(tutors))]
            if len(tutors) > 1 and rng.random() < 0.06:
                chosen.append((chosen[0] + 1 + rng.randrange(len(tutors) - 1)) % len(tutors))
        if start_index >= len(days):
            continue
        for index in chosen:
            specialty = data.TUTOR_SPECIALTIES[index % len(data.TUTOR_SPECIALTIES)]
            pairs.append(_Tutoring(tutors[index], specialty, student, days[start_index]))
    pairs.sort(key=lambda pair: (pair.tutor.id, pair.student.id))
    return pairs


def _sign_ins(plan: _Plan) -> list[SignIn]:
    """One account per role, each with records to look at."""
    jose = plan.students[0]
    current = plan.started - 1
    current_sections = [
        e.section for e in plan.enrollments if e.student is jose and e.section.term_index == current
    ]
    maths = [s for s in current_sections if s.spec.subject == data.MATHEMATICS]
    teacher_id = (maths or current_sections)[0].teacher_id
    teacher = next(t for t in plan.teachers if t.id == teacher_id)
    teacher.email = "teacher@example.org"
    tutor = plan.tutors[0]
    tutor.email = "tutor@example.org"
    guardian = plan.families[0].guardians[0][0]
    admin = plan.admins[0]
    return [
        SignIn(Role.admin.value, admin.email, DEMO_PASSWORD, admin.name),
        SignIn(Role.teacher.value, teacher.email, DEMO_PASSWORD, teacher.name),
        SignIn(Role.tutor.value, tutor.email, DEMO_PASSWORD, tutor.name),
        SignIn(Role.guardian.value, guardian.email, DEMO_PASSWORD, guardian.name),
        SignIn(Role.student.value, jose.email, DEMO_PASSWORD, jose.name),
    ]


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------

# Draws from a table of normal quantiles: an index of 12 random bits is several
# times cheaper than random.gauss() on the millions of grade rows.
_NORMAL = tuple(NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096))
_MAX_PERCENT = 110  # extra credit tops out here
# Scores are whole or half points; these cover 0 to 110% of the largest maximum.
_HALF_POINTS = tuple(Decimal(k) / 2 for k in range(2 * _MAX_PERCENT + 2))
_WHOLE = tuple(Decimal(n) for n in range(_MAX_PERCENT + 1))
_GRADED = GradeStatus.graded.value
_LATE = GradeStatus.late.value
_MISSING = GradeStatus.missing.value
_EXCUSED = GradeStatus.excused.value
_PRESENT = AttendanceStatus.present.value
_LATE_TO_CLASS = AttendanceStatus.late.value
_ABSENT = AttendanceStatus.absent.value
_EXCUSED_ABSENCE = AttendanceStatus.excused.value


def _band(percent: float) -> int:
    """0 for A-ish work .. 3 for failing work: picks the tone of comments."""
    if percent >= 88:
        return 0
    if percent >= 78:
        return 1
    if percent >= 66:
        return 2
    return 3


def _user_rows(plan: _Plan, password_hash: str) -> Iterator[tuple[Any, ...]]:
    created = _at(plan.terms[0].start - dt.timedelta(days=10), 14)
    guardians = [user for family in plan.families for user, _ in family.guardians]
    for user in itertools.chain(plan.admins, plan.teachers, plan.tutors, guardians):
        yield (user.id, user.email, user.name, user.role, password_hash, True, created)
    for student in plan.students:
        yield (
            student.user_id,
            student.email,
            student.name,
            "student",
            password_hash,
            True,
            created,
        )


def _student_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    created = _at(plan.terms[0].start - dt.timedelta(days=10), 14)
    for s in plan.students:
        entered = created if s.entry is None else _at(s.entry - dt.timedelta(days=3), 15)
        yield (
            s.id,
            s.external_id,
            s.name,
            search_key(s.name),
            s.email,
            s.grade_level,
            s.user_id,
            entered,
        )


def _guardianship_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for family in plan.families:
        for user, label in family.guardians:
            for child in family.children:
                yield (user.id, child.id, label)


def _tutor_assignment_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for pair in plan.tutoring:
        yield (pair.tutor.id, pair.student.id, _at(pair.start, 15))


def _course_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for section in plan.sections:
        term = plan.terms[section.term_index]
        yield (
            section.id,
            f"{term.code}-{section.spec.code}-{section.number:02d}",
            f"{section.spec.title} (Section {section.number})",
            section.spec.subject,
            term.name,
            section.teacher_id,
            Decimal(section.spec.credits),
            term.start,
            term.end,
        )


def _enrollment_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for e in sorted(plan.enrollments, key=lambda e: e.id):
        yield (e.id, e.student.id, e.section.id, e.start, e.end)


def _assignment_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    for section in plan.sections:
        for a in section.assignments:
            yield (
                a.id,
                section.id,
                a.title,
                a.category,
                Decimal(a.max_points),
                Decimal(a.weight),
                a.due,
            )


class _Evenings:
    """Times work is handed in on a day: between 13:00 and 23:30 UTC."""

    def __init__(self) -> None:
        self._cache: dict[dt.date, tuple[dt.datetime, ...]] = {}

    def __getitem__(self, day: dt.date) -> tuple[dt.datetime, ...]:
        times = self._cache.get(day)
        if times is None:
            base = _at(day, 13)
            times = tuple(base + dt.timedelta(minutes=20 * n) for n in range(32))
            self._cache[day] = times
        return times


def _grade_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    """Grades in (assignment, student) order, which is the unique index's order."""
    rng = _rng(plan.seed, "grades")
    rnd, bits, choice = rng.random, rng.getrandbits, rng.choice
    normal, halves, whole = _NORMAL, _HALF_POINTS, _WHOLE
    evenings = _Evenings()
    today = plan.today
    # The first students' first grades carry texts that export tests look for.
    special = {1: (_GRADED, data.FORMULA_SUM), 2: (_LATE, data.LATENESS)}
    feedback_by_band = data.FEEDBACK_BY_BAND
    grade_id = 0
    for section in plan.sections:
        roster = [
            (e.student.id, e.start, e.end, e.mean, e.student.p_missing, e.student.p_late_work)
            for e in section.enrollments
        ]
        for a in section.assignments:
            if not a.graded:
                continue
            due, points, assignment_id = a.due, a.max_points, a.id
            missing_factor = 1.5 if a.weight == 1 else 0.5 if a.weight >= 3 else 1.0
            on_time = evenings[due]
            for student_id, start, end, mean, p_missing, p_late in roster:
                if due < start or (end is not None and due > end):
                    continue
                grade_id += 1
                r = rnd()
                forced = special.pop(student_id, None) if student_id <= 2 else None
                if forced is None:
                    threshold = p_missing * missing_factor
                    if r < threshold:
                        note = choice(data.FEEDBACK_MISSING) if rnd() < 0.4 else None
                        yield (grade_id, assignment_id, student_id, None, _MISSING, None, note)
                        continue
                    if r < threshold + 0.008:
                        note = choice(data.FEEDBACK_EXCUSED) if rnd() < 0.6 else None
                        yield (grade_id, assignment_id, student_id, None, _EXCUSED, None, note)
                        continue
                    late = r > 1.0 - p_late
                else:
                    late = forced[0] == _LATE
                percent = mean + a.difficulty + 8.0 * normal[bits(12)]
                if late:
                    percent *= 0.9
                if percent > 100.0:
                    # Now and then a strong piece earns extra credit.
                    percent = min(percent, _MAX_PERCENT) if rnd() < 0.15 else 100.0
                elif percent < 0.0:
                    percent = 0.0
                if points >= 50:
                    score = whole[int(percent * points / 100.0 + 0.5)]
                else:
                    score = halves[int(percent * points / 50.0 + 0.5)]
                if late:
                    handed_in = min(due + dt.timedelta(days=1 + bits(2)), today)
                    submitted = evenings[handed_in][bits(5)]
                    note = choice(data.FEEDBACK_LATE) if rnd() < 0.4 else None
                else:
                    submitted = on_time[bits(5)]
                    note = choice(feedback_by_band[_band(percent)]) if rnd() < 0.08 else None
                if forced is not None:
                    note = forced[1]
                yield (
                    grade_id,
                    assignment_id,
                    student_id,
                    score,
                    _LATE if late else _GRADED,
                    submitted,
                    note,
                )


def _schedules(plan: _Plan) -> dict[int, list[list[tuple[int, dt.date, dt.date | None]]]]:
    """Per student, per started term: (course id, first day, last day or None), by course."""
    schedules: dict[int, list[list[tuple[int, dt.date, dt.date | None]]]] = {
        student.id: [[] for _ in range(plan.started)] for student in plan.students
    }
    for section in plan.sections:
        if section.term_index >= plan.started:
            continue
        for e in section.enrollments:
            schedules[e.student.id][section.term_index].append((section.id, e.start, e.end))
    for terms in schedules.values():
        for courses in terms:
            courses.sort()
    return schedules


def _runs(
    days: tuple[dt.date, ...], courses: list[tuple[int, dt.date, dt.date | None]]
) -> list[tuple[int, int, list[int]]]:
    """Stretches of days (start index, stop index, course ids) with the same courses."""
    spans = [
        (
            course_id,
            bisect.bisect_left(days, start),
            len(days) if end is None else bisect.bisect_right(days, end),
        )
        for course_id, start, end in courses
    ]
    cuts = sorted({0, len(days), *(lo for _, lo, _ in spans), *(hi for _, _, hi in spans)})
    runs = []
    for lo, hi in itertools.pairwise(cuts):
        active = [course_id for course_id, a, b in spans if a <= lo and hi <= b]
        if active:
            runs.append((lo, hi, active))
    return runs


def _attendance_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    """One row per student, school day and course, in the unique index's order."""
    rng = _rng(plan.seed, "attendance")
    rnd = rng.random
    schedules = _schedules(plan)
    row_id = 0
    for student in plan.students:
        sid = student.id
        absent = student.p_absent_day
        excused = absent + student.p_excused_day
        late = student.p_late_class
        cut = late + student.p_cut
        sick_days = 0
        for term_index, courses in enumerate(schedules[sid]):
            days = plan.data_days[term_index]
            for lo, hi, active in _runs(days, courses):
                for day in days[lo:hi]:
                    if sick_days:
                        sick_days -= 1
                        status = _EXCUSED_ABSENCE
                    else:
                        r = rnd()
                        if r < absent:
                            status = _ABSENT
                        elif r < excused:
                            status = _EXCUSED_ABSENCE
                            # Illness lasts a day or three.
                            sick_days = int(rnd() * 3)
                        else:
                            for course_id in active:
                                row_id += 1
                                r = rnd()
                                yield (
                                    row_id,
                                    sid,
                                    course_id,
                                    day,
                                    _LATE_TO_CLASS
                                    if r < late
                                    else _ABSENT
                                    if r < cut
                                    else _PRESENT,
                                )
                            continue
                    for course_id in active:
                        row_id += 1
                        yield (row_id, sid, course_id, day, status)


def _active_on(courses: list[tuple[int, dt.date, dt.date | None]], day: dt.date) -> list[int]:
    return [cid for cid, start, end in courses if start <= day and (end is None or day <= end)]


def _analytics_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    """Weekly platform use per student, fortnightly engagement per course, reading
    levels and benchmark tests."""
    rng = _rng(plan.seed, "analytics")
    bits = rng.getrandbits
    normal = _NORMAL
    schedules = _schedules(plan)
    row_id = 0
    week_times = [[_at(week.last_day, 22) for week in weeks] for weeks in plan.weeks]
    benchmark_weeks = _benchmark_weeks(plan)
    for student in plan.students:
        sid, ability, engagement = student.id, student.ability, student.engagement
        reads = student.grade_level <= 10
        for term_index, weeks in enumerate(plan.weeks):
            courses = schedules[sid][term_index]
            for week in weeks:
                if student.entry is not None and week.last_day < student.entry:
                    continue
                at = week_times[term_index][week.index]
                logins = max(0, round(1 + 8 * engagement + 2 * normal[bits(12)]))
                minutes = max(0, round(30 + 240 * engagement + 40 * normal[bits(12)]))
                row_id += 2
                yield (row_id - 1, sid, None, "lms_logins", float(logins), at, "lms")
                yield (row_id, sid, None, "lms_minutes", float(minutes), at, "lms")
                if week.index % 2 == 1:
                    for course_id in _active_on(courses, week.last_day):
                        value = 20 + 70 * engagement + 12 * normal[bits(12)]
                        row_id += 1
                        yield (
                            row_id,
                            sid,
                            course_id,
                            "engagement",
                            round(min(100.0, max(0.0, value)), 1),
                            at,
                            "lms",
                        )
                if reads and week.index % 4 == 2:
                    growth = 6 * (len(plan.weeks[0]) * term_index + week.index)
                    lexile = 960 + 70 * (student.grade_level - 9) + 110 * ability + growth
                    row_id += 1
                    yield (
                        row_id,
                        sid,
                        None,
                        "reading_level",
                        float(round(lexile + 25 * normal[bits(12)])),
                        at,
                        "reading-app",
                    )
                if (term_index, week.index) in benchmark_weeks:
                    season = benchmark_weeks[term_index, week.index]
                    base = 221 + 3 * (student.grade_level - 9) + 2 * season
                    tested = _at(week.last_day, 15)
                    for metric, spread in (("map_math_rit", 13), ("map_reading_rit", 11)):
                        row_id += 1
                        value = base + spread * ability + 4 * normal[bits(12)]
                        yield (row_id, sid, None, metric, float(round(value)), tested, "nwea")


def _benchmark_weeks(plan: _Plan) -> dict[tuple[int, int], int]:
    """Benchmark tests: mid-September, mid-January and May. Value: 0, 1, 2 for the season."""
    fall_week, winter_week = 3, 0
    spring_week = len(_weeks(plan.terms[1], plan.terms[1].end)) - 4
    return {(0, fall_week): 0, (1, winter_week): 1, (1, spring_week): 2}


def _teacher_report_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    """A weekly note on some students of each section, more often on struggling ones."""
    rng = _rng(plan.seed, "teacher-reports")
    rnd, choice = rng.random, rng.choice
    special: dict[int, tuple[str | None, str | None]] = {
        1: (None, data.AT_HOME),
        2: (data.WITH_TAB, None),
    }
    row_id = 0
    for term_index, weeks in enumerate(plan.weeks):
        sections = [s for s in plan.sections if s.term_index == term_index]
        for week in weeks:
            written = _at(week.last_day, 21, 30)
            for section in sections:
                for e in section.enrollments:
                    if e.start > week.last_day or (e.end is not None and e.end < week.monday):
                        continue
                    student = e.student
                    forced = special.pop(student.id, None) if student.id <= 2 else None
                    if forced is None and rnd() >= (0.05 if e.mean >= 68 else 0.22):
                        continue
                    band = _band(e.mean + 6 * rng.gauss(0, 1))
                    completion = 100 * (1 - 1.5 * student.p_missing) + 6 * rng.gauss(0, 1)
                    behaviour = choice(data.BEHAVIOUR) if rnd() < 0.8 else None
                    next_steps = choice(data.NEXT_STEPS) if rnd() < 0.9 else None
                    if forced is not None:
                        behaviour = forced[0] or behaviour
                        next_steps = forced[1] or next_steps
                    row_id += 1
                    yield (
                        row_id,
                        section.teacher_id,
                        student.id,
                        section.id,
                        week.monday,
                        choice(data.PROGRESS_BY_BAND[band]).format(name=student.given),
                        _WHOLE[max(0, min(100, round(completion)))],
                        behaviour,
                        next_steps,
                        written,
                    )


_HOURS = (Decimal("1.00"), Decimal("1.00"), Decimal("1.50"), Decimal("2.00"))


def _tutor_report_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    rng = _rng(plan.seed, "tutor-reports")
    rnd, choice = rng.random, rng.choice
    special = {3: data.QUOTED_MULTILINE, 5: data.PHONE_NUMBER}
    weeks = [week for term_weeks in plan.weeks for week in term_weeks]
    row_id = 0
    for pair in plan.tutoring:
        student = pair.student
        for week in weeks:
            if week.last_day < pair.start:
                continue
            forced = special.pop(student.id, None) if pair.tutor is plan.tutors[0] else None
            if forced is None and rnd() < 0.1:
                continue  # a week without a session
            topics = rng.sample(data.TUTOR_TOPICS[pair.specialty], 1 + (rnd() < 0.4))
            rating = round(3 + 0.8 * student.ability + 0.8 * rng.gauss(0, 1))
            row_id += 1
            yield (
                row_id,
                pair.tutor.id,
                student.id,
                week.monday,
                "; ".join(topics),
                choice(_HOURS),
                max(1, min(5, rating)),
                forced if forced is not None else choice(data.TUTOR_NOTES) if rnd() < 0.7 else None,
                _at(week.last_day, 23),
            )


def _student_report_rows(plan: _Plan) -> Iterator[tuple[Any, ...]]:
    """A progress report once mid-term has passed, a term report once the term is over."""
    rng = _rng(plan.seed, "student-reports")
    rnd, choice = rng.random, rng.choice
    by_student: dict[tuple[int, int], list[_Enrollment]] = defaultdict(list)
    for section in plan.sections:
        if section.term_index < plan.started:
            for e in section.enrollments:
                by_student[e.student.id, section.term_index].append(e)
    row_id = 0
    special = {1: data.QUOTED_MULTILINE}
    for term_index in range(plan.started):
        term = plan.terms[term_index]
        midterm = term.days[len(term.days) // 2]
        # Written on the Friday after the period ends.
        periods = [(end, _weekday_on_or_after(end + _DAY, _FRIDAY)) for end in (midterm, term.end)]
        for period_end, written in periods:
            if written > plan.today:
                continue
            for student in plan.students:
                enrollments = by_student.get((student.id, term_index))
                if not enrollments:
                    continue
                mean = sum(e.mean for e in enrollments) / len(enrollments)
                band = _band(mean + 3 * rng.gauss(0, 1))
                summary = choice(data.REPORT_SUMMARY_BY_BAND[band]).format(
                    name=student.given, period="term"
                )
                concerns = choice(data.CONCERNS) if band >= 2 or rnd() < 0.15 else None
                forced = special.pop(student.id, None)
                row_id += 1
                yield (
                    row_id,
                    min(enrollments, key=lambda e: e.section.id).section.teacher_id,
                    student.id,
                    term.start,
                    period_end,
                    summary,
                    choice(data.STRENGTHS),
                    forced if forced is not None else concerns,
                    choice(data.RECOMMENDATIONS),
                    _at(written, 16),
                )


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

# Table -> columns, in load order (parents before children).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "email", "name", "role", "password_hash", "active", "created_at"),
    "students": (
        "id",
        "external_id",
        "name",
        "name_search",
        "email",
        "grade_level",
        "user_id",
        "created_at",
    ),
    "guardianships": ("guardian_id", "student_id", "relationship"),
    "tutor_assignments": ("tutor_id", "student_id", "created_at"),
    "courses": (
        "id",
        "external_id",
        "name",
        "subject",
        "term",
        "teacher_id",
        "credits",
        "start_date",
        "end_date",
    ),
    "enrollments": ("id", "student_id", "course_id", "start_date", "end_date"),
    "assignments": ("id", "course_id", "title", "category", "max_points", "weight", "due_date"),
    "grades": ("id", "assignment_id", "student_id", "score", "status", "submitted_at", "feedback"),
    "attendance": ("id", "student_id", "course_id", "date", "status"),
    "analytics_data": (
        "id",
        "student_id",
        "course_id",
        "metric_type",
        "value",
        "recorded_at",
        "source",
    ),
    "student_reports": (
        "id",
        "author_id",
        "student_id",
        "period_start",
        "period_end",
        "summary",
        "strengths",
        "concerns",
        "recommendations",
        "created_at",
    ),
    "teacher_weekly_reports": (
        "id",
        "teacher_id",
        "student_id",
        "course_id",
        "week_start",
        "progress_summary",
        "homework_completion",
        "behaviour",
        "next_steps",
        "created_at",
    ),
    "tutor_weekly_reports": (
        "id",
        "tutor_id",
        "student_id",
        "week_start",
        "topics",
        "hours",
        "progress_rating",
        "notes",
        "created_at",
    ),
}

_ROWS: dict[str, Callable[[_Plan], Iterable[tuple[Any, ...]]]] = {
    "students": _student_rows,
    "guardianships": _guardianship_rows,
    "tutor_assignments": _tutor_assignment_rows,
    "courses": _course_rows,
    "enrollments": _enrollment_rows,
    "assignments": _assignment_rows,
    "grades": _grade_rows,
    "attendance": _attendance_rows,
    "analytics_data": _analytics_rows,
    "student_reports": _student_report_rows,
    "teacher_weekly_reports": _teacher_report_rows,
    "tutor_weekly_reports": _tutor_report_rows,
}

# For the load only, on the load's own connection, restored afterwards.
_SQLITE_LOAD_PRAGMAS = {
    # The generator makes every row satisfy the foreign keys and CHECK constraints
    # (tests/test_demo.py verifies both, and PostgreSQL enforces them on every
    # test run). Checked per row they cost more than half of SQLite's insert time:
    # a `status IN (...)` check alone doubles it.
    "foreign_keys": "OFF",
    "ignore_check_constraints": "ON",
    # Only an OS crash or power cut during the load could hurt, and it would hit a
    # database that was empty to begin with.
    "synchronous": "OFF",
    # A rollback journal instead of the app's write-ahead log (WAL comes back
    # after the load): a rollback journal keeps only the pages the load changes,
    # few in an empty database, where WAL would write every new page twice,
    # to the log and again into the file. About 15% of the load time. With other
    # connections open SQLite keeps WAL, and the load just takes longer.
    "journal_mode": "TRUNCATE",
}
_PROGRESS_EVERY = 200_000


def _load(
    connection: Connection, plan: _Plan, password_hash: str, progress: Progress
) -> dict[str, int]:
    sqlite = connection.dialect.name == "sqlite"
    saved = _set_pragmas(connection, _SQLITE_LOAD_PRAGMAS) if sqlite else {}
    try:
        with connection.begin():
            if sqlite:
                # pysqlite opens a transaction only before DML; open it now so the
                # index drops below are part of it and roll back with a failed load.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            _refuse_unless_empty(connection)
            tables = [Base.metadata.tables[name] for name in _COLUMNS]
            # Built in one pass over the loaded rows, indexes and foreign keys cost a
            # fraction of what they cost row by row. SQLite's foreign keys are off
            # for the load instead (see _SQLITE_LOAD_PRAGMAS): it cannot drop them.
            indexes = _secondary_indexes(connection, tables)
            foreign_keys = [] if sqlite else _foreign_keys(connection, tables)
            for foreign_key in foreign_keys:
                connection.execute(DropConstraint(foreign_key))
            for index in indexes:
                index.drop(connection)
            counts: dict[str, int] = {}
            for table in tables:
                rows: Iterable[tuple[Any, ...]]
                if table.name == "users":
                    rows = _user_rows(plan, password_hash)
                else:
                    rows = _ROWS[table.name](plan)
                counts[table.name] = _insert(connection, table, rows, progress)
            for number, index in enumerate(indexes, start=1):
                index.create(connection)
                progress("indexes", number)
            # Adding a foreign key checks every row against its parent table.
            for foreign_key in foreign_keys:
                connection.execute(AddConstraint(foreign_key))
            if not sqlite:
                _advance_sequences(connection, tables)
                names = ", ".join(
                    connection.dialect.identifier_preparer.quote(t.name) for t in tables
                )
                connection.exec_driver_sql(f"ANALYZE {names}")
    finally:
        if sqlite:
            _set_pragmas(connection, saved)
    return counts


def _set_pragmas(connection: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """Set these pragmas (outside any transaction) and return what they were."""
    try:
        previous = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in values}
        for name, value in values.items():
            connection.exec_driver_sql(f"PRAGMA {name} = {value}").close()
        connection.commit()
    except Exception:
        # A pooled connection must not go back with half of its settings changed.
        connection.invalidate()
        raise
    return previous


def _insert(
    connection: Connection, table: Table, rows: Iterable[tuple[Any, ...]], progress: Progress
) -> int:
    """Insert in slices, so progress counts rows that are in, at no cost per row."""
    iterator = iter(rows)
    columns = _COLUMNS[table.name]
    done = 0
    while True:
        added = bulk_insert(connection, table, columns, itertools.islice(iterator, _PROGRESS_EVERY))
        done += added
        progress(table.name, done)
        if added < _PROGRESS_EVERY:
            return done


def _refuse_unless_empty(connection: Connection) -> None:
    counts = {
        name: connection.execute(
            select(func.count()).select_from(Base.metadata.tables[name])
        ).scalar_one()
        for name in ("users", "students")
    }
    if any(counts.values()):
        raise DatabaseNotEmpty(
            f"The database already has {counts['users']} users and {counts['students']} "
            "students. The demo school loads only into an empty database: point "
            "MARKBOOK_DATABASE_URL at a new database, migrate it, and run the demo there."
        )


def _secondary_indexes(connection: Connection, tables: Sequence[Table]) -> list[Index]:
    """The metadata's non-unique indexes on these tables that the database has.

    They are rebuilt from the same metadata after the load, so the schema ends
    exactly as the migrations made it. Unique ones stay: they guard the load, and
    rows go in in their order, so they cost little.
    """
    inspector = inspect(connection)
    found: list[Index] = []
    for table in tables:
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        found.extend(
            index
            for index in sorted(table.indexes, key=lambda index: str(index.name))
            if not index.unique and index.name in present
        )
    return found


def _foreign_keys(connection: Connection, tables: Sequence[Table]) -> list[ForeignKeyConstraint]:
    """The metadata's foreign keys on these tables that the database has."""
    inspector = inspect(connection)
    found: list[ForeignKeyConstraint] = []
    for table in tables:
        present = {key["name"] for key in inspector.get_foreign_keys(table.name)}
        found.extend(
            key
            for key in sorted(table.foreign_key_constraints, key=lambda key: str(key.name))
            if key.name in present
        )
    return found


def _advance_sequences(connection: Connection, tables: Sequence[Table]) -> None:
    """Rows went in with explicit ids; move PostgreSQL's sequences past them."""
    for table in tables:
        if [column.name for column in table.primary_key.columns] != ["id"]:
            continue
        highest = func.max(table.c.id)
        connection.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(table.name, "id"),
                    func.coalesce(highest, 1),
                    highest.is_not(None),
                )
            )
        )
