"""With CI=true a missing PostgreSQL fails the run; without, its tests are skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run_smoke_test(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["MARKBOOK_TEST_PG_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/test_smoke.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", [True, False])
def test_missing_postgres(ci: bool) -> None:
    result = _run_smoke_test(ci)
    if ci:
        assert result.returncode != 0
        assert "CI=true requires it" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "3 passed, 3 skipped" in result.stdout
