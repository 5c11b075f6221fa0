"""Signing in and out of the web UI; CSRF; friendly error pages beside the API's JSON."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from markbook.auth.models import Role
from markbook.auth.sessions import SESSION_COOKIE
from markbook.web.session import safe_next
from tests import factories as f
from tests.web.conftest import csrf_of, hidden_fields, sign_in


@pytest.fixture
def teacher_email(session: Session) -> str:
    teacher = f.user(session, Role.teacher, name="Tess Teacher")
    session.commit()
    return teacher.email


def test_a_page_sends_a_stranger_to_sign_in_and_back(
    client: TestClient, teacher_email: str
) -> None:
    answer = client.get("/students?q=ana", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/students%3Fq%3Dana"
    form = client.get(answer.headers["location"])
    fields = hidden_fields(form.text)
    assert fields["next"] == "/students?q=ana"
    signed_in = client.post(
        "/signin",
        data={"email": teacher_email, "password": f.PASSWORD, **fields},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/students?q=ana"
    cookie = signed_in.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Tess Teacher" in client.get("/students").text


def test_a_wrong_password_is_said_on_the_form(client: TestClient, teacher_email: str) -> None:
    fields = hidden_fields(client.get("/signin").text)
    answer = client.post("/signin", data={"email": teacher_email, "password": "not it", **fields})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert "do not match an active account" in answer.text
    assert teacher_email in answer.text  # the email is kept
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/students", follow_redirects=False).status_code == 303


def test_a_sign_in_form_from_elsewhere_is_refused(client: TestClient, teacher_email: str) -> None:
    # Another site can post to /signin, but it cannot know the token tied to our cookie.
    answer = client.post(
        "/signin",
        data={"email": teacher_email, "password": f.PASSWORD, "signin_token": "forged"},
    )
    assert answer.status_code == 403
    assert "form had expired" in answer.text
    assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/students/3?period=term-0", "/students/3?period=term-0"),
        ("//evil.example/x", "/students"),
        ("/\\evil.example", "/students"),
        ("https://evil.example/", "/students"),
        ("/students\r\nSet-Cookie: x=y", "/students"),
        ("", "/students"),
        (None, "/students"),
    ],
)
def test_only_a_path_on_this_site_is_followed_after_sign_in(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected


def test_sign_out_needs_the_forms_token(client: TestClient, teacher_email: str) -> None:
    csrf = sign_in(client, teacher_email)
    refused = client.post("/signout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert "did not come from a Markbook page" in refused.text
    assert client.get("/students", follow_redirects=False).status_code == 200
    done = client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/signin"
    assert client.get("/students", follow_redirects=False).status_code == 303


def test_a_changed_password_signs_every_browser_out(
    client: TestClient, session: Session, teacher_email: str
) -> None:
    from markbook.auth.passwords import hash_password
    from markbook.auth.service import user_by_email

    sign_in(client, teacher_email)
    account = user_by_email(session, teacher_email)
    assert account is not None
    account.password_hash = hash_password("a new and different password")
    session.commit()
    assert client.get("/students", follow_redirects=False).status_code == 303


def test_pages_answer_errors_in_html_and_the_api_in_problem_json(
    client: TestClient, teacher_email: str
) -> None:
    sign_in(client, teacher_email)
    page = client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at /no-such-page" in page.text
    assert "Tess Teacher" in page.text  # still signed in, menu and all
    api = client.get("/api/v1/no-such-route", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    # A program that asks for JSON (or anything) at an unknown path gets problem+json.
    assert client.get("/no-such-page").headers["content-type"] == "application/problem+json"


def test_bad_query_values_get_a_sentence_not_a_stack_trace(
    client: TestClient, teacher_email: str
) -> None:
    sign_in(client, teacher_email)
    answer = client.get("/students?page=0")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Some values need fixing" in answer.text
    assert "Traceback" not in answer.text
    assert "{" not in answer.text.split("<main", 1)[1].split("</main>", 1)[0]


def test_the_csrf_token_is_tied_to_the_session(client: TestClient, session: Session) -> None:
    one = f.user(session, Role.teacher)
    two = f.user(session, Role.teacher)
    session.commit()
    token_one = sign_in(client, one.email)
    with TestClient(client.app) as other:
        token_two = sign_in(other, two.email)
        assert token_one != token_two
        # One user's token does not work in another's session.
        assert other.post("/signout", data={"csrf_token": token_one}).status_code == 403
    assert csrf_of(client.get("/students").text) == token_one
