"""Errors on web pages: a friendly page with the same sentence the API would send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from markbook.web.session import SignInRequired, sign_in_url, user_of
from markbook.web.templating import page

# Paths that are not web pages keep their problem+json answers.
_NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/metrics", "/static/")

_HEADINGS = {
    400: "That request could not be understood",
    403: "You may not do that",
    404: "Not found",
    409: "That cannot be done right now",
    410: "That is no longer available",
    413: "That is too large",
    422: "Some values need fixing",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Markbook is not available right now",
}


class WebErrorPages:
    def handles(self, request: Request) -> bool:
        """Errors of the web UI's routes; and of unknown paths asked for by a browser."""
        if request.url.path.startswith(_NOT_PAGES):
            return False
        endpoint = request.scope.get("endpoint")
        if endpoint is not None:
            return str(getattr(endpoint, "__module__", "")).startswith(__package__ or "-")
        return "text/html" in request.headers.get("accept", "")

    def render(
        self,
        request: Request,
        status: int,
        detail: str,
        errors: Sequence[Mapping[str, Any]] | None,
        headers: Mapping[str, str] | None,
    ) -> Response:
        if status == 404 and request.url.path.startswith(("/students/", "/courses/", "/jobs/")):
            # The API's sentence names API routes; a page says it in its own words.
            detail = (
                "There is nothing here that you may see. It may not exist, or it may belong "
                "to students you are not responsible for."
            )
        elif status == 404:
            detail = f"There is no page at {request.url.path}."
        if not hasattr(request.state, "signed_in"):
            # An unknown path or a bad query fails before any page signed the user
            # in; the error page still shows their menu. (Error handlers that are
            # plain functions run in the thread pool, so the database call is fine.)
            with request.app.state.sessionmaker() as session:
                user_of(request, session)
        kept = {k: v for k, v in (headers or {}).items() if k.lower() == "retry-after"}
        return page(
            request,
            "error.html",
            {
                "status": status,
                "heading": _HEADINGS.get(status, HTTPStatus(status).phrase),
                "detail": detail,
                "errors": list(errors or []),
                "request_id": getattr(request.state, "request_id", None),
            },
            status_code=status,
            headers=kept,
        )


async def redirect_to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(sign_in_url(exc.next_url), status_code=303)
