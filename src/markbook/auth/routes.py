"""Sign-in for API clients: exchange email and password for a bearer token."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from markbook.auth import service
from markbook.auth.models import ApiToken, User
from markbook.deps import CurrentUser, SessionDep, SettingsDep
from markbook.errors import API_ERRORS
from markbook.schemas import PathId, Schema, Text

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=API_ERRORS)


class TokenRequest(BaseModel):
    email: Text = Field(max_length=320)
    password: str = Field(max_length=1024)
    name: Text = Field("api", min_length=1, max_length=100, description="A label for the token.")
    expires_days: int | None = Field(
        None, ge=1, le=3650, description="Lifetime in days; default from the server's settings."
    )


class UserOut(Schema):
    id: int
    email: str
    name: str
    role: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class IssuedToken(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown only once.")
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_at: dt.datetime | None
    user: UserOut


@router.post("/token", status_code=status.HTTP_201_CREATED, response_model=IssuedToken)
def create_token(body: TokenRequest, session: SessionDep, settings: SettingsDep) -> IssuedToken:
    """Exchange an email and password for a new bearer token."""
    user = service.authenticate(session, body.email, body.password)
    days = body.expires_days or settings.token_default_expiry_days
    token, value = service.create_token(session, user, body.name, days)
    return IssuedToken(token=value, expires_at=token.expires_at, user=UserOut.model_validate(user))


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    """The account the bearer token belongs to."""
    return user


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(user: CurrentUser, session: SessionDep) -> list[ApiToken]:
    """Your tokens (never their values), newest first."""
    return service.tokens_of(session, user)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: PathId, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke one of your tokens; it stops working at once."""
    service.revoke_token_of(session, user, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
