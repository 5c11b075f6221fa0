"""POST /api/v1/auth/token and the token routes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from markbook.auth.models import Role
from tests import factories as f


def _sign_in(client: TestClient, email: str, password: str = f.PASSWORD, **extra: object):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/token", json={"email": email, "password": password, **extra})


def test_sign_in_returns_a_working_token(client: TestClient, session: Session) -> None:
    teacher = f.user(session, Role.teacher, email="ms.frizzle@school.example.org")
    session.commit()
    response = _sign_in(client, "Ms.Frizzle@school.example.org", name="grading script")
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"] == {
        "id": teacher.id,
        "email": teacher.email,
        "name": teacher.name,
        "role": "teacher",
    }
    assert body["expires_at"] is not None  # default lifetime from settings
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ms.frizzle@school.example.org"


def test_wrong_password_unknown_user_and_disabled_account_are_401(
    client: TestClient, session: Session
) -> None:
    f.user(session, Role.teacher, email="a@example.org")
    disabled = f.user(session, Role.teacher, email="b@example.org")
    disabled.active = False
    session.commit()
    for email, password in [
        ("a@example.org", "wrong"),
        ("nobody@example.org", f.PASSWORD),
        ("b@example.org", f.PASSWORD),
    ]:
        response = _sign_in(client, email, password)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert "email or password is wrong" in response.json()["detail"]


def test_missing_fields_are_422_naming_them(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", json={"email": "a@example.org"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


def test_list_and_revoke_tokens(client: TestClient, session: Session) -> None:
    owner = f.user(session, Role.tutor)
    headers = f.auth(session, owner)
    second = _sign_in(client, owner.email, name="second").json()["token"]
    listed = client.get("/api/v1/auth/tokens", headers=headers).json()
    assert sorted(t["name"] for t in listed) == ["second", "test"]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    second_id = next(t["id"] for t in listed if t["name"] == "second")
    assert client.delete(f"/api/v1/auth/tokens/{second_id}", headers=headers).status_code == 204
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second}"})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/tokens/999999", headers=headers).status_code == 404
