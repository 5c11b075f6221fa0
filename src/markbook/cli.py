"""The ``markbook`` command: serve, migrate, demo data, users, tokens and reports."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.filesize import decimal
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from markbook import migrate
from markbook.auth.models import Role
from markbook.db import make_engine, make_sessionmaker, session_scope
from markbook.errors import MarkbookError
from markbook.jobs.models import ExportJob, JobStatus
from markbook.settings import InsecureSecretKey, Settings, get_settings

if TYPE_CHECKING:
    from markbook.demo import DemoSummary

app = typer.Typer(
    help="Markbook: student performance reports, report cards and data exports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
jobs_app = typer.Typer(
    help="Background jobs: exports, workbooks, report cards.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")

# Messages and tables go to stderr; stdout carries only what a script would
# capture (a token, a report file).
console = Console(stderr=True)


def _settings() -> Settings:
    settings = get_settings()
    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        # Alembic narrates every step at INFO; the commands say what happened.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def _unit_of_work(settings: Settings) -> Iterator[Session]:
    """A session committed if the block succeeds; a refused request exits 1 with its reason."""
    engine = make_engine(settings)
    try:
        if not migrate.is_up_to_date(settings, engine):
            raise _fail("the database schema is not up to date; run `markbook db upgrade` first.")
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    except MarkbookError as error:
        raise _fail(error.detail) from None
    finally:
        engine.dispose()


def _parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} must be a date like 2026-11-22, not {value!r}.") from None


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the schema migrations (creates the database's tables when empty)."""
    settings = _settings()
    migrate.upgrade(settings, revision)
    engine = make_engine(settings)
    console.print(f"database at revision [bold]{migrate.current_revision(engine)}[/]")
    engine.dispose()


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and whether it is the newest."""
    settings = _settings()
    engine = make_engine(settings)
    current = migrate.current_revision(engine)
    head = migrate.head_revision(settings)
    engine.dispose()
    state = "up to date" if current == head else f"behind (newest is {head})"
    console.print(f"revision {current or 'none'}: {state}")


def _print_sign_ins(summary: DemoSummary) -> None:
    table = Table(title="Demo sign-ins (password for every demo account shown)")
    table.add_column("role")
    table.add_column("email")
    table.add_column("password")
    table.add_column("name")
    for sign_in in summary.sign_ins:
        table.add_row(sign_in.role, sign_in.email, sign_in.password, sign_in.name)
    console.print(table)


def _build_demo(settings: Settings, students: int, seed: int, today: dt.date | None) -> DemoSummary:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from markbook.demo import build_demo

    engine = make_engine(settings)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("building the demo school", total=None)

            def report(stage: str, rows: int) -> None:
                progress.update(task, description=f"{stage}: {rows:,} rows")

            summary = build_demo(engine, students=students, seed=seed, today=today, progress=report)
    finally:
        engine.dispose()
    total = sum(summary.rows.values())
    console.print(
        f"demo school: {summary.students:,} students, {total:,} rows in "
        f"{summary.seconds:.1f} s (seed {summary.seed}, today {summary.today.isoformat()})"
    )
    return summary


@app.command()
def demo(
    students: Annotated[int, typer.Option(min=1, max=200_000, help="How many students.")] = 300,
    seed: Annotated[int, typer.Option(help="Same seed and day, same school.")] = 42,
    today: Annotated[
        Optional[str],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option(help="The day the records run up to (YYYY-MM-DD); default today."),
    ] = None,
) -> None:
    """Fill an empty database with a realistic demo school."""
    from markbook.demo import DatabaseNotEmpty

    settings = _settings()
    migrate.upgrade(settings)
    try:
        summary = _build_demo(settings, students, seed, _parse_date(today, "--today"))
    except DatabaseNotEmpty as error:
        raise _fail(str(error)) from None
    _print_sign_ins(summary)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    with_demo: Annotated[
        bool, typer.Option("--demo", help="Create the demo school first if the database is empty.")
    ] = False,
    students: Annotated[int, typer.Option(min=1, help="Demo size with --demo.")] = 300,
) -> None:
    """Apply migrations and serve the API (and, with --demo, demo data)."""
    import uvicorn

    from markbook.app import create_app

    settings = _settings()
    try:
        settings.resolved_secret_key()
    except InsecureSecretKey as error:
        raise _fail(str(error)) from None
    migrate.upgrade(settings)
    if with_demo:
        from markbook.demo import DatabaseNotEmpty

        try:
            _print_sign_ins(_build_demo(settings, students, 42, None))
        except DatabaseNotEmpty:
            console.print(
                "The database already has data, so no demo school was created. Demo accounts, "
                "if this is a demo database, use the password [bold]markbook-demo[/]."
            )
    url = f"http://{host}:{port}"
    console.print(f"Markbook is at [bold]{url}[/]  (API docs: {url}/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[Role, typer.Option(help="What the account may see and do.")],
    password: Annotated[
        Optional[str],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option(help="Password; prompted for (or generated) when left out."),
    ] = None,
) -> None:
    """Create a user account."""
    from markbook.auth import service

    settings = _settings()
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Again: ") != password:
                raise _fail("the passwords differ.")
        else:
            password = secrets.token_urlsafe(12)
            generated = True
    with _unit_of_work(settings) as session:
        user = service.create_user(session, email=email, name=name, role=role, password=password)
        summary = f"created {user.role} {user.email} (id {user.id})"
    console.print(summary)
    if generated:
        console.print(f"generated password: [bold]{password}[/]")


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    expires_days: Annotated[
        Optional[int],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option(min=1, help="Lifetime in days; none for no expiry."),
    ] = None,
) -> None:
    """Create an API token and print it (alone, on stdout)."""
    from markbook.auth import service

    with _unit_of_work(_settings()) as session:
        user = service.user_by_email(session, email)
        if user is None or not user.active:
            raise _fail(f"there is no active user with the email {email}.")
        _, value = service.create_token(session, user, name, expires_days)
    typer.echo(value)


@app.command()
def report(
    student: Annotated[str, typer.Argument(help="The student's id or SIS id.")],
    start: Annotated[
        Optional[str],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option("--from", help="First day, e.g. 2026-09-01; default: the current term."),
    ] = None,
    end: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--to", help="Last day (inclusive); default: the current term's end."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, pdf, csv or xlsx.")] = "json",
    course: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--course", min=1, help="Only this course (its id)."),
    ] = None,
    bom: Annotated[bool, typer.Option(help="CSV: start with a UTF-8 byte order mark.")] = False,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="File to write; default: stdout."),
    ] = None,
) -> None:
    """Write a student's performance report (JSON, PDF, CSV or XLSX)."""
    from markbook.audit import AuditAction, Channel, record_access
    from markbook.cache import make_cache
    from markbook.reports import service

    try:
        report_format = service.ReportFormat(fmt.lower())
    except ValueError:
        raise _fail(f"--format must be one of json, pdf, csv, xlsx; not {fmt!r}.") from None
    if output is None and report_format in _BINARY and sys.stdout.isatty():
        raise _fail(f"a {report_format} report is binary: write it to a file with -o FILE.")
    settings = _settings()
    cache = make_cache(settings)
    with _unit_of_work(settings) as session:
        request = service.ReportRequest(
            student_id=service.find_student(session, student).id,
            start=_parse_date(start, "--from"),
            end=_parse_date(end, "--to"),
            course_id=course,
            format=report_format,
            bom=bom,
            start_field="--from",
            end_field="--to",
        )
        rendered = service.student_performance(
            session,
            cache,
            None,
            request,
            today=dt.date.today(),
            school_name=settings.school_name,
            ttl_seconds=settings.report_cache_ttl_seconds,
        )
        action = AuditAction.read if output is None else AuditAction.download
        record_access(
            session,
            None,
            action,
            Channel.cli,
            "performance_report",
            [rendered.student.id],
            detail={
                "start": rendered.period.start.isoformat(),
                "end": rendered.period.end.isoformat(),
                "format": report_format.value,
            },
        )
    cache.close()
    if output is None:
        sys.stdout.buffer.write(rendered.body)
        sys.stdout.buffer.flush()
        return
    _write_atomically(output, rendered.body)
    console.print(
        f"wrote [bold]{output}[/] ({len(rendered.body):,} bytes): {rendered.student.name}, "
        f"{rendered.period.start} to {rendered.period.end}"
    )


# Which option of `markbook export` each ExportSpec field comes from, for messages.
_EXPORT_OPTIONS = {
    "columns": "--columns",
    "student_ids": "--student",
    "course_ids": "--course",
    "metric_types": "--metric",
    "start": "--from",
    "end": "--to",
    "filter": "--filter",
    "sort": "--sort",
    "limit": "--limit",
    "date_format": "--date-format",
    "delimiter": "--delimiter",
    "encoding": "--no-bom",
    "null": "--null",
    "formula_guard": "--no-formula-guard",
    "compress": "--gzip",
    "weekly": "--weekly",
    "chart": "--chart",
}


def _spec_problem(error: ValidationError) -> str:
    """A pydantic error on the export options as one sentence naming the options."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = next((str(part) for part in item["loc"] if isinstance(part, str)), None)
        option = _EXPORT_OPTIONS.get(field or "")
        if option is None and field is None:
            option = "--from/--to"
        problems.append(f"{option or field}: {message}")
    return "; ".join(problems).rstrip(".") + "."


class _RowsPerSecond(ProgressColumn):
    """How many rows a second are being written."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            # Rich needs two samples for a speed; a batch or two of a fast export gives one.
            speed = task.completed / task.elapsed
        if speed is None:
            return Text("? rows/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} rows/s", style="progress.data.speed")


@app.command()
def export(
    dataset: Annotated[str, typer.Argument(help="The dataset: grades, attendance, analytics...")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help="csv, xlsx, ndjson, json or parquet."
        ),
    ] = "csv",
    columns: Annotated[
        Optional[str],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option("--columns", metavar="A,B", help="Columns to include, in this order: a,b,c."),
    ] = None,
    filters: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--filter",
            metavar="COL:OP:VALUE",
            help="column:op:value, op one of eq ne lt le gt ge in contains (in: a|b). Repeatable.",
        ),
    ] = None,
    start: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--from",
            metavar="YYYY-MM-DD",
            help="First day (YYYY-MM-DD) on the dataset's date column.",
        ),
    ] = None,
    end: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--to", metavar="YYYY-MM-DD", help="Last day (inclusive)."),
    ] = None,
    students: Annotated[
        Optional[list[str]],  # noqa: UP045 - checked by ExportSpec, so a bad one exits 1
        typer.Option("--student", metavar="ID", help="Only this student (id). Repeatable."),
    ] = None,
    courses: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--course", metavar="ID", help="Only this course (id). Repeatable."),
    ] = None,
    metrics: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--metric", metavar="TYPE", help="Only this metric type. Repeatable."),
    ] = None,
    sort: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--sort",
            metavar="[-]COL",
            help="Sort by a column; -column sorts descending. Repeatable.",
        ),
    ] = None,
    limit: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--limit", metavar="N", help="Most rows to export."),
    ] = None,
    date_format: Annotated[
        str, typer.Option("--date-format", metavar="STYLE", help="iso, us, eu or full.")
    ] = "iso",
    delimiter: Annotated[
        str, typer.Option("--delimiter", metavar="CHAR", help="CSV delimiter: , ; tab or pipe.")
    ] = ",",
    bom: Annotated[
        bool, typer.Option("--bom/--no-bom", help="CSV: start with a UTF-8 byte order mark.")
    ] = True,
    null: Annotated[
        str, typer.Option("--null", metavar="TEXT", help="CSV: the text of an empty value.")
    ] = "",
    formula_guard: Annotated[
        bool,
        typer.Option(
            "--formula-guard/--no-formula-guard",
            help="CSV: prefix text starting with = + - @ with an apostrophe.",
        ),
    ] = True,
    gzip: Annotated[bool, typer.Option("--gzip", help="gzip csv, ndjson or json.")] = False,
    weekly: Annotated[
        bool, typer.Option("--weekly", help="class_analytics: one row per ISO week too.")
    ] = False,
    chart: Annotated[
        bool, typer.Option("--chart", help="class_analytics as xlsx: add a chart.")
    ] = False,
    output: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="File to write, - for stdout; default: the export's own name.",
        ),
    ] = None,
) -> None:
    """Export a dataset to a file (CSV, XLSX, NDJSON, JSON or Parquet), as the system."""
    import tempfile

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from markbook.audit import Channel
    from markbook.auth.models import User
    from markbook.exports import service
    from markbook.exports.spec import ExportFormat, ExportSpec

    try:
        export_format = ExportFormat(fmt.lower())
    except ValueError:
        formats = ", ".join(item.value for item in ExportFormat)
        raise _fail(f"--format must be one of {formats}; not {fmt!r}.") from None
    given: dict[str, object] = {
        "columns": columns,
        "student_ids": students or None,
        "course_ids": courses or None,
        "metric_types": metrics or None,
        "start": _parse_date(start, "--from"),
        "end": _parse_date(end, "--to"),
        "filter": filters or [],
        "sort": sort or [],
        "limit": limit,
        "date_format": date_format.lower(),
        "delimiter": delimiter,
        "encoding": "utf-8-sig" if bom else "utf-8",
        "null": null,
        "formula_guard": formula_guard,
        "compress": "gzip" if gzip else "none",
        "weekly": weekly,
        "chart": chart,
    }
    try:
        spec = ExportSpec.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        raise _fail(_spec_problem(error)) from None
    to_stdout = output == "-"
    binary = gzip or export_format in (ExportFormat.xlsx, ExportFormat.parquet)
    if to_stdout and sys.stdout.isatty() and binary:
        raise _fail(f"{export_format} exports are binary: write one to a file with -o FILE.")
    target = None if output is None or to_stdout else Path(output)
    if target is not None and target.is_dir():
        raise _fail(f"{target} is a directory; give a file name.")

    settings = _settings()
    engine = make_engine(settings)
    # The command line acts as the system, like an administrator; the audit trail
    # records it with no actor on the cli channel.
    system = User(id=0, role=Role.admin.value, email="cli", name="command line")
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RowsPerSecond(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        # Rich draws nothing off a terminal; disabled, it does not print a blank line.
        disable=to_stdout or not console.is_terminal,
    )
    # XLSX is finished before prepare() returns, in work_dir: beside the target, so
    # it is renamed into place, not copied (a rename cannot cross file systems).
    work = tempfile.TemporaryDirectory(prefix="markbook-export-")
    if to_stdout:
        work_dir = Path(work.name)
    elif target is not None:
        work_dir = target.absolute().parent
    else:
        work_dir = Path.cwd()
    prepared: service.Export | None = None
    try:
        if not migrate.is_up_to_date(settings, engine):
            raise _fail("the database schema is not up to date; run `markbook db upgrade` first.")
        with progress:
            task = progress.add_task(dataset, total=None)
            prepared = service.prepare(
                settings,
                engine,
                system,
                dataset,
                export_format,
                spec,
                on_done=service.auditor(
                    make_sessionmaker(engine),
                    None,
                    Channel.cli,
                    detail={"format": export_format.value},
                ),
                progress=lambda rows: progress.advance(task, rows),
                on_total=lambda total: progress.update(task, total=total),
                work_dir=work_dir,
                mark_failures=False,
            )
            if to_stdout:
                size = 0
                for chunk in prepared.chunks:
                    sys.stdout.buffer.write(chunk)
                    size += len(chunk)
                sys.stdout.buffer.flush()
                where = "stdout"
            else:
                path = target or Path(prepared.filename)
                size = service.export_to_file(prepared, path)
                where = str(path)
    except MarkbookError as error:
        raise _fail(error.detail) from None
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    except OSError as error:
        raise _fail(f"cannot write the export: {error.strerror or error}.") from None
    except typer.Exit:
        raise
    except Exception as error:
        logging.getLogger(__name__).debug("export failed", exc_info=True)
        raise _fail(
            f"the export failed ({type(error).__name__}: {error}); no file was kept."
        ) from None
    finally:
        if prepared is not None:
            prepared.close()  # a stream left part way: end its read and its audit
        work.cleanup()
        engine.dispose()
    rows = f"{prepared.rows:,} row{'' if prepared.rows == 1 else 's'}"
    console.print(f"Wrote {rows} to {where} ({decimal(size)})", highlight=False)


_BINARY = {"pdf", "xlsx"}


def _write_atomically(path: Path, body: bytes) -> None:
    """Write under a temporary name beside ``path``, then rename: a reader never sees
    half a file, and a failure leaves none behind."""
    if path.is_dir():
        raise _fail(f"{path} is a directory; give a file name.")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_bytes(body)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _fail(f"cannot write {path}: {error.strerror or error}.") from None


@app.command()
def worker(
    concurrency: Annotated[
        Optional[int],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option(min=1, help="Worker processes (default: one per CPU)."),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery's log level.")] = "INFO",
) -> None:
    """Run a Celery worker for background jobs (needs MARKBOOK_BROKER_URL)."""
    from markbook.jobs.tasks import QUEUE, make_celery

    settings = _settings()
    if not settings.broker_url:
        raise _fail(
            "MARKBOOK_BROKER_URL is not set, so there is no queue to work on: without a broker, "
            "jobs run inside `markbook serve`. Set it to redis://... or amqp://... on the server "
            "and the workers."
        )
    engine = make_engine(settings)
    try:
        if not migrate.is_up_to_date(settings, engine):
            raise _fail("the database schema is not up to date; run `markbook db upgrade` first.")
    finally:
        engine.dispose()
    settings.export_dir.mkdir(parents=True, exist_ok=True)
    # A node name of its own (Celery expands %h to the host name): two workers on one
    # machine named alike would fight over the broker's exclusive control queue.
    arguments = [
        "worker",
        f"--loglevel={loglevel}",
        "-Q",
        QUEUE,
        "--without-gossip",
        f"--hostname=markbook-{os.getpid()}@%h",
    ]
    if concurrency:
        arguments.append(f"--concurrency={concurrency}")
    make_celery(settings).worker_main(arguments)


def _job_table(jobs: list[ExportJob]) -> Table:
    table = Table("id", "kind", "status", "progress", "file", "created", "expires")
    for job in jobs:
        progress = f"{job.rows_done:,}" + (f" / {job.rows_total:,}" if job.rows_total else "")
        size = f"{job.file_name} ({decimal(job.file_size)})" if job.file_size else ""
        table.add_row(
            job.id,
            job.kind,
            job.status,
            progress,
            size,
            f"{job.created_at:%Y-%m-%d %H:%M}",
            f"{job.expires_at:%Y-%m-%d %H:%M}" if job.expires_at else "",
        )
    return table


@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        Optional[list[JobStatus]],  # noqa: UP045 - Typer reads the annotation at run time
        typer.Option(help="Only jobs in this state (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """Everyone's jobs, newest first."""
    from markbook.jobs import service

    settings = _settings()
    with _unit_of_work(settings) as session:
        jobs, total = service.list_jobs(session, None, status=status, limit=limit)
    console.print(_job_table(jobs))
    console.print(f"{len(jobs)} of {total} jobs", highlight=False)


def _find_job(session: Session, job_id: str) -> ExportJob:
    job = session.get(ExportJob, job_id) if len(job_id) <= 64 else None
    if job is None:
        raise _fail(f"there is no job {job_id}; `markbook jobs list` shows them.")
    return job


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(help="The job's id.")]) -> None:
    """One job: its state, progress, error, result and file."""
    settings = _settings()
    with _unit_of_work(settings) as session:
        job = _find_job(session, job_id)
    table = Table(show_header=False)
    for field_name in (
        "id",
        "kind",
        "status",
        "params",
        "rows_done",
        "rows_total",
        "attempts",
        "error",
        "result",
        "file_path",
        "file_size",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
        "heartbeat_at",
    ):
        value = getattr(job, field_name)
        table.add_row(field_name, "" if value is None else str(value))
    console.print(table)


@jobs_app.command("wait")
def jobs_wait(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    timeout: Annotated[
        float, typer.Option(min=0, help="Give up after this many seconds (0: never).")
    ] = 0,
) -> None:
    """Follow a job with a progress bar until it ends; exit 1 unless it succeeded."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    settings = _settings()
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    started = time.monotonic()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(job_id[:8], total=None, counts="")
            while True:
                with sessions() as session:
                    job = _find_job(session, job_id)
                progress.update(
                    task,
                    completed=job.rows_done,
                    total=job.rows_total,
                    description=f"{job_id[:8]} {job.status}",
                    counts=f"{job.rows_done:,}"
                    + (f"/{job.rows_total:,}" if job.rows_total is not None else ""),
                )
                if job.status not in (JobStatus.queued, JobStatus.running):
                    break
                if timeout and time.monotonic() - started > timeout:
                    raise _fail(f"job {job_id} is still {job.status} after {timeout:g} seconds.")
                time.sleep(0.5)
    finally:
        engine.dispose()
    if job.status != JobStatus.succeeded:
        raise _fail(f"job {job_id} {job.status}" + (f": {job.error}" if job.error else "."))
    console.print(
        f"Job {job_id} succeeded: {job.file_name} ({decimal(job.file_size or 0)}) at "
        f"{job.file_path}",
        highlight=False,
    )


def main() -> None:
    app()
