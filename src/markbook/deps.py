"""FastAPI dependencies, declared once as ``Annotated`` aliases.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` one in
its thread pool, and each hop to a thread costs more than the work itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.auth.tokens import looks_like_token, user_for_token
from markbook.cache import Cache
from markbook.db import session_scope
from markbook.errors import Forbidden, NotAuthenticated
from markbook.settings import Settings

T = TypeVar("T")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, committed once when the route returns (not after
    the response is sent, so a failed commit is still an error answer).

    Opening a session does no I/O, so only the commit or rollback goes to a thread.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        await run_in_threadpool(session.commit)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(session.rollback)
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]


async def today() -> dt.date:
    """The server's date; tests override this dependency to pin a day."""
    return dt.date.today()


Today = Annotated[dt.date, Depends(today)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")
_REFUSED = (
    "The bearer token is unknown, expired or revoked, or its account is disabled. "
    "Get a new one with POST /api/v1/auth/token."
)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The request's bearer token; a missing or malformed one is refused at once,
    before the body is even read."""
    if credentials is None:
        raise NotAuthenticated(
            "Sign in first: send the header 'Authorization: Bearer <token>'. Get a token with "
            "POST /api/v1/auth/token or `markbook tokens create`."
        )
    if not looks_like_token(credentials.credentials):
        raise NotAuthenticated(_REFUSED)
    return credentials.credentials


BearerToken = Annotated[str, Depends(bearer_token)]


def authenticate(session: Session, token: str) -> User:
    """The user a bearer token signs in, or 401."""
    user = user_for_token(session, token)
    if user is None:
        raise NotAuthenticated(_REFUSED)
    return user


def current_user(session: SessionDep, token: BearerToken) -> User:
    return authenticate(session, token)


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if Role(user.role) is not Role.admin:
        raise Forbidden("Only administrators may do this. Ask one, or sign in as one.")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def in_one_thread(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` with its own session in one trip to the thread pool, committed if
    it returns.

    For hot routes: with ``SessionDep`` and ``CurrentUser`` a request goes to a
    thread three times (sign-in, route, commit), and each trip costs about as much
    as a cached answer itself.
    """

    def unit_of_work() -> T:
        with session_scope(request.app.state.sessionmaker) as session:
            return work(session)

    return await run_in_threadpool(unit_of_work)


async def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientIP = Annotated[str | None, Depends(client_ip)]
