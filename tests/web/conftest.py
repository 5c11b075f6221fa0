"""Signing a test client in to the web UI through the real sign-in form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import PASSWORD

# The hand-worked school of the report tests, for pages that must show its figures.
from tests.reports.conftest import school  # noqa: F401

_HIDDEN = re.compile(r'name="(?P<name>[a-z_]+)" value="(?P<value>[^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page (name -> value; the first of each name)."""
    fields: dict[str, str] = {}
    for match in _HIDDEN.finditer(html):
        fields.setdefault(match["name"], match["value"])
    return fields


def csrf_of(html: str) -> str:
    return hidden_fields(html)["csrf_token"]


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in as ``email``; returns the CSRF token its forms must send."""
    form = client.get("/signin")
    assert form.status_code == 200, form.text
    fields = hidden_fields(form.text)
    answer = client.post(
        "/signin",
        data={
            "email": email,
            "password": password,
            "signin_token": fields["signin_token"],
            "next": "/students",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/students")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
