"""Admin pages: caches, users and API tokens, for administrators only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from markbook.auth.models import ApiToken, Role, User
from markbook.jobs.models import ExportJob, JobStatus
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

NEW_PASSWORD = "a long enough password"


@dataclass
class People:
    admin: User
    teacher: User


@pytest.fixture
def people(session: Session) -> People:
    admin = f.user(session, Role.admin, name="Ada Admin")
    teacher = f.user(session, Role.teacher, name="Tess Teacher")
    session.commit()
    return People(admin, teacher)


def users_named(session: Session, email: str) -> int:
    session.expire_all()
    return session.execute(
        select(func.count()).select_from(User).where(User.email == email)
    ).scalar_one()


def token_value(html: str) -> str:
    match = re.search(r'id="new-token-value"[^>]*value="(mb_[^"]+)"', html)
    assert match, "the new token is not on the page"
    return match[1]


def form_csrf(html: str, action: str) -> str:
    """The CSRF token the form posting to ``action`` carries (not the sign-out form's)."""
    match = re.search(
        rf'<form[^>]*action="{re.escape(action)}"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token" value="([^"]+)"',
        html,
    )
    assert match, f"no form posting to {action} with a CSRF token"
    return match[1]


def is_html(response: Any) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("text/html")


def test_admin_clears_the_report_cache(
    client: TestClient, session: Session, people: People
) -> None:
    pupil = f.student(session)
    headers = f.auth(session, people.admin)
    report = f"/api/v1/students/{pupil.id}/performance"
    assert client.get(report, headers=headers).headers["x-cache"] == "miss"
    assert client.get(report, headers=headers).headers["x-cache"] == "hit"

    csrf = sign_in(client, people.admin.email)
    admin = client.get("/admin")
    assert admin.status_code == 200
    assert "Clear report cache" in admin.text and "Clear export cache" in admin.text
    assert form_csrf(admin.text, "/admin/cache/reports") == csrf
    cleared = client.post(
        "/admin/cache/reports", data={"csrf_token": form_csrf(admin.text, "/admin/cache/reports")}
    )
    assert cleared.status_code == 200
    assert "1 cached report removed" in cleared.text
    assert client.get(report, headers=headers).headers["x-cache"] == "miss"


def test_admin_clears_the_export_cache(
    client: TestClient, session: Session, people: People
) -> None:
    for number, status in enumerate((JobStatus.succeeded, JobStatus.failed, JobStatus.running)):
        session.add(
            ExportJob(
                id=f"job{number}",
                kind="export",
                params={},
                requested_by=people.admin.id,
                status=status.value,
                dedupe_key=f"key{number}",
            )
        )
    session.commit()
    sign_in(client, people.admin.email)
    csrf = form_csrf(client.get("/admin").text, "/admin/cache/exports")
    cleared = client.post("/admin/cache/exports", data={"csrf_token": csrf})
    assert cleared.status_code == 200
    assert "2 finished export jobs will no longer be reused" in cleared.text
    session.expire_all()
    keys = {job.id: job.dedupe_key for job in session.scalars(select(ExportJob))}
    assert keys == {"job0": None, "job1": None, "job2": "key2"}  # a running job is kept


def test_admin_creates_a_user_who_can_sign_in(
    app: FastAPI, client: TestClient, session: Session, people: People
) -> None:
    sign_in(client, people.admin.email)
    csrf = form_csrf(client.get("/admin").text, "/admin/users")
    created = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "email": " New.Person@School.example.org ",
            "name": "New Person",
            "role": "tutor",
            "password": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    user_page = client.get(created.headers["location"])
    assert user_page.status_code == 200
    assert "Created the account new.person@school.example.org" in user_page.text
    listed = client.get("/admin", params={"q": "new.person"}).text
    assert "new.person@school.example.org" in listed and "1 user" in listed
    tutors = client.get("/admin", params={"role": "tutor"}).text
    assert "new.person@school.example.org" in tutors and people.admin.email not in tutors

    with TestClient(app) as other:
        sign_in(other, "new.person@school.example.org", NEW_PASSWORD)
        assert "New Person" in other.get("/students").text


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"email": "not-an-email"}, 422, "is not an email address"),
        ({"role": "headmaster"}, 422, "is not a role"),
        ({"password": "short"}, 422, "The password is too short"),
        ({"password": ""}, 422, "Choose a password"),
        ({"name": "  "}, 422, "A user needs a name"),
        ({"email": "TAKEN@school.example.org"}, 409, "There is already a user with the email"),
    ],
)
def test_a_user_that_cannot_be_made_is_explained(
    client: TestClient,
    session: Session,
    people: People,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    f.user(session, Role.teacher, email="taken@school.example.org")
    session.commit()
    csrf = sign_in(client, people.admin.email)
    data = {
        "csrf_token": csrf,
        "email": "someone@school.example.org",
        "name": "Some One",
        "role": "guardian",
        "password": NEW_PASSWORD,
        **fields,
    }
    answer = client.post("/admin/users", data=data)
    assert answer.status_code == status
    assert is_html(answer)
    assert message in answer.text.replace("&#39;", "'")
    # What was typed is kept (except the password).
    assert f'value="{data["email"]}"' in answer.text
    assert f'value="{data["name"]}"' in answer.text
    assert NEW_PASSWORD not in answer.text
    if data["role"] == "guardian":
        assert '<option value="guardian" selected>' in answer.text
    assert users_named(session, "someone@school.example.org") == 0


def test_tokens_are_shown_once_work_and_can_be_revoked(
    client: TestClient, session: Session, people: People
) -> None:
    teacher = people.teacher
    sign_in(client, people.admin.email)
    form = client.get(f"/admin/users/{teacher.id}").text
    assert 'value="90"' in form  # the server's default lifetime
    csrf = form_csrf(form, f"/admin/users/{teacher.id}/tokens")
    made = client.post(
        f"/admin/users/{teacher.id}/tokens",
        data={"csrf_token": csrf, "name": "gradebook sync", "expires_days": "30"},
    )
    assert made.status_code == 200
    value = token_value(made.text)
    assert 'data-copy="new-token-value"' in made.text
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {value}"})
    assert me.status_code == 200 and me.json()["email"] == teacher.email

    listed = client.get(f"/admin/users/{teacher.id}")
    assert value not in listed.text  # never shown again
    assert value[:9] in listed.text  # its prefix tells it apart
    assert "gradebook sync" in listed.text and 'class="badge active"' in listed.text
    revoke = re.search(r'action="(/admin/users/\d+/tokens/(\d+)/revoke)"', listed.text)
    assert revoke is not None and "data-confirm" in listed.text

    # A POST without the CSRF token changes nothing.
    refused = client.post(revoke[1], data={"csrf_token": "forged"})
    assert refused.status_code == 403 and is_html(refused)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {value}"}).is_success

    done = client.post(revoke[1], data={"csrf_token": form_csrf(listed.text, revoke[1])})
    assert done.status_code == 200
    assert "Revoked the token “gradebook sync”" in done.text
    assert 'class="badge revoked"' in done.text
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {value}"})
    assert me.status_code == 401

    # A token of another user, under this user's page, is not found and stays.
    own = f.token(session, people.admin)
    session.commit()
    admin_token = session.scalars(select(ApiToken).where(ApiToken.user_id == people.admin.id)).one()
    wrong = client.post(
        f"/admin/users/{teacher.id}/tokens/{admin_token.id}/revoke", data={"csrf_token": csrf}
    )
    assert wrong.status_code == 404 and is_html(wrong)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {own}"}).is_success


@pytest.mark.parametrize(
    ("days", "message"),
    [("abc", "must be a whole number"), ("0", "A token lasts from 1 to"), ("99999", "1 to")],
)
def test_a_token_that_cannot_be_made_is_explained(
    client: TestClient, session: Session, people: People, days: str, message: str
) -> None:
    csrf = sign_in(client, people.admin.email)
    answer = client.post(
        f"/admin/users/{people.teacher.id}/tokens",
        data={"csrf_token": csrf, "name": "sync", "expires_days": days},
    )
    assert answer.status_code == 422 and is_html(answer)
    assert message in answer.text
    assert 'value="sync"' in answer.text
    assert "new-token-value" not in answer.text
    session.expire_all()
    assert session.scalars(select(ApiToken)).all() == []


def test_teachers_may_not_use_the_admin_pages(
    client: TestClient, session: Session, people: People
) -> None:
    csrf = sign_in(client, people.teacher.email)
    for path in ("/admin", f"/admin/users/{people.admin.id}"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert is_html(page) and "Only administrators" in page.text
    posts = {
        "/admin/cache/reports": {},
        "/admin/cache/exports": {},
        "/admin/users": {
            "email": "sneaky@school.example.org",
            "name": "Sneaky",
            "role": "admin",
            "password": NEW_PASSWORD,
        },
        f"/admin/users/{people.teacher.id}/tokens": {"name": "mine", "expires_days": ""},
    }
    for path, fields in posts.items():
        answer = client.post(path, data={"csrf_token": csrf, **fields})
        assert answer.status_code == 403, path
        assert is_html(answer) and "Only administrators" in answer.text
    assert users_named(session, "sneaky@school.example.org") == 0
    assert session.scalars(select(ApiToken)).all() == []
    # The menu has no Admin entry for them.
    assert 'href="/admin"' not in client.get("/students").text


def test_admin_forms_need_the_csrf_token(
    client: TestClient, session: Session, people: People
) -> None:
    sign_in(client, people.admin.email)
    fields = {"email": "forged@school.example.org", "name": "Forged", "role": "admin"}
    for token in (None, "", "0" * 64):
        data = {**fields, "password": NEW_PASSWORD}
        if token is not None:
            data["csrf_token"] = token
        answer = client.post("/admin/users", data=data)
        assert answer.status_code == 403 and is_html(answer)
        assert "nothing was changed" in answer.text
        made = client.post(f"/admin/users/{people.teacher.id}/tokens", data={"name": "x"})
        assert made.status_code == 403
    assert users_named(session, "forged@school.example.org") == 0
    assert session.scalars(select(ApiToken)).all() == []
    # The page's own token still works afterwards.
    csrf = csrf_of(client.get("/admin").text)
    assert client.post("/admin/cache/reports", data={"csrf_token": csrf}).status_code == 200


def test_an_unknown_user_is_not_found(client: TestClient, people: People) -> None:
    sign_in(client, people.admin.email)
    answer = client.get("/admin/users/999999")
    assert answer.status_code == 404 and is_html(answer)
