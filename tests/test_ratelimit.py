"""Rate limits: 429 answers, per user not per token, three classes, memory and Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import limits.storage.memory
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits import RateLimitItemPerMinute
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from sqlalchemy.orm import Session

from markbook.app import create_app
from markbook.auth.models import Role
from markbook.auth.sessions import SESSION_COOKIE
from markbook.auth.tokens import issue_token, revoke_token
from markbook.ratelimit import RedisCounters, request_class
from markbook.settings import Settings
from tests import factories as f

CLOSED_REDIS = "redis://127.0.0.1:1/0"
BULK = "/api/v1/reports/bulk/student-performance"
JOBS = "/api/v1/jobs"
ME = "/api/v1/auth/me"

MakeApp = Callable[..., FastAPI]
OpenClient = Callable[..., TestClient]


@pytest.fixture
def make_app(settings: Settings, engine: object) -> MakeApp:
    """An app whose settings differ from the test's in ``changes`` (tables emptied after)."""

    def make(**changes: object) -> FastAPI:
        return create_app(settings.model_copy(update=changes))

    return make


@pytest.fixture
def open_client() -> Iterator[OpenClient]:
    """A started client of ``app``, from ``address`` (TestClient's own by default)."""
    with ExitStack() as stack:

        def open_(app: FastAPI, address: tuple[str, int] = ("testclient", 50000)) -> TestClient:
            client = TestClient(app, raise_server_exceptions=False, client=address)
            return stack.enter_context(client)

        yield open_


class FakeClock:
    """Stands in for the clock of `limits`' memory storage."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    # 10.5 s into a minute of the epoch: the memory counter's windows start on whole minutes.
    fake = FakeClock(1_800_000_000.0 + 10.5)
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    return fake


def retry_after(response: Any) -> int:
    assert response.status_code == 429
    value = response.headers["retry-after"]
    assert value.isdigit() and 1 <= int(value) <= 60
    return int(value)


def requests_counted(client: TestClient, status: int) -> float:
    wanted = {"method": "GET", "route": "unmatched", "status": str(status)}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "markbook_http_requests_total" and sample.labels == wanted:
                return float(sample.value)
    return 0.0


# Over the limit


def test_over_the_limit_is_a_429_problem_until_retry_after_has_passed(
    make_app: MakeApp, open_client: OpenClient, session: Session, clock: FakeClock
) -> None:
    client = open_client(make_app(rate_limit_requests_per_minute=2))
    headers = f.auth(session, f.user(session, Role.teacher))
    counted = requests_counted(client, 429)
    assert [client.get(ME, headers=headers).status_code for _ in range(2)] == [200, 200]

    refused = client.get(ME, headers=headers)
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["status"] == 429
    assert body["type"] == "urn:markbook:problem:too-many-requests"
    # The window ends in 49.5 s; the next request passes strictly after that.
    assert retry_after(refused) == 50
    assert body["detail"] == (
        "Too many requests: at most 2 per minute for each user. Try again in 50 seconds."
    )
    assert refused.headers["ratelimit-limit"] == "2"
    assert body["request_id"] == refused.headers["x-request-id"]
    assert requests_counted(client, 429) == counted + 1

    clock.advance(49)
    assert retry_after(client.get(ME, headers=headers)) == 1
    clock.advance(1)
    assert client.get(ME, headers=headers).status_code == 200

    # Half a second into the new minute the last one still weighs 59.5/60 of its 2
    # requests: room for one more comes back once that share drops below 1, in 29.5 s.
    assert retry_after(client.get(ME, headers=headers)) == 30
    clock.advance(29)
    assert retry_after(client.get(ME, headers=headers)) == 1
    clock.advance(1)
    assert client.get(ME, headers=headers).status_code == 200


# Who is counted


def test_tokens_of_one_user_share_a_counter_and_users_do_not(
    make_app: MakeApp, open_client: OpenClient, session: Session
) -> None:
    client = open_client(make_app(rate_limit_requests_per_minute=2))
    teacher, tutor = f.user(session, Role.teacher), f.user(session, Role.tutor)
    first, second = f.auth(session, teacher), f.auth(session, teacher)
    assert client.get(ME, headers=first).status_code == 200
    assert client.get(ME, headers=second).status_code == 200
    assert retry_after(client.get(ME, headers=first))
    assert retry_after(client.get(ME, headers=second))
    assert client.get(ME, headers=f.auth(session, tutor)).status_code == 200
    assert client.get(ME).status_code == 401  # the address has its own counter


def test_a_session_cookie_counts_for_its_user(
    make_app: MakeApp, open_client: OpenClient, session: Session
) -> None:
    app = make_app(rate_limit_requests_per_minute=2)
    client = open_client(app)
    teacher = f.user(session, Role.teacher)
    headers = f.auth(session, teacher)
    cookie = app.state.session_signer.cookie_value(teacher)
    # The API wants a token, so the cookie's request is refused; it is counted all the same.
    cookie_header = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert client.get(ME, headers=cookie_header).status_code == 401
    assert client.get(ME, headers=headers).status_code == 200
    assert "for each user" in client.get(ME, headers=headers).json()["detail"]


def test_requests_without_a_usable_credential_are_counted_per_address(
    make_app: MakeApp, open_client: OpenClient, session: Session
) -> None:
    app = make_app(rate_limit_requests_per_minute=4)
    here, elsewhere = open_client(app), open_client(app, ("1.2.3.4", 123))
    teacher, disabled = f.user(session, Role.teacher), f.user(session, Role.teacher)
    revoked, value = issue_token(session, teacher, "old", None)
    revoke_token(revoked)
    disabled_headers = f.auth(session, disabled)
    disabled.active = False
    session.commit()
    assert here.get(ME).status_code == 401
    assert here.get(ME, headers={"Authorization": "Bearer mb_unknown"}).status_code == 401
    assert here.get(ME, headers={"Authorization": f"Bearer {value}"}).status_code == 401
    assert here.get(ME, headers=disabled_headers).status_code == 401
    refused = here.get(ME)
    assert retry_after(refused)
    assert "at most 4 per minute from each address without sign-in" in refused.json()["detail"]
    assert elsewhere.get(ME).status_code == 401
    assert here.get(ME, headers=f.auth(session, teacher)).status_code == 200


def test_a_token_is_looked_up_once_not_per_request(
    make_app: MakeApp, open_client: OpenClient, session: Session
) -> None:
    app = make_app()
    client = open_client(app)
    headers = f.auth(session, f.user(session, Role.teacher))
    statements: list[str] = []
    event.listen(
        app.state.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    # A route that does not exist touches no database; only the limiter's lookup does.
    assert client.get("/api/v1/nowhere", headers=headers).status_code == 404
    assert len(statements) == 1 and "api_tokens" in statements[0]
    assert client.get("/api/v1/nowhere", headers=headers).status_code == 404
    assert len(statements) == 1


# Three classes of request


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", BULK, "bulk"),
        ("GET", BULK, "requests"),
        ("POST", JOBS, "jobs"),
        ("GET", JOBS, "requests"),
        ("POST", JOBS + "/7/cancel", "requests"),
        ("GET", "/api/v1/students", "requests"),
        ("GET", "/healthz", None),
        ("GET", "/metrics", None),
        ("GET", "/docs", None),
        ("GET", "/redoc", None),
        ("GET", "/openapi.json", None),
    ],
)
def test_request_classes(method: str, path: str, expected: str | None) -> None:
    assert request_class(method, path) == expected


def test_each_class_has_its_own_limit(
    make_app: MakeApp, open_client: OpenClient, session: Session
) -> None:
    client = open_client(
        make_app(
            rate_limit_bulk_per_minute=1,
            rate_limit_jobs_per_minute=2,
            rate_limit_requests_per_minute=3,
        )
    )
    headers = f.auth(session, f.user(session, Role.admin))
    # Whatever these routes answer today (they may not exist yet), each request counts.
    assert client.post(BULK, headers=headers, json={}).status_code != 429
    refused = client.post(BULK, headers=headers, json={})
    assert retry_after(refused)
    assert refused.json()["detail"].startswith("Too many bulk reports: at most 1 per minute")

    assert [client.post(JOBS, headers=headers, json={}).status_code != 429 for _ in range(2)] == [
        True,
        True,
    ]
    refused = client.post(JOBS, headers=headers, json={})
    assert retry_after(refused)
    assert refused.json()["detail"].startswith("Too many jobs started: at most 2 per minute")

    # Listing jobs is an ordinary request: three pass, then the fourth request is refused.
    assert [client.get(JOBS, headers=headers).status_code != 429 for _ in range(3)] == [True] * 3
    refused = client.get(ME, headers=headers)
    assert retry_after(refused)
    assert refused.json()["detail"].startswith("Too many requests: at most 3 per minute")


def test_a_limit_of_zero_is_off(
    make_app: MakeApp, open_client: OpenClient, session: Session
) -> None:
    client = open_client(make_app(rate_limit_requests_per_minute=0, rate_limit_bulk_per_minute=0))
    headers = f.auth(session, f.user(session, Role.admin))
    assert {client.get(ME, headers=headers).status_code for _ in range(30)} == {200}
    assert 429 not in {client.post(BULK, headers=headers, json={}).status_code for _ in range(15)}


def test_operational_routes_are_never_limited(make_app: MakeApp, open_client: OpenClient) -> None:
    client = open_client(make_app(rate_limit_requests_per_minute=1))
    for path in ["/healthz"] * 5 + ["/metrics", "/docs", "/redoc", "/openapi.json"]:
        assert client.get(path).status_code == 200, path
    assert client.get(ME).status_code == 401
    assert retry_after(client.get(ME))
    assert client.get("/healthz").status_code == 200


# Redis


@pytest.fixture
def redis_namespaces(redis_url: str) -> Iterator[Callable[[str], str]]:
    """The Redis key prefix of an installation's counters; its keys are removed after."""
    used: list[str] = []
    client = redis.Redis.from_url(redis_url)

    def clear(prefix: str) -> None:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)

    def namespace(database_url: str) -> str:
        prefix = "mb-" + hashlib.sha256(database_url.encode()).hexdigest()[:12] + ":ratelimit:"
        clear(prefix)
        used.append(prefix)
        return prefix

    yield namespace
    for prefix in used:
        clear(prefix)
    client.close()


def test_redis_counters_are_shared_by_the_servers_of_one_installation(
    make_app: MakeApp,
    open_client: OpenClient,
    session: Session,
    settings: Settings,
    redis_url: str,
    redis_namespaces: Callable[[str], str],
    tmp_path: Any,
) -> None:
    prefix = redis_namespaces(settings.database_url)
    changes = {"redis_url": redis_url, "rate_limit_requests_per_minute": 2}
    one, two = open_client(make_app(**changes)), open_client(make_app(**changes))
    headers = f.auth(session, f.user(session, Role.teacher))
    assert one.get(ME, headers=headers).status_code == 200
    assert two.get(ME, headers=headers).status_code == 200
    refused = one.get(ME, headers=headers)
    assert retry_after(refused) and "at most 2 per minute for each user" in refused.json()["detail"]
    assert retry_after(two.get(ME, headers=headers))

    stored = redis.Redis.from_url(redis_url)
    keys = [key.decode() for key in stored.scan_iter(match=prefix + "*")]
    stored.close()
    assert keys and all("/requests/user:" in key for key in keys)

    # Another installation (another database) sharing the Redis counts on its own.
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    redis_namespaces(other_url)
    other = open_client(make_app(**changes, database_url=other_url))
    assert one.get(ME).status_code == 401
    assert one.get(ME).status_code == 401
    assert retry_after(one.get(ME))
    assert other.get(ME).status_code == 401


def test_unreachable_redis_lets_requests_pass_with_one_warning(
    make_app: MakeApp, open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = open_client(
        make_app(redis_url=CLOSED_REDIS, redis_socket_timeout=0.2, rate_limit_requests_per_minute=1)
    )
    with caplog.at_level(logging.WARNING, logger="markbook.ratelimit"):
        assert {client.get(ME).status_code for _ in range(5)} == {401}
    [warning] = [r for r in caplog.records if r.name == "markbook.ratelimit"]
    assert "Redis rate-limit counters unavailable" in warning.getMessage()


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    server.close()
    for connection in accepted:
        connection.close()


def test_slow_redis_costs_one_timeout_per_outage_not_one_per_request(
    make_app: MakeApp, open_client: OpenClient, silent_redis: str
) -> None:
    client = open_client(
        make_app(redis_url=silent_redis, redis_socket_timeout=0.3, rate_limit_requests_per_minute=1)
    )
    started = time.perf_counter()
    assert {client.get(ME).status_code for _ in range(10)} == {401}
    assert time.perf_counter() - started < 1.5


def test_redis_recovery_is_logged(
    redis_url: str, redis_namespaces: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    prefix = redis_namespaces("recovery-test")
    counters = RedisCounters(redis_url, 1.0, prefix.removesuffix(":"), outage_backoff=0)
    item = RateLimitItemPerMinute(1)
    real_hit = counters._limiter.hit

    async def failing_hit(*args: object, **kwargs: object) -> bool:
        raise redis.ConnectionError("gone")

    async def scenario() -> list[float | None]:
        counters._limiter.hit = failing_hit  # type: ignore[method-assign]
        during = await counters.wait_seconds(item, "requests", "user:1")
        counters._limiter.hit = real_hit  # type: ignore[method-assign]
        after = [await counters.wait_seconds(item, "requests", "user:1") for _ in range(2)]
        await counters.close()
        return [during, *after]

    with caplog.at_level(logging.INFO, logger="markbook.ratelimit"):
        during, first, second = asyncio.run(scenario())
    assert during is None and first is None
    assert second is not None and 0 < second <= 60
    messages = [r.getMessage() for r in caplog.records if r.name == "markbook.ratelimit"]
    assert len(messages) == 2
    assert "unavailable" in messages[0] and "reachable again" in messages[1]
