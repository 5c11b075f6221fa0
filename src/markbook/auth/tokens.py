"""API bearer tokens: random, shown once, stored as SHA-256.

A token carries 256 random bits, so a fast hash is enough (there is nothing to
brute-force); what matters is that the database never holds a usable token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from markbook.auth.models import ApiToken, User, token_usable
from markbook.db import utcnow

TOKEN_PREFIX = "mb_"  # noqa: S105 - a public marker that makes leaked tokens greppable
# last_used_at is written at most this often, so reads do not each cost a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


def new_token_value() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    session: Session, user: User, name: str, expires_at: dt.datetime | None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token, which is not kept."""
    value = new_token_value()
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=token_digest(value),
        prefix=value[: len(TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, value


def looks_like_token(value: str) -> bool:
    """Whether ``value`` could be one of our tokens at all (no database needed)."""
    return value.startswith(TOKEN_PREFIX) and len(value) <= 200


def user_for_token(session: Session, value: str) -> User | None:
    """The active user a usable token belongs to, else None.

    Every API request comes through here, so it loads the user alone and only the
    token columns it checks (not a second ORM object).
    """
    if not looks_like_token(value):
        return None
    row = session.execute(
        select(User, ApiToken.id, ApiToken.expires_at, ApiToken.revoked_at, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_digest(value))
    ).first()
    if row is None:
        return None
    user, token_id, expires_at, revoked_at, last_used_at = row
    now = utcnow()
    if not token_usable(revoked_at, expires_at, now) or not user.active:
        return None
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return user


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
