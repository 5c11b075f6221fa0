"""create_app(): health, metrics, request ids, docs, and a token on every API route."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from markbook.app import create_app
from markbook.settings import Settings

CLOSED_REDIS = "redis://127.0.0.1:1/0"
CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1//"
GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")
# The one API route that must answer without a token: it hands them out.
SIGN_IN = ("POST", "/api/v1/auth/token")
SHARED_DOWNLOAD = ("GET", "/api/v1/downloads/{token}")

MakeClient = Callable[..., TestClient]


@pytest.fixture(scope="module")
def sqlite_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """For tests the database plays no part in: one SQLite file for the module."""
    path = tmp_path_factory.mktemp("app") / "markbook.db"
    return Settings(
        database_url=f"sqlite:///{path}",
        secret_key="test-secret-" + "x" * 40,
        export_dir=path.parent / "exports",
    )


@pytest.fixture
def sqlite_app(sqlite_settings: Settings) -> FastAPI:
    return create_app(sqlite_settings)


@pytest.fixture
def sqlite_client(sqlite_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(sqlite_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_client(settings: Settings) -> Iterator[MakeClient]:
    """Builds a client for an app whose settings differ from the test's in ``changes``."""
    with ExitStack() as stack:

        def make(**changes: object) -> TestClient:
            app = create_app(settings.model_copy(update=changes))
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield make


# /healthz


def test_healthz_reports_each_component_ok(client: TestClient, backend: str) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {
        "database": {"status": "ok", "backend": backend},
        "cache": {"status": "ok", "backend": "memory"},
        "broker": {"status": "ok", "backend": "in-process"},
        "storage": {"status": "ok", "backend": "local"},
    }


def test_healthz_reports_redis_cache(make_client: MakeClient, redis_url: str) -> None:
    response = make_client(redis_url=redis_url).get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["cache"] == {"status": "ok", "backend": "redis"}


def test_healthz_reports_redis_down_as_503(make_client: MakeClient, backend: str) -> None:
    started = time.perf_counter()
    response = make_client(redis_url=CLOSED_REDIS, redis_socket_timeout=0.2).get("/healthz")
    assert time.perf_counter() - started < 2
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    cache = body["checks"]["cache"]
    assert cache["status"] == "error"
    assert cache["backend"] == "redis"
    assert "ConnectionError" in cache["error"]
    assert body["checks"]["database"] == {"status": "ok", "backend": backend}


def test_healthz_reports_broker_down_as_503(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings.model_copy(update={"broker_url": CLOSED_BROKER}))
    started = time.perf_counter()
    with TestClient(app) as test_client:
        response = test_client.get("/healthz")
    assert time.perf_counter() - started < 5
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["status"] == "error"
    assert broker["backend"] == "amqp"
    assert "refused" in broker["error"].lower()
    assert "guest:guest" not in broker["error"]


# /metrics


def requests_counted(client: TestClient, method: str, route: str, status: int) -> float:
    response = client.get("/metrics")
    wanted = {"method": method, "route": route, "status": str(status)}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "markbook_http_requests_total" and sample.labels == wanted:
                return float(sample.value)
    return 0.0


def routes_counted(client: TestClient) -> set[str]:
    return {
        sample.labels["route"]
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "markbook_http_requests_total"
    }


def test_metrics_is_prometheus_text(sqlite_client: TestClient) -> None:
    sqlite_client.get("/healthz")
    response = sqlite_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE markbook_http_requests_total counter" in response.text
    assert "# TYPE markbook_http_request_duration_seconds histogram" in response.text


def test_metrics_count_requests_by_route_template(sqlite_client: TestClient) -> None:
    template = "/api/v1/students/{student_id}"
    before = requests_counted(sqlite_client, "GET", template, 401)
    for student_id in (123, 456, 789):
        assert sqlite_client.get(f"/api/v1/students/{student_id}").status_code == 401
    assert requests_counted(sqlite_client, "GET", template, 401) - before == 3
    assert "/api/v1/students/123" not in routes_counted(sqlite_client)


def test_metrics_count_unexpected_errors(sqlite_settings: Settings) -> None:
    app = create_app(sqlite_settings)

    def crash() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test/crash", crash, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        before = requests_counted(test_client, "GET", "/test/crash", 500)
        assert test_client.get("/test/crash").status_code == 500
        assert test_client.get("/test/crash").status_code == 500
        assert requests_counted(test_client, "GET", "/test/crash", 500) - before == 2


# X-Request-ID


def test_each_answer_carries_a_new_request_id(sqlite_client: TestClient) -> None:
    first = sqlite_client.get("/healthz").headers["x-request-id"]
    second = sqlite_client.get("/api/v1/students").headers["x-request-id"]
    assert GENERATED_ID.match(first)
    assert GENERATED_ID.match(second)
    assert first != second


def test_sane_request_id_is_echoed(sqlite_client: TestClient) -> None:
    response = sqlite_client.get(
        "/api/v1/students", headers={"X-Request-ID": "sis-sync.2026_09-01"}
    )
    assert response.headers["x-request-id"] == "sis-sync.2026_09-01"
    assert response.json()["request_id"] == "sis-sync.2026_09-01"


@pytest.mark.parametrize(
    "given",
    ["a" * 500, "abc\n", "abc\r\nX-Injected: 1", "id with spaces", "<script>", ""],
    ids=["500-chars", "trailing-newline", "header-injection", "spaces", "markup", "empty"],
)
def test_malicious_request_id_is_replaced(sqlite_client: TestClient, given: str) -> None:
    response = sqlite_client.get("/healthz", headers={"X-Request-ID": given})
    assert GENERATED_ID.match(response.headers["x-request-id"])
    assert "x-injected" not in response.headers


# Docs and authentication


def test_docs_answer_without_a_token(sqlite_client: TestClient) -> None:
    docs = sqlite_client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    schema = sqlite_client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/students/{student_id}" in schema.json()["paths"]


def api_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every API route, however deeply its router is included."""
    # Since FastAPI 0.137, app.routes holds included routers unflattened; iterate
    # through them the way FastAPI's own OpenAPI generator does.
    from fastapi.routing import iter_route_contexts

    operations: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if isinstance(context.original_route, APIRoute) and path.startswith("/api/v1"):
            operations |= {(method, path) for method in context.methods or ()}
    return operations


def documented_operations(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_route_sweep_sees_every_documented_api_route(sqlite_app: FastAPI) -> None:
    # Guards the sweep below against passing because it found no routes.
    documented = {op for op in documented_operations(sqlite_app) if op[1].startswith("/api/v1")}
    assert len(documented) >= 10
    assert documented <= api_operations(sqlite_app)


def test_a_shared_download_needs_no_token_but_a_valid_link(client: TestClient) -> None:
    # Its signed link is the credential (tests/jobs/test_local.py checks the real thing).
    response = client.get("/api/v1/downloads/1")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-real-token", "Basic YWRtaW46YWRtaW4="]
)
def test_every_api_route_but_sign_in_needs_a_token(
    app: FastAPI, client: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answers = {}
    for method, path in sorted(api_operations(app) - {SIGN_IN, SHARED_DOWNLOAD}):
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = client.request(method, url, headers=headers)
        answers[f"{method} {path}"] = (
            response.status_code,
            response.headers.get("content-type", "").split(";")[0],
        )
    assert answers
    wrong = {op: got for op, got in answers.items() if got != (401, "application/problem+json")}
    assert wrong == {}


def test_sign_in_answers_without_a_token(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", json={"email": "nobody@example.org"})
    # Not 401 for the missing header: it complains about the missing password instead.
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["password"]


def test_every_operation_has_a_description(sqlite_app: FastAPI) -> None:
    # FastAPI makes up a summary from the function name, so only the description
    # (the docstring) shows that somebody documented the route.
    undocumented = sorted(
        f"{method.upper()} {path}"
        for path, operations in sqlite_app.openapi()["paths"].items()
        for method, operation in operations.items()
        if not operation.get("description", "").strip()
    )
    assert undocumented == []
    assert ("GET", "/healthz") in documented_operations(sqlite_app)
