"""FastAPI dependencies, declared once as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from markbook.auth.models import User
from markbook.auth.tokens import user_for_token
from markbook.errors import NotAuthenticated
from markbook.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed once when the route returns (not after
    the response is sent, so a failed commit is still an error answer)."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")


def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise NotAuthenticated(
            "Sign in first: send the header 'Authorization: Bearer <token>'. Get a token with "
            "POST /api/v1/auth/token or `markbook tokens create`."
        )
    user = user_for_token(session, credentials.credentials)
    if user is None:
        raise NotAuthenticated(
            "The bearer token is unknown, expired or revoked, or its account is disabled. "
            "Get a new one with POST /api/v1/auth/token."
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientIP = Annotated[str | None, Depends(client_ip)]
