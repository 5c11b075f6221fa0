"""Typed errors, and the one place that turns them into HTTP answers.

Every error answer is ``application/problem+json`` (RFC 9457): ``type``, ``title``,
``status`` and a ``detail`` sentence a person can act on; validation errors also
list each failing field or row under ``errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class MarkbookError(Exception):
    """Base of the errors services raise; each maps to one HTTP status."""

    status: int = 400
    code: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(MarkbookError):
    """The request cannot be understood as sent (status 400)."""


class NotAuthenticated(MarkbookError):
    status = 401
    code = "not-authenticated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class InvalidCredentials(NotAuthenticated):
    code = "invalid-credentials"


class Forbidden(MarkbookError):
    status = 403
    code = "forbidden"


class NotFound(MarkbookError):
    status = 404
    code = "not-found"


class StudentNotFound(NotFound):
    code = "student-not-found"

    def __init__(self, student_id: int | str) -> None:
        super().__init__(
            f"There is no student {student_id} that you may see. Check the id, or list the "
            "students you may see with GET /api/v1/students."
        )


class CourseNotFound(NotFound):
    code = "course-not-found"

    def __init__(self, course_id: int | str) -> None:
        super().__init__(
            f"There is no course {course_id} that you may see. Check the id, or list the "
            "courses you may see with GET /api/v1/courses."
        )


class Conflict(MarkbookError):
    status = 409
    code = "conflict"


class PayloadTooLarge(MarkbookError):
    status = 413
    code = "payload-too-large"


class InvalidInput(MarkbookError):
    """The request is well formed but some of what it says cannot be accepted."""

    status = 422
    code = "invalid-input"


class TooManyRequests(MarkbookError):
    status = 429
    code = "too-many-requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    type: str = Field(examples=["urn:markbook:problem:student-not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(description="What went wrong and what to do about it.")
    errors: list[dict[str, str]] | None = Field(
        None, description="Each failing field or row ({field, message}), for 422 answers."
    )
    request_id: str | None = Field(None, description="Quote it when reporting a problem.")


def documented(description: str) -> dict[str, Any]:
    # Inline, under its own media type: a `model` would be listed as application/json.
    schema = Problem.model_json_schema()
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


# The error answers routes document in OpenAPI (all application/problem+json).
API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: documented("No bearer token, or one that is unknown, expired or revoked."),
    403: documented("Signed in, but your role may not do this."),
    404: documented("Not found, or not one you may see."),
    422: documented("Invalid input; `errors` names each failing field or row."),
}
BATCH_ERRORS: dict[int | str, dict[str, Any]] = {
    413: documented("More rows than one request may carry; split the batch."),
}


class ErrorPages(Protocol):
    """Renders errors as web pages for the requests it handles (the web UI's)."""

    def handles(self, request: Request) -> bool: ...

    def render(
        self,
        request: Request,
        status: int,
        detail: str,
        errors: Sequence[Mapping[str, Any]] | None,
        headers: Mapping[str, str] | None,
    ) -> Response: ...


def _answer(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """problem+json, or a friendly page when the web UI asked."""
    pages: ErrorPages | None = getattr(request.app.state, "error_pages", None)
    if pages is not None and pages.handles(request):
        return pages.render(request, status, detail, errors, headers)
    return problem(
        status, detail, code=code, errors=errors, headers=headers, request_id=_request_id(request)
    )


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:markbook:problem:{code}" if code else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = list(errors)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _field_name(location: Sequence[Any]) -> str:
    # ("body", "grades", 3, "score") -> "grades[3].score"; ("query", "page") -> "page"
    parts = [part for part in location if part not in ("body", "query", "path", "header")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "request"


def _validation_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_name(error.get("loc", ())), "message": error.get("msg", "is invalid")}
        for error in exc.errors()
    ]
    shown = "; ".join(f"{error['field']}: {error['message']}" for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return _answer(
        request,
        422,
        f"The request has invalid values. {shown}{more}.",
        code="invalid-input",
        errors=errors,
    )


def _markbook_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MarkbookError)
    return _answer(
        request, exc.status, exc.detail, code=exc.code, errors=exc.errors, headers=exc.headers
    )


# Problem types for statuses raised by the framework rather than by our errors, so
# a 413 reads the same whichever layer refused the body.
_HTTP_CODES = {405: "method-not-allowed", 413: "payload-too-large"}

_HTTP_DETAILS = {
    404: "No such page or route: {method} {path}. The API's routes are listed at /docs.",
    405: "{method} is not allowed on {path}. The API's routes are listed at /docs.",
}


def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    template = _HTTP_DETAILS.get(exc.status_code)
    if template:
        detail = template.format(method=request.method, path=request.url.path)
    else:
        detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
    return _answer(
        request, exc.status_code, detail, code=_HTTP_CODES.get(exc.status_code), headers=exc.headers
    )


def _unexpected_problem(request: Request, exc: Exception) -> Response:
    request_id = _request_id(request)
    log.exception(
        "unhandled error on %s %s (request %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return _answer(
        request,
        500,
        "Something went wrong on our side and the request was not completed. It has been "
        "logged; try again, and if it keeps happening give your administrator the request id.",
        code="internal-error",
        # This answer is sent from outside RequestContextMiddleware, which adds the
        # header to every other answer.
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MarkbookError, _markbook_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(Exception, _unexpected_problem)
