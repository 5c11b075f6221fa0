"""How long `markbook demo` takes to build a big demo school, against its budget.

    .venv/bin/python bench/bench_demo.py [--students 20000] [--runs 1]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Each case builds the demo into a fresh database (a SQLite file in a temporary
directory; with --postgres also a scratch database `markbook_bench_<pid>` on that
server, dropped afterwards) by running the real command in a child process:

    markbook db upgrade                      (not timed)
    markbook demo --students N --seed 42 --today DAY      (timed: whole-process wall time)

Two days are measured: 2026-11-22 (mid Fall term: the day the budget was set on)
and 2027-05-28 (a week before the school year ends: the most rows, the worst case).
Printed side by side: the budget (180 s for SQLite), the median wall time over
--runs, rows loaded, rows per second, the child's peak RSS and the database size;
then rows per table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BUDGET_SECONDS = {"sqlite": 180.0}
DAYS = ("2026-11-22", "2027-05-28")
SEED = 42


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    rows: dict[str, int]
    database_mb: float | None


@dataclass
class Case:
    backend: str
    today: str
    runs: list[Run]

    @property
    def label(self) -> str:
        return f"{self.backend} --today {self.today}"


def cli_has_demo() -> bool:
    """Whether the installed `markbook` command has `demo` (else build in-process)."""
    markbook = BIN / "markbook"
    if not markbook.exists():
        return False
    probe = subprocess.run(
        [str(markbook), "demo", "--help"], capture_output=True, check=False, cwd=ROOT
    )
    return probe.returncode == 0


def migrate_command(use_cli: bool) -> list[str]:
    if use_cli:
        return [str(BIN / "markbook"), "db", "upgrade"]
    code = (
        "from markbook import migrate; from markbook.settings import Settings; "
        "migrate.upgrade(Settings())"
    )
    return [sys.executable, "-c", code]


def demo_command(use_cli: bool, students: int, today: str) -> list[str]:
    if use_cli:
        return [
            str(BIN / "markbook"),
            "demo",
            "--students",
            str(students),
            "--seed",
            str(SEED),
            "--today",
            today,
        ]
    code = (
        "import datetime as dt; from markbook.db import make_engine; "
        "from markbook.demo import build_demo; from markbook.settings import Settings; "
        f"build_demo(make_engine(Settings()), students={students}, seed={SEED}, "
        f"today=dt.date.fromisoformat({today!r}))"
    )
    return [sys.executable, "-c", code]


def run_child(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run to completion; (wall seconds, peak RSS in MB) of this child alone.

    os.wait4 gives the child's own resource usage, where RUSAGE_CHILDREN would
    report the largest of every child so far.
    """
    with log.open("ab") as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=output, stderr=output, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} failed ({child.returncode}); see {log}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def count_rows(url: str) -> dict[str, int]:
    from markbook.demo import _COLUMNS  # the tables the demo loads, in load order
    from markbook.models import Base

    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {
            name: connection.execute(
                select(func.count()).select_from(Base.metadata.tables[name])
            ).scalar_one()
            for name in _COLUMNS
        }
    engine.dispose()
    return counts


@contextmanager
def sqlite_database() -> Iterator[tuple[str, Callable[[], float | None]]]:
    with tempfile.TemporaryDirectory(prefix="markbook-bench-") as directory:
        path = Path(directory) / "demo.db"

        def size_mb() -> float | None:
            files = [path, path.with_name(path.name + "-wal")]
            return sum(f.stat().st_size for f in files if f.exists()) / 1e6

        yield f"sqlite:///{path}", size_mb


@contextmanager
def postgres_database(server_url: str) -> Iterator[tuple[str, Callable[[], float | None]]]:
    url = make_url(server_url)
    name = f"markbook_bench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = url.set(database=name).render_as_string(hide_password=False)

    def size_mb() -> float | None:
        with admin.connect() as connection:
            size = connection.execute(text("SELECT pg_database_size(:n)"), {"n": name}).scalar()
        return None if size is None else size / 1e6

    try:
        yield scratch, size_mb
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(
    backend: str, today: str, students: int, use_cli: bool, postgres: str | None, log: Path
) -> Run:
    database = sqlite_database() if backend == "sqlite" else postgres_database(str(postgres))
    with database as (url, size_mb):
        env = {
            **os.environ,
            "MARKBOOK_DATABASE_URL": url,
            "MARKBOOK_LOG_LEVEL": "WARNING",
            "MARKBOOK_SECRET_KEY": "bench-" + "x" * 40,
        }
        run_child(migrate_command(use_cli), env, log)
        seconds, rss = run_child(demo_command(use_cli, students, today), env, log)
        return Run(seconds, rss, count_rows(url), size_mb())


def print_report(cases: list[Case], students: int, use_cli: bool) -> None:
    how = "markbook demo (CLI)" if use_cli else "build_demo via python -c"
    print(f"\nDemo school build: {students:,} students, seed {SEED}, {how}")
    header = (
        f"{'case':<30} {'budget s':>8} {'wall s':>8} {'verdict':>8} {'rows':>12} "
        f"{'rows/s':>9} {'peak RSS MB':>11} {'db MB':>7} {'runs':>4}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        wall = statistics.median(run.seconds for run in case.runs)
        rss = statistics.median(run.peak_rss_mb for run in case.runs)
        rows = sum(case.runs[-1].rows.values())
        size = case.runs[-1].database_mb
        budget = BUDGET_SECONDS.get(case.backend)
        verdict = "-" if budget is None else "within" if wall <= budget else "OVER"
        print(
            f"{case.label:<30} {budget or '-':>8} {wall:>8.1f} {verdict:>8} {rows:>12,} "
            f"{rows / wall:>9,.0f} {rss:>11,.0f} {size or 0:>7,.0f} {len(case.runs):>4}"
        )
    print("\nRows per table")
    tables = list(cases[0].runs[-1].rows)
    print(f"{'table':<24}" + "".join(f" {case.label:>30}" for case in cases))
    for table in tables:
        counts = "".join(f" {case.runs[-1].rows[table]:>30,}" for case in cases)
        print(f"{table:<24}{counts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--postgres", metavar="URL", help="also run on a scratch database on this server"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="call build_demo via python -c even if `markbook demo` exists",
    )
    args = parser.parse_args()
    use_cli = cli_has_demo() and not args.in_process
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    log = Path(tempfile.gettempdir()) / f"bench_demo_{os.getpid()}.log"
    cases = []
    for backend in backends:
        for today in DAYS:
            case = Case(backend, today, [])
            for number in range(1, args.runs + 1):
                print(f"{case.label}: run {number}/{args.runs} ...", file=sys.stderr, flush=True)
                case.runs.append(
                    measure(backend, today, args.students, use_cli, args.postgres, log)
                )
            cases.append(case)
    print_report(cases, args.students, use_cli)


if __name__ == "__main__":
    main()
