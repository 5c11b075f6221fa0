"""Passwords, API tokens and web session cookies."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from markbook.auth import service
from markbook.auth.models import ApiToken, Role
from markbook.auth.passwords import hash_password, verify_password
from markbook.auth.sessions import SESSION_COOKIE, SessionSigner
from markbook.auth.tokens import TOKEN_PREFIX, token_digest, user_for_token
from markbook.db import utcnow
from markbook.errors import Conflict, InvalidCredentials, InvalidInput
from tests import factories as f


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("a long passphrase")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long passphrase")
    assert not verify_password(hashed, "a long passphrasE")
    assert not verify_password(None, "anything")
    assert not verify_password("not a hash", "anything")


def test_token_is_stored_only_as_its_digest(session: Session) -> None:
    owner = f.user(session, Role.teacher)
    _, value = service.create_token(session, owner, "laptop", None)
    assert value.startswith(TOKEN_PREFIX) and len(value) > 40
    row = session.scalars(select(ApiToken)).one()
    assert row.token_hash == token_digest(value) != value
    assert value not in {row.name, row.prefix, row.token_hash}
    assert value.startswith(row.prefix)
    assert user_for_token(session, value) == owner


@pytest.mark.parametrize("broken", ["", "mb_nope", "Bearer x", "mb_" + "x" * 300])
def test_unknown_tokens_are_refused(session: Session, broken: str) -> None:
    owner = f.user(session, Role.admin)
    service.create_token(session, owner, "t", None)
    assert user_for_token(session, broken) is None


def test_expired_revoked_and_disabled_tokens_stop_working(session: Session) -> None:
    owner = f.user(session, Role.teacher)
    expired, expired_value = service.create_token(session, owner, "old", 1)
    expired.expires_at = utcnow() - dt.timedelta(seconds=1)
    revoked, revoked_value = service.create_token(session, owner, "gone", None)
    service.revoke_token_of(session, owner, revoked.id)
    _, live_value = service.create_token(session, owner, "live", None)
    assert user_for_token(session, expired_value) is None
    assert user_for_token(session, revoked_value) is None
    assert user_for_token(session, live_value) == owner
    owner.active = False
    assert user_for_token(session, live_value) is None


def test_last_used_is_recorded(session: Session) -> None:
    owner = f.user(session, Role.teacher)
    token, value = service.create_token(session, owner, "t", None)
    assert token.last_used_at is None
    user_for_token(session, value)
    session.refresh(token)
    assert token.last_used_at is not None


def test_others_cannot_revoke_my_token_but_an_admin_can(session: Session) -> None:
    owner = f.user(session, Role.teacher)
    other = f.user(session, Role.teacher)
    admin = f.user(session, Role.admin)
    token, _ = service.create_token(session, owner, "t", None)
    with pytest.raises(Exception, match="no token"):
        service.revoke_token_of(session, other, token.id)
    assert token.revoked_at is None
    service.revoke_token_of(session, admin, token.id)
    assert token.revoked_at is not None


def test_create_user_normalizes_email_and_refuses_duplicates(session: Session) -> None:
    user = service.create_user(
        session,
        email="  Ms.Smith@School.Example.ORG ",
        name="Ms Smith",
        role="teacher",
        password="longenough",
    )
    assert user.email == "ms.smith@school.example.org"
    with pytest.raises(Conflict):
        service.create_user(
            session, email="ms.smith@school.example.org", name="X", role="tutor", password=None
        )
    for bad in (
        {"email": "not-an-email"},
        {"email": "a\x00b@example.org"},
        {"role": "wizard"},
        {"password": "short"},
        {"name": "Nul\x00Name"},
        {"name": "x" * 201},
        {"name": "   "},
    ):
        fields = {"email": "x@example.org", "name": "X", "role": "admin", "password": "longenough"}
        with pytest.raises(InvalidInput):
            service.create_user(session, **{**fields, **bad})


def test_authenticate(session: Session) -> None:
    user = service.create_user(
        session, email="t@example.org", name="T", role="teacher", password="right password"
    )
    assert service.authenticate(session, "T@example.org", "right password") == user
    for email, password in [
        ("t@example.org", "wrong password"),
        ("x@example.org", "right password"),
    ]:
        with pytest.raises(InvalidCredentials):
            service.authenticate(session, email, password)
    user.active = False
    with pytest.raises(InvalidCredentials):
        service.authenticate(session, "t@example.org", "right password")
    nopass = service.create_user(
        session, email="n@example.org", name="N", role="teacher", password=None
    )
    assert nopass.password_hash is None
    with pytest.raises(InvalidCredentials):
        service.authenticate(session, "n@example.org", "")


def test_session_cookie_round_trip_and_tampering(session: Session) -> None:
    signer = SessionSigner("k" * 40, max_age_seconds=3600)
    user = f.user(session, Role.teacher)
    value = signer.cookie_value(user)
    assert signer.user_for_cookie(session, value) == user
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert signer.user_for_cookie(session, tampered) is None
    assert signer.user_for_cookie(session, None) is None
    other_key = SessionSigner("z" * 40, max_age_seconds=3600)
    assert other_key.user_for_cookie(session, value) is None


def test_session_cookie_expires_and_dies_with_password_change(session: Session) -> None:
    user = f.user(session, Role.teacher)
    signer = SessionSigner("k" * 40, max_age_seconds=3600)
    value = signer.cookie_value(user)
    expired = SessionSigner("k" * 40, max_age_seconds=-1)
    assert expired.user_for_cookie(session, value) is None
    user.password_hash = hash_password("a new password")
    assert signer.user_for_cookie(session, value) is None


def test_session_cookie_flags_and_csrf() -> None:
    signer = SessionSigner("k" * 40, max_age_seconds=600)
    options = signer.cookie_options(secure=True)
    assert options["key"] == SESSION_COOKIE
    assert options["httponly"] is True
    assert options["samesite"] == "lax"
    assert options["secure"] is True
    assert options["max_age"] == 600
    csrf = signer.csrf_token("cookie-one")
    assert signer.csrf_ok("cookie-one", csrf)
    assert not signer.csrf_ok("cookie-two", csrf)
    assert not signer.csrf_ok("cookie-one", None)
    assert not signer.csrf_ok(None, csrf)


def test_token_names_must_fit_their_column(session: Session) -> None:
    owner = f.user(session, Role.teacher)
    for bad in ("", "x" * 101, "a\x00b"):
        with pytest.raises(InvalidInput):
            service.create_token(session, owner, bad, None)
    token, _ = service.create_token(session, owner, "x" * 100, None)
    session.flush()
    assert token.name == "x" * 100
