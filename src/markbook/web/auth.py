"""Sign in and out of the web UI."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from markbook.auth import service
from markbook.auth.sessions import SESSION_COOKIE
from markbook.deps import SessionDep
from markbook.errors import InvalidCredentials
from markbook.web.session import FormUser, safe_next, signer, user_of
from markbook.web.templating import page

router = APIRouter(include_in_schema=False)

# Before sign-in there is no session to tie a CSRF token to, so the sign-in form is
# tied to a random cookie of its own ("login CSRF": another site must not sign a
# browser in to an account of its choosing).
SIGN_IN_COOKIE = "markbook_signin"


def _sign_in_token(request: Request, nonce: str) -> str:
    return signer(request).csrf_token("signin:" + nonce)


def _sign_in_form(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    nonce = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    response = page(
        request,
        "signin.html",
        {
            "next_url": next_url,
            "email": email,
            "error": error,
            "signin_token": _sign_in_token(request, nonce),
        },
        status_code=status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    target = "/students" if user_of(request, session) else "/signin"
    return RedirectResponse(target, status_code=303)


@router.get("/signin")
def sign_in_page(request: Request, session: SessionDep, next: str | None = None) -> Response:
    if user_of(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _sign_in_form(request, next_url=safe_next(next))


@router.post("/signin")
def sign_in(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    signin_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    next_url = safe_next(next)
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    if not nonce or not signer(request).csrf_ok("signin:" + nonce, signin_token):
        return _sign_in_form(
            request,
            next_url=next_url,
            email=email,
            error="The sign-in form had expired. Please enter your email and password again.",
            status=403,
        )
    if not email.strip() or not password:
        return _sign_in_form(
            request,
            next_url=next_url,
            email=email,
            error="Enter both your email address and your password.",
            status=422,
        )
    try:
        user = service.authenticate(session, email, password)
    except InvalidCredentials:
        return _sign_in_form(
            request,
            next_url=next_url,
            email=email,
            error="That email and password do not match an active account. Check both and try "
            "again; an administrator can reset a forgotten password.",
            status=401,
        )
    response = RedirectResponse(next_url, status_code=303)
    options = signer(request).cookie_options(secure=request.url.scheme == "https")
    response.set_cookie(value=signer(request).cookie_value(user), **options)
    response.delete_cookie(SIGN_IN_COOKIE)
    return response


@router.post("/signout")
def sign_out(_user: FormUser) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
