"""Every error answer is application/problem+json with a sentence a person can act on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from markbook.app import MAX_BODY_BYTES, create_app
from markbook.auth.models import Role
from markbook.errors import BadRequest, Conflict, Forbidden, MarkbookError, TooManyRequests
from markbook.settings import Settings
from tests import factories as f

SECRET = "secret db password xyz"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The answer is a complete RFC 9457 problem for ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"]
    assert body["title"] == HTTPStatus(status).phrase
    assert body["status"] == status
    detail = body["detail"]
    # A sentence, not a bare phrase or code: several words, ending like one.
    assert len(detail.split()) >= 4, detail
    assert detail.rstrip().endswith("."), detail
    assert detail != body["title"]
    return body


def _raises(error: Exception) -> Callable[[], None]:
    def endpoint() -> None:
        raise error

    return endpoint


TYPED_ERRORS: list[tuple[MarkbookError, str]] = [
    (
        BadRequest("The period starts after it ends. Give a start date before the end date."),
        "urn:markbook:problem:bad-request",
    ),
    (
        Forbidden("Only administrators may do this. Ask one to run the export for you."),
        "urn:markbook:problem:forbidden",
    ),
    (
        Conflict("An export of these records is already running. Wait for job 7 to finish."),
        "urn:markbook:problem:conflict",
    ),
    (
        TooManyRequests("You have sent too many requests. Wait 30 seconds and try again.", 30),
        "urn:markbook:problem:too-many-requests",
    ),
]


@pytest.fixture
def error_app(settings: Settings) -> FastAPI:
    """create_app() plus throwaway routes that raise each kind of error."""
    app = create_app(settings)
    for error, _ in TYPED_ERRORS:
        app.add_api_route(f"/test/{error.status}", _raises(error), methods=["GET"])
    app.add_api_route("/test/crash", _raises(RuntimeError(SECRET)), methods=["GET"])
    return app


@pytest.fixture
def error_client(error_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(error_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("error", "problem_type"), TYPED_ERRORS, ids=[str(e.status) for e, _ in TYPED_ERRORS]
)
def test_typed_error_becomes_its_problem(
    error_client: TestClient, error: MarkbookError, problem_type: str
) -> None:
    body = assert_problem(error_client.get(f"/test/{error.status}"), error.status)
    assert body["type"] == problem_type
    assert body["detail"] == error.detail
    assert body["request_id"]


def test_too_many_requests_says_when_to_retry(error_client: TestClient) -> None:
    response = error_client.get("/test/429")
    assert_problem(response, 429)
    assert response.headers["retry-after"] == "30"


def test_missing_token_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/students")
    body = assert_problem(response, 401)
    assert body["type"] == "urn:markbook:problem:not-authenticated"
    assert "Authorization: Bearer" in body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_token_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/students", headers={"Authorization": "Bearer not-a-real-token"})
    body = assert_problem(response, 401)
    assert "unknown, expired or revoked" in body["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_route_is_404(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404)
    assert "GET /api/v1/no-such-thing" in body["detail"]


def test_unknown_student_is_404(client: TestClient, session: Session) -> None:
    headers = f.auth(session, f.user(session, Role.admin))
    body = assert_problem(client.get("/api/v1/students/987654", headers=headers), 404)
    assert body["type"] == "urn:markbook:problem:student-not-found"
    assert "987654" in body["detail"]


def test_wrong_method_is_405(client: TestClient) -> None:
    response = client.delete("/api/v1/students")
    body = assert_problem(response, 405)
    assert "DELETE" in body["detail"]
    assert "GET" in response.headers["allow"]


def test_invalid_query_parameter_is_422_naming_the_field(
    client: TestClient, session: Session
) -> None:
    headers = f.auth(session, f.user(session, Role.admin))
    body = assert_problem(client.get("/api/v1/students?per_page=0", headers=headers), 422)
    assert body["type"] == "urn:markbook:problem:invalid-input"
    assert [error["field"] for error in body["errors"]] == ["per_page"]
    assert body["errors"][0]["message"]
    assert "per_page" in body["detail"]


def test_body_over_the_cap_by_content_length_is_413(client: TestClient) -> None:
    response = client.post("/api/v1/grades", content=b"x" * (MAX_BODY_BYTES + 1))
    body = assert_problem(response, 413)
    assert body["type"] == "urn:markbook:problem:payload-too-large"
    assert response.headers["x-request-id"] == body["request_id"]


def test_body_at_the_cap_is_not_refused(client: TestClient) -> None:
    response = client.post("/api/v1/grades", content=b"x" * MAX_BODY_BYTES)
    # It gets as far as asking who is sending it.
    assert_problem(response, 401)


def test_chunked_body_over_the_cap_is_413(client: TestClient) -> None:
    chunk = b"x" * (1024 * 1024)
    chunks_over_cap = MAX_BODY_BYTES // len(chunk) + 1

    def body() -> Iterator[bytes]:
        for _ in range(chunks_over_cap):
            yield chunk

    response = client.post("/api/v1/grades", content=body())
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    body = assert_problem(response, 413)
    assert body["type"] == "urn:markbook:problem:payload-too-large"


def test_unexpected_error_is_a_generic_500(
    error_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="markbook.errors"):
        response = error_client.get("/test/crash")
    body = assert_problem(response, 500)
    assert body["type"] == "urn:markbook:problem:internal-error"
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert body["request_id"]
    assert response.headers["x-request-id"] == body["request_id"]


def test_unexpected_error_logs_its_traceback(
    error_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="markbook.errors"):
        request_id = error_client.get("/test/crash").json()["request_id"]
    [record] = [r for r in caplog.records if r.name == "markbook.errors"]
    assert record.levelno == logging.ERROR
    assert request_id in record.getMessage()
    assert "GET /test/crash" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "Traceback (most recent call last)" in caplog.text
    assert f"RuntimeError: {SECRET}" in caplog.text
