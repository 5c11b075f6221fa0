"""Web sign-in: a signed session cookie, and CSRF tokens tied to it.

The cookie holds the user id and a fingerprint of the password hash, signed with
the secret key (itsdangerous), so it cannot be forged, and changing a password
signs every browser out. It is HttpOnly (scripts cannot read it) and SameSite=Lax
(other sites cannot send it with their forms).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from markbook.auth.models import User

SESSION_COOKIE = "markbook_session"
_SALT = "markbook.session.v1"


class SessionSigner:
    def __init__(self, secret_key: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._secret = secret_key.encode("utf-8")
        self.max_age_seconds = max_age_seconds

    def cookie_value(self, user: User) -> str:
        return self._serializer.dumps({"uid": user.id, "fp": _fingerprint(user)})

    def user_for_cookie(self, session: Session, value: str | None) -> User | None:
        if not value:
            return None
        try:
            payload: Any = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # also covers SignatureExpired
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("uid"), int):
            return None
        user = session.get(User, payload["uid"])
        if user is None or not user.active or payload.get("fp") != _fingerprint(user):
            return None
        return user

    def cookie_options(self, *, secure: bool) -> dict[str, Any]:
        return {
            "key": SESSION_COOKIE,
            "max_age": self.max_age_seconds,
            "httponly": True,
            "samesite": "lax",
            "secure": secure,
            "path": "/",
        }

    def csrf_token(self, cookie_value: str) -> str:
        """A token forms must echo: derived from the session, so another site cannot know it."""
        return hmac.new(self._secret, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, cookie_value: str | None, submitted: str | None) -> bool:
        if not cookie_value or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(cookie_value), submitted)


def _fingerprint(user: User) -> str:
    material = f"{user.id}:{user.password_hash or ''}".encode()
    return hashlib.sha256(material).hexdigest()[:16]
