"""The web UI: server-rendered pages (Jinja2), one stylesheet, a little plain JavaScript.

Pages sign in with the session cookie, post forms with a CSRF token, and call the
same service functions as the API, so a page shows the JSON report's numbers and a
teacher sees the same students in both.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from markbook.web import admin, analytics, auth, jobs, students
from markbook.web.errors import WebErrorPages, redirect_to_sign_in
from markbook.web.session import SignInRequired

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    app.state.error_pages = WebErrorPages()
    app.add_exception_handler(SignInRequired, redirect_to_sign_in)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (auth.router, students.router, jobs.router, analytics.router, admin.router):
        app.include_router(router)
