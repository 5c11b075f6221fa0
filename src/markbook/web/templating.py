"""Jinja2 set-up: the templates, their filters, and ``page()`` which every route renders with."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from markbook.web.session import CSRF_FIELD, Viewer, csrf_token

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
EMPTY = "—"


def number(value: Decimal | float | int | None, places: int = 2) -> str:
    """A figure as the JSON report writes it (2 places), or a dash when there is none."""
    if value is None:
        return EMPTY
    if isinstance(value, Decimal):
        return f"{value:.{places}f}"
    return f"{float(value):.{places}f}"


def signed(value: Decimal | None) -> str:
    if value is None:
        return EMPTY
    return f"+{value:.2f}" if value > 0 else f"{value:.2f}"


def file_size(size: int | None) -> str:
    if size is None:
        return EMPTY
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{int(amount)} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"  # pragma: no cover - the loop always returns


def when(value: dt.datetime | dt.date | None) -> str:
    """A moment in UTC, to the minute (the page says UTC once, in the footer)."""
    if value is None:
        return EMPTY
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


TEMPLATES.env.filters.update(number=number, signed=signed, file_size=file_size, when=when)
TEMPLATES.env.globals.update(EMPTY=EMPTY, CSRF_FIELD=CSRF_FIELD)


def nav_items(user: Viewer | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    items = [
        ("/students", "Students"),
        ("/courses", "Class analytics"),
        ("/report-cards", "Report cards"),
        ("/exports", "Exports"),
        ("/jobs", "My jobs"),
    ]
    if user.is_admin:
        items.append(("/admin", "Admin"))
    return items


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render ``template`` with what every page needs: the user, the menu, the CSRF token."""
    user: Viewer | None = getattr(request.state, "viewer", None)
    values: dict[str, Any] = {
        "user": user,
        "nav": nav_items(user),
        "current_path": request.url.path,
        "csrf_token": csrf_token(request) if user is not None else "",
        "school_name": request.app.state.settings.school_name,
    }
    values.update(context or {})
    response = TEMPLATES.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )
    # Pages show records of students: never kept by a shared cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response
