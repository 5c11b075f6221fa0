"""People who sign in, and the API tokens they hold."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from markbook.db import Base, utcnow


class Role(enum.StrEnum):
    admin = "admin"
    teacher = "teacher"
    tutor = "tutor"
    guardian = "guardian"
    student = "student"


def _in(column: str, values: type[enum.StrEnum] | tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        # Emails are stored lower-cased (see auth.service.normalize_email); the
        # check keeps a direct SQL write from sneaking in a second spelling.
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, kept in clear so people can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    def is_usable(self, now: dt.datetime) -> bool:
        return token_usable(self.revoked_at, self.expires_at, now)


def token_usable(
    revoked_at: dt.datetime | None, expires_at: dt.datetime | None, now: dt.datetime
) -> bool:
    """Neither revoked nor expired at ``now``."""
    return revoked_at is None and (expires_at is None or expires_at > now)
