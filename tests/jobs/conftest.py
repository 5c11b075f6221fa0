"""Helpers for job tests: start a job over HTTP and wait for it to end."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.exports.conftest import ExportSchool, build_exports_school

FINAL = {"succeeded", "failed", "cancelled", "expired"}


def start(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json=body, headers=headers)
    assert response.status_code in (200, 202), response.text
    job: dict[str, Any] = response.json()
    return job


def wait_for(
    client: TestClient,
    headers: dict[str, str],
    job_id: str,
    *,
    until: set[str] = FINAL,
    timeout: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s: {job}"
        time.sleep(0.05)


@pytest.fixture
def exports_school(session: Session) -> ExportSchool:
    return build_exports_school(session)
