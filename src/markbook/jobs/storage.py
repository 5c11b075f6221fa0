"""Where a job's files live: one directory per job under the export directory.

``{export_dir}/jobs/{job_id}/`` holds the finished file (under its download name),
the report-cards parts while they are made, and ``students.json``, the students the
file discloses (each download of the file is audited with them). Files are written
to a temporary name and renamed, so whoever sees a file sees it whole; the
directory is removed when the job is cancelled, fails or expires.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from markbook.settings import Settings

STUDENTS_FILE = "students.json"


def job_dir(settings: Settings, job_id: str) -> Path:
    # Job ids are 32 hex characters we made (never a caller's text), so this stays
    # inside the export directory.
    return settings.export_dir / "jobs" / job_id


def parts_dir(settings: Settings, job_id: str) -> Path:
    return job_dir(settings, job_id) / "parts"


def remove_job_files(settings: Settings, job_id: str) -> None:
    shutil.rmtree(job_dir(settings, job_id), ignore_errors=True)


def write_students(directory: Path, student_ids: Iterable[int]) -> None:
    """Record which students the job's file discloses (atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".students.", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as sink:
        json.dump(sorted(set(student_ids)), sink)
    os.replace(temporary, directory / STUDENTS_FILE)


def read_students(directory: Path) -> list[int]:
    try:
        with (directory / STUDENTS_FILE).open(encoding="utf-8") as source:
            return [int(value) for value in json.load(source)]
    except FileNotFoundError:
        return []
