"""An export's memory does not grow with its rows.

Each measurement runs in a fresh interpreter, so its peak RSS is the export's and
nothing else's: 30,000 and 300,000 analytics rows, exported as CSV and as XLSX and
consumed to /dev/null. Holding the rows would cost hundreds of MB at 300,000; a
streamed export differs by a batch or two.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SMALL, LARGE = 30_000, 300_000
# What 300,000 rows may add to the 30,000-row peak (kB): batches, allocator slack.
GROWTH_KB = 40 * 1024
SECRET = "test-secret-" + "x" * 40

BUILD = r"""
import datetime as dt
import sqlite3
import sys
from decimal import Decimal

from markbook import migrate
from markbook.auth.models import User
from markbook.db import make_engine, make_sessionmaker
from markbook.records.models import Course, Student
from markbook.settings import Settings

path, rows, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
settings = Settings(database_url=f"sqlite:///{path}", secret_key=secret)
migrate.upgrade(settings)
engine = make_engine(settings)
with make_sessionmaker(engine)() as session:
    teacher = User(
        email="t@example.org", name="Teacher", role="teacher", password_hash="x", active=True
    )
    session.add(teacher)
    session.flush()
    for n in range(50):
        session.add(
            Student(
                external_id=f"S{n:05d}", name=f"Student {n} Ünï", email=f"s{n}@example.org",
                grade_level=10,
            )
        )
    for n in range(5):
        session.add(
            Course(
                external_id=f"C{n}", name=f"=Course {n}", subject="Maths", term="2026",
                teacher_id=teacher.id, credits=Decimal(1), start_date=dt.date(2026, 9, 1),
                end_date=dt.date(2027, 1, 15),
            )
        )
    session.commit()
engine.dispose()
connection = sqlite3.connect(path)
connection.execute("PRAGMA synchronous = OFF")  # a scratch file: no need to sync it
connection.execute(
    '''
    INSERT INTO analytics_data (student_id, course_id, metric_type, value, recorded_at, source)
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
    SELECT 1 + i % 50,
           CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 5 END,
           'metric_' || (i % 4),
           (i % 1000) / 8.0,
           datetime('2026-09-01', '+' || i || ' seconds') || '.000000',
           CASE WHEN i % 3 = 0 THEN NULL ELSE 'source ' || (i % 11) END
    FROM n
    ''',
    (rows,),
)
connection.commit()
count = connection.execute("SELECT count(*) FROM analytics_data").fetchone()[0]
connection.close()
assert count == rows, count
"""

MEASURE = r"""
import json
import resource
import sys
from pathlib import Path

from markbook.auth.models import User
from markbook.db import make_engine
from markbook.exports import service
from markbook.exports.spec import ExportFormat, ExportSpec
from markbook.settings import Settings


def high_water_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


path, fmt, work_dir, secret, columns = sys.argv[1:6]
settings = Settings(
    database_url=f"sqlite:///{path}", secret_key=secret, export_dir=Path(work_dir)
)
engine = make_engine(settings)
admin = User(id=1, role="admin", email="admin@example.org", name="Admin")
done = []
before_kb = high_water_kb()
export = service.prepare(
    settings, engine, admin, "analytics", ExportFormat(fmt), ExportSpec(columns=columns or None),
    on_done=done.append,
)
lines = size = 0
head = b""
with open("/dev/null", "wb") as sink:
    for chunk in export.chunks:
        if not head:
            head = chunk[:4]
        lines += chunk.count(b"\r\n")
        size += len(chunk)
        sink.write(chunk)
export.close()
engine.dispose()
print(json.dumps({
    "before_kb": before_kb,
    "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "hwm_kb": high_water_kb(),
    "reader_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "rows": export.rows,
    "lines": lines,
    "bytes": size,
    "head": head.hex(),
    "complete": done[0].complete if done else None,
    "disclosed_rows": done[0].rows if done else None,
}))
"""


def _run_all(commands: list[list[str]]) -> list[str]:
    """Run the commands side by side; their stdout, in order."""
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]
        outputs.append(stdout)
    return outputs


def build(directory: Path) -> dict[int, Path]:
    paths = {rows: directory / f"analytics_{rows}.db" for rows in (SMALL, LARGE)}
    _run_all(
        [
            [sys.executable, "-c", BUILD, str(path), str(rows), SECRET]
            for rows, path in paths.items()
        ]
    )
    return paths


def measure(
    databases: dict[int, Path], fmt: str, work_dir: Path, columns: str = ""
) -> dict[int, dict[str, Any]]:
    rows = list(databases)
    outputs = _run_all(
        [
            [sys.executable, "-c", MEASURE, str(databases[n]), fmt, str(work_dir), SECRET, columns]
            for n in rows
        ]
    )
    return {
        n: json.loads(output.strip().splitlines()[-1])
        for n, output in zip(rows, outputs, strict=True)
    }


def assert_flat(results: dict[int, dict[str, Any]]) -> None:
    small, large = results[SMALL], results[LARGE]
    report = json.dumps(results, indent=1)
    assert large["peak_kb"] - small["peak_kb"] <= GROWTH_KB, report
    assert large["hwm_kb"] - small["hwm_kb"] <= GROWTH_KB, report
    # The SQLite reader process too streams rather than gathering the rows.
    assert large["reader_kb"] - small["reader_kb"] <= GROWTH_KB, report
    for n, result in results.items():
        assert result["rows"] == n, report
        assert result["complete"] is True and result["disclosed_rows"] == n, report


def test_memory_stays_flat(tmp_path: Path) -> None:
    # One test, so the two databases are built once (in parallel) for both formats.
    databases = build(tmp_path)
    work_dir = tmp_path / "work"
    work_dir.mkdir()

    csv = measure(databases, "csv", work_dir)
    assert_flat(csv)
    for n, result in csv.items():
        # A header and one CRLF-ended line per row (no value here holds a line break).
        assert result["lines"] == n + 1, result
        assert result["head"].startswith("efbbbf")  # utf-8-sig

    # Five columns of the five kinds (a workbook of all ten takes twice as long).
    xlsx = measure(
        databases, "xlsx", work_dir, "analytics_id,student_name,course_name,value,recorded_at"
    )
    assert_flat(xlsx)
    for result in xlsx.values():
        assert result["head"] == b"PK\x03\x04".hex()  # a zip: the workbook
    # Each workbook was built in the work directory and removed once sent.
    assert list(work_dir.iterdir()) == []
