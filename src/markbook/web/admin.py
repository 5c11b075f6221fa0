"""Pages for administrators: the caches, the users and their API tokens.

The page calls the same service functions as the CLI (``markbook users create``,
``markbook tokens create``) and the API, so an account or token made here is the
same as one made there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from markbook.auth import service as accounts
from markbook.auth.models import ApiToken, Role, User
from markbook.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from markbook.db import utcnow
from markbook.deps import SessionDep, SettingsDep
from markbook.errors import Conflict, InvalidInput, MarkbookError, NotFound
from markbook.jobs import service as jobs
from markbook.reports import service as reports
from markbook.schemas import PathId
from markbook.web.forms import optional_int
from markbook.web.session import FormAdmin, WebAdmin
from markbook.web.templating import page

router = APIRouter(include_in_schema=False)

USERS_PER_PAGE = 50
MAX_TOKEN_DAYS = 3650  # as POST /api/v1/auth/token allows
ROLES = tuple(role.value for role in Role)

SearchText = Annotated[str | None, Query(max_length=200)]
Blank = Annotated[str | None, Query(max_length=40)]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]
# Generous limits: a value too long is refused by the service with its own
# sentence, shown beside the form, rather than by the framework.
LongText = Annotated[str, Form(max_length=2000)]


# --- the admin page: caches and users --------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    user: User
    tokens: int  # usable tokens: neither revoked nor expired


def _usable(now: dt.datetime) -> Any:
    return (ApiToken.revoked_at.is_(None)) & (
        ApiToken.expires_at.is_(None) | (ApiToken.expires_at > now)
    )


def _users(
    session: Session, q: str, role: str | None, page_number: int
) -> tuple[list[UserRow], int]:
    query = select(User)
    if role:
        query = query.where(User.role == role)
    if q:
        needle = q.strip().lower()
        query = query.where(
            or_(
                User.email.contains(needle, autoescape=True),
                func.lower(User.name).contains(needle, autoescape=True),
            )
        )
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    users = list(
        session.scalars(
            query.order_by(User.email)
            .offset((page_number - 1) * USERS_PER_PAGE)
            .limit(USERS_PER_PAGE)
        )
    )
    counted = session.execute(
        select(ApiToken.user_id, func.count())
        .where(ApiToken.user_id.in_([u.id for u in users]), _usable(utcnow()))
        .group_by(ApiToken.user_id)
    )
    counts: dict[int, int] = {user_id: count for user_id, count in counted}
    return [UserRow(u, counts.get(u.id, 0)) for u in users], total


_CLEARED = {
    "reports": "Cleared the report cache: {n} cached report{s} removed. The next request for "
    "each report builds it afresh.",
    "exports": "Cleared the export cache: {n} finished export job{s} will no longer be reused "
    "(their files stay downloadable until they expire).",
}


def _notice(cleared: str | None, count: str | None) -> str | None:
    template = _CLEARED.get(cleared or "")
    try:
        number = optional_int(count, "count", "The count")
    except InvalidInput:
        return None
    if template is None or number is None:
        return None
    return template.format(n=number, s="" if number == 1 else "s")


def _admin_page(
    request: Request,
    session: Session,
    *,
    q: str = "",
    role: str | None = None,
    page_number: int = 1,
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    role = role if role in ROLES else None
    rows, total = _users(session, q, role, page_number)
    return page(
        request,
        "admin.html",
        {
            "users": rows,
            "total": total,
            "q": q,
            "role": role,
            "page_number": page_number,
            "pages": max(1, -(-total // USERS_PER_PAGE)),
            "notice": notice,
            "error": error,
            "form": form or {"email": "", "name": "", "role": Role.teacher.value},
            "roles": ROLES,
            "min_password": MIN_PASSWORD_LENGTH,
        },
        status_code=status_code,
    )


@router.get("/admin")
def admin_page(
    request: Request,
    _admin: WebAdmin,
    session: SessionDep,
    q: SearchText = None,
    role: Blank = None,
    page_number: PageNumber = 1,
    cleared: Blank = None,
    count: Blank = None,
) -> Response:
    """Clear the caches; list, find and create users."""
    return _admin_page(
        request,
        session,
        q=q or "",
        role=role,
        page_number=page_number,
        notice=_notice(cleared, count),
    )


@router.post("/admin/cache/reports")
def clear_report_cache(request: Request, _admin: FormAdmin) -> Response:
    cleared = reports.clear_cache(request.app.state.cache)
    return RedirectResponse(f"/admin?cleared=reports&count={cleared}", status_code=303)


@router.post("/admin/cache/exports")
def clear_export_cache(_admin: FormAdmin, session: SessionDep) -> Response:
    cleared = jobs.clear_export_cache(session)
    return RedirectResponse(f"/admin?cleared=exports&count={cleared}", status_code=303)


@router.post("/admin/users")
def create_user(
    request: Request,
    _admin: FormAdmin,
    session: SessionDep,
    email: LongText = "",
    name: LongText = "",
    role: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH + 1)] = "",
) -> Response:
    """A new account (as ``markbook users create``); the form comes back, filled in,
    with the reason when it cannot be made."""
    try:
        if not password:
            raise InvalidInput(
                f"Choose a password for the account: at least {MIN_PASSWORD_LENGTH} characters.",
                errors=[{"field": "password", "message": "missing"}],
            )
        created = accounts.create_user(
            session, email=email, name=name, role=role, password=password
        )
    except (InvalidInput, Conflict) as problem:
        return _admin_page(
            request,
            session,
            error=problem.detail,
            form={"email": email, "name": name, "role": role},
            status_code=problem.status,
        )
    return RedirectResponse(f"/admin/users/{created.id}?created=1", status_code=303)


# --- one user and their tokens ---------------------------------------------------------


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    status: str  # active, expired or revoked


def _status(token: ApiToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _account(session: Session, user_id: int) -> User:
    account = session.get(User, user_id)
    if account is None:
        raise NotFound(f"There is no user {user_id}.")
    return account


def _user_page(
    request: Request,
    session: Session,
    account: User,
    default_days: int | None,
    *,
    notice: str | None = None,
    error: str | None = None,
    new_token: tuple[ApiToken, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    now = utcnow()
    tokens = [TokenRow(t, _status(t, now)) for t in accounts.tokens_of(session, account)]
    return page(
        request,
        "admin_user.html",
        {
            "account": account,
            "tokens": tokens,
            "notice": notice,
            "error": error,
            "new_token": new_token,
            "form": form or {"name": "", "expires_days": str(default_days or "")},
            "max_days": MAX_TOKEN_DAYS,
        },
        status_code=status_code,
    )


@router.get("/admin/users/{user_id}")
def user_page(
    request: Request,
    user_id: PathId,
    _admin: WebAdmin,
    session: SessionDep,
    settings: SettingsDep,
    created: Blank = None,
    revoked: Blank = None,
) -> Response:
    """A user's API tokens: create one, revoke any."""
    account = _account(session, user_id)
    notice = None
    if created:
        notice = f"Created the account {account.email}. They can sign in now."
    elif revoked:
        revoked_id = _quiet_int(revoked)
        token = session.get(ApiToken, revoked_id) if revoked_id else None
        if token is not None and token.user_id == account.id:
            notice = f"Revoked the token “{token.name}” ({token.prefix}…): it no longer works."
    return _user_page(request, session, account, settings.token_default_expiry_days, notice=notice)


def _quiet_int(value: str) -> int | None:
    try:
        return optional_int(value, "id", "The id")
    except InvalidInput:
        return None


@router.post("/admin/users/{user_id}/tokens")
def create_token(
    request: Request,
    user_id: PathId,
    _admin: FormAdmin,
    session: SessionDep,
    settings: SettingsDep,
    name: LongText = "",
    expires_days: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A new token for the user (as ``markbook tokens create``), shown on this answer
    only: only its hash is kept."""
    account = _account(session, user_id)
    try:
        if not account.active:
            raise Conflict(
                f"{account.email} is disabled: a token for them would not work. "
                "Enable the account first."
            )
        days = optional_int(expires_days, "expires_days", "The lifetime in days")
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidInput(
                f"A token lasts from 1 to {MAX_TOKEN_DAYS} days; leave the lifetime blank "
                "for a token that does not expire.",
                errors=[{"field": "expires_days", "message": "out of range"}],
            )
        token, value = accounts.create_token(session, account, name, days)
    except MarkbookError as problem:
        return _user_page(
            request,
            session,
            account,
            settings.token_default_expiry_days,
            error=problem.detail,
            form={"name": name, "expires_days": expires_days},
            status_code=problem.status,
        )
    return _user_page(
        request, session, account, settings.token_default_expiry_days, new_token=(token, value)
    )


@router.post("/admin/users/{user_id}/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    user_id: PathId,
    token_id: PathId,
    admin: FormAdmin,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Revoke one of the user's tokens; it stops working at once."""
    account = _account(session, user_id)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != account.id:
        return _user_page(
            request,
            session,
            account,
            settings.token_default_expiry_days,
            error=f"{account.email} has no token {token_id}; it may have been deleted.",
            status_code=404,
        )
    accounts.revoke_token_of(session, admin, token.id)
    return RedirectResponse(f"/admin/users/{account.id}?revoked={token.id}", status_code=303)
