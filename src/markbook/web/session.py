"""Who is signed in to the web UI, and the CSRF check every form goes through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session

from markbook.auth.models import Role, User
from markbook.auth.sessions import SESSION_COOKIE, SessionSigner
from markbook.deps import SessionDep
from markbook.errors import Forbidden

CSRF_FIELD = "csrf_token"
STALE_FORM = (
    "This form has expired or did not come from a Markbook page, so nothing was changed. "
    "Reload the page and try again."
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is signed in, as pages show it: a copy, so an error page drawn after the
    request's session was rolled back can still name them."""

    id: int
    name: str
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return Role(self.role) is Role.admin


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def signer(request: Request) -> SessionSigner:
    value: SessionSigner = request.app.state.session_signer
    return value


def user_of(request: Request, session: Session) -> User | None:
    """The user the request's session cookie signs in, if any (remembered on the request)."""
    state = request.state
    if not hasattr(state, "signed_in"):
        state.signed_in = signer(request).user_for_cookie(
            session, request.cookies.get(SESSION_COOKIE)
        )
        if state.signed_in is not None:
            user = state.signed_in
            state.viewer = Viewer(user.id, user.name, user.email, user.role)
    signed_in: User | None = state.signed_in
    return signed_in


def web_user(request: Request, session: SessionDep) -> User:
    user = user_of(request, session)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return user


WebUser = Annotated[User, Depends(web_user)]


async def admin_page(user: WebUser) -> User:
    if Role(user.role) is not Role.admin:
        raise Forbidden("Only administrators may open this page.")
    return user


WebAdmin = Annotated[User, Depends(admin_page)]


def csrf_token(request: Request) -> str:
    """The token a form on this user's pages must send back."""
    return signer(request).csrf_token(request.cookies.get(SESSION_COOKIE, ""))


def form_user(
    request: Request, user: WebUser, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> User:
    """The signed-in user of a form post whose CSRF token matches their session."""
    if not signer(request).csrf_ok(request.cookies.get(SESSION_COOKIE), csrf_token):
        raise Forbidden(STALE_FORM)
    return user


FormUser = Annotated[User, Depends(form_user)]


def form_admin(user: FormUser) -> User:
    if Role(user.role) is not Role.admin:
        raise Forbidden("Only administrators may do this.")
    return user


FormAdmin = Annotated[User, Depends(form_admin)]


def safe_next(target: str | None, default: str = "/students") -> str:
    """A same-site path to go to after signing in; anything else goes to ``default``.

    Only a path that starts with one ``/`` stays on this site: ``//host`` and
    ``/\\host`` are read by browsers as another host.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target


def sign_in_url(next_url: str) -> str:
    return "/signin?next=" + quote(next_url, safe="/")
