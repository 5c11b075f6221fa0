"""Accounts and sign-in: the functions the API, the CLI and (later) the web UI share."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from markbook.auth.models import ApiToken, Role, User
from markbook.auth.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from markbook.auth.tokens import issue_token, revoke_token
from markbook.db import utcnow
from markbook.errors import Conflict, InvalidCredentials, InvalidInput, NotFound

# Deliberately loose: one @, something on each side, a dot in the domain. Whether
# an address receives mail is not ours to decide.
_EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")


def normalize_email(email: str) -> str:
    normalized = email.strip().lower()
    if not _EMAIL.match(normalized) or len(normalized) > 320:
        raise InvalidInput(
            f"{email!r} is not an email address.",
            errors=[{"field": "email", "message": "not an email address"}],
        )
    return normalized


def _check_label(name: str, empty_message: str, max_length: int) -> None:
    if not name.strip():
        raise InvalidInput(empty_message, errors=[{"field": "name", "message": "empty"}])
    if "\x00" in name or len(name.strip()) > max_length:
        raise InvalidInput(
            f"A name must be at most {max_length} characters, without NUL characters.",
            errors=[{"field": "name", "message": "too long or has NUL characters"}],
        )


def user_by_email(session: Session, email: str) -> User | None:
    if "\x00" in email:
        return None
    return session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()


def create_user(
    session: Session, *, email: str, name: str, role: str, password: str | None
) -> User:
    """Add an account; a password of None makes one that cannot sign in yet."""
    normalized = normalize_email(email)
    try:
        role_value = Role(role)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"{role!r} is not a role. Use one of: {valid}.",
            errors=[{"field": "role", "message": f"one of {valid}"}],
        ) from None
    _check_label(name, "A user needs a name.", 200)
    if user_by_email(session, normalized) is not None:
        raise Conflict(f"There is already a user with the email {normalized}.")
    if password is not None:
        check_password_policy(password)
    user = User(
        email=normalized,
        name=name.strip(),
        role=role_value.value,
        password_hash=hash_password(password) if password is not None else None,
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """The active user with this email and password, or InvalidCredentials."""
    user = user_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise InvalidCredentials(
            "The email or password is wrong, or the account is disabled. Check both and try "
            "again; an administrator can reset the password."
        )
    assert user.password_hash is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def expiry_after(days: int | None) -> dt.datetime | None:
    return utcnow() + dt.timedelta(days=days) if days else None


def create_token(
    session: Session, user: User, name: str, expires_days: int | None
) -> tuple[ApiToken, str]:
    _check_label(name, "A token needs a name.", 100)
    return issue_token(session, user, name.strip(), expiry_after(expires_days))


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token_of(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s tokens (an admin may revoke anyone's)."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and user.role != Role.admin):
        raise NotFound(f"You have no token {token_id}. List yours with GET /api/v1/auth/tokens.")
    revoke_token(token)
    return token


def count_users(session: Session) -> int:
    return session.execute(select(func.count()).select_from(User)).scalar_one()
