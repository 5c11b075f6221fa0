"""Rate limits on every HTTP route: per user (per address when signed out), counted in
Redis when configured, else in process memory.

Each request falls in one class with its own limit per minute (a setting; 0 turns
it off): the synchronous bulk report, starting a job, and every other request.
Over its limit a request is answered 429 with Retry-After, before any route runs.

Counting is never the truth of anything, so it fails open like the cache: when
Redis is down or slow requests pass, one warning is logged per outage and one line
when Redis answers again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol

import redis.asyncio
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindow
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from markbook.auth.models import ApiToken, User, token_usable
from markbook.auth.sessions import SESSION_COOKIE, SessionSigner
from markbook.auth.tokens import looks_like_token, token_digest
from markbook.db import utcnow
from markbook.errors import problem
from markbook.settings import Settings

log = logging.getLogger(__name__)

RequestClass = Literal["bulk", "jobs", "requests"]

BULK_REPORT = ("POST", "/api/v1/reports/bulk/student-performance")
JOB_CREATION = ("POST", "/api/v1/jobs")
# Operational routes stay out of reach of the limits: a load balancer or Prometheus
# polling them from one address must never be refused, and neither must someone
# reading the docs to find out why they were.
EXEMPT_PATHS = frozenset(
    {"/healthz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# When Redis failed, the next this many seconds pass without asking it, so a Redis
# that hangs costs one request in a while its socket timeout, not every request.
REDIS_OUTAGE_BACKOFF_SECONDS = 5.0


def request_class(method: str, path: str) -> RequestClass | None:
    """The limit a request counts against, or None for the exempt operational routes."""
    if path in EXEMPT_PATHS:
        return None
    if (method, path) == BULK_REPORT:
        return "bulk"
    if (method, path) == JOB_CREATION:
        return "jobs"
    return "requests"


class _Window(NamedTuple):
    """A sliding-window counter's state: the counts of the previous and current
    window and how long each still weighs (seconds)."""

    previous_count: int
    previous_ttl: float
    current_count: int
    current_ttl: float


def seconds_until_allowed(limit: int, window: float, state: _Window) -> float:
    """How long until the counter takes one more request.

    The counter weighs the previous window by the share of it still inside the
    last ``window`` seconds: floor(previous × previous_ttl / window) + current.
    Both storages keep the current window's key for two windows, so it ends in
    ``current_ttl - window`` seconds; the previous one stops weighing in
    ``previous_ttl`` seconds.
    """
    previous, previous_ttl, current, current_ttl = state
    if current < limit:
        if previous == 0:
            return 0.0
        # Room comes back once the previous window's weighted share drops below it.
        return max(0.0, previous_ttl - (limit - current) * window / previous)
    # Full this window: wait for it to end and then for its weight to drop by one.
    return max(0.0, current_ttl - window) + window * (1 - limit / current)


class Counters(Protocol):
    backend: str

    async def wait_seconds(self, item: RateLimitItem, *identifiers: str) -> float | None:
        """Count one request: None when it may pass, else seconds until one may."""

    async def close(self) -> None: ...


# The sliding-window counter, of the strategies `limits` offers: a fixed window lets
# a client send twice its limit across a window's edge; a moving window keeps one
# timestamp per request (600 per user, in memory or a Redis list) and costs more per
# hit as the limit grows. The sliding-window counter keeps two numbers per user and
# class, takes one Lua call in Redis, and smooths the edge, at the price of assuming
# the previous window's requests were spread evenly.


class MemoryCounters:
    """Counters in this process: calls take microseconds, so they run on the event loop."""

    backend = "memory"

    def __init__(self) -> None:
        self._storage = MemoryStorage()
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)

    async def wait_seconds(self, item: RateLimitItem, *identifiers: str) -> float | None:
        if self._limiter.hit(item, *identifiers):
            return None
        expiry = item.get_expiry()
        state = _Window(*self._storage.get_sliding_window(item.key_for(*identifiers), expiry))
        return seconds_until_allowed(item.amount, expiry, state)

    async def close(self) -> None:
        # Nothing to release: the storage's expiry timer is a short-lived thread.
        return None


class RedisCounters:
    """Counters in Redis, shared by every server process of one installation.

    The asyncio client keeps the event loop free while Redis answers (a thread per
    call would cost as much as the call); a refused or slow connection lets the
    request pass (see REDIS_OUTAGE_BACKOFF_SECONDS).
    """

    backend = "redis"

    def __init__(
        self,
        url: str,
        socket_timeout: float,
        namespace: str,
        outage_backoff: float = REDIS_OUTAGE_BACKOFF_SECONDS,
    ) -> None:
        # No retries: a count that cannot be had at once is skipped, not waited for.
        self._pool: redis.asyncio.ConnectionPool[Any] = redis.asyncio.ConnectionPool.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
        )
        # The pool carries the address; `limits` only reads the scheme from its uri.
        options: dict[str, Any] = {"connection_pool": self._pool}
        self._storage = RedisStorage(
            "async+redis://", implementation="redispy", key_prefix=namespace, **options
        )
        self._limiter = AsyncSlidingWindow(self._storage)
        self._outage_backoff = outage_backoff
        self._down = False
        self._skip_until = 0.0

    async def wait_seconds(self, item: RateLimitItem, *identifiers: str) -> float | None:
        if self._down and time.monotonic() < self._skip_until:
            return None
        try:
            if await self._limiter.hit(item, *identifiers):
                wait = None
            else:
                expiry = item.get_expiry()
                window = await self._storage.get_sliding_window(item.key_for(*identifiers), expiry)
                wait = seconds_until_allowed(item.amount, expiry, _Window(*window))
        except Exception as error:  # RedisError, a closed loop...: every failure passes
            self._failed(error)
            return None
        if self._down:
            self._down = False
            log.info("Redis rate-limit counters reachable again")
        return wait

    def _failed(self, error: Exception) -> None:
        self._skip_until = time.monotonic() + self._outage_backoff
        if not self._down:
            self._down = True
            log.warning(
                "Redis rate-limit counters unavailable (%s: %s); requests pass unlimited",
                type(error).__name__,
                error,
            )

    async def close(self) -> None:
        await self._pool.disconnect()


class RateLimiter:
    """The three limits of one installation, over its counters."""

    def __init__(self, settings: Settings, counters: Counters) -> None:
        self.counters = counters
        self.limits: dict[RequestClass, RateLimitItem | None] = {
            "bulk": _per_minute(settings.rate_limit_bulk_per_minute),
            "jobs": _per_minute(settings.rate_limit_jobs_per_minute),
            "requests": _per_minute(settings.rate_limit_requests_per_minute),
        }

    async def retry_after(self, item: RateLimitItem, kind: RequestClass, who: str) -> int | None:
        """Count one request of ``who``: None when it may pass, else whole seconds to wait."""
        wait = await self.counters.wait_seconds(item, kind, who)
        if wait is None:
            return None
        # Strictly after the moment room comes back, at least 1 s, at most one window.
        return min(item.get_expiry(), int(wait) + 1)

    async def close(self) -> None:
        await self.counters.close()


def _per_minute(amount: int) -> RateLimitItem | None:
    return RateLimitItemPerMinute(amount) if amount > 0 else None


def make_rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        # Several installations may share one Redis: each counts under its own
        # namespace (as the cache does), or one school's users would use up another's.
        database = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
        counters: Counters = RedisCounters(
            settings.redis_url, settings.redis_socket_timeout, f"mb-{database}:ratelimit"
        )
    else:
        counters = MemoryCounters()
    return RateLimiter(settings, counters)


class Identities:
    """Who is asking, as a counter key: ``user:<id>`` for a usable bearer token or
    session cookie, else ``ip:<address>``.

    Credentials are looked up once a minute at most (a read, never a write: the
    route itself signs the request in and notes the token's use); in between, the
    answer costs a dictionary lookup.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        signer: SessionSigner,
        ttl_seconds: float = 60.0,
        max_entries: int = 10_000,
    ) -> None:
        self._factory = factory
        self._signer = signer
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        # Digest of a credential -> (good until, user id or None). Touched only on
        # the event loop, so no lock.
        self._known: dict[str, tuple[float, int | None]] = {}
        self._failing = False

    async def key(self, scope: Scope) -> str:
        user_id = await self._user_id(scope)
        if user_id is not None:
            return f"user:{user_id}"
        # Behind a proxy, the server (uvicorn --proxy-headers) puts the real client here.
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}"

    async def _user_id(self, scope: Scope) -> int | None:
        authorization = cookie = None
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                authorization = value
            elif name == b"cookie":
                cookie = value
        if authorization is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and looks_like_token(token):
                digest = token_digest(token)
                return await self._remember("t:" + digest, lambda: self._token_user(digest))
        if cookie is not None:
            value = cookie_parser(cookie.decode("latin-1")).get(SESSION_COOKIE)
            if value:
                digest = hashlib.sha256(value.encode()).hexdigest()
                return await self._remember("s:" + digest, lambda: self._cookie_user(value))
        return None

    async def _remember(self, key: str, look_up: Callable[[], int | None]) -> int | None:
        now = time.monotonic()
        known = self._known.get(key)
        if known is not None and known[0] > now:
            return known[1]
        try:
            user_id = await run_in_threadpool(look_up)
        except Exception as error:  # the database is down, say: count by address meanwhile
            if not self._failing:
                self._failing = True
                log.warning(
                    "rate limits cannot look up who is asking (%s); counting by address", error
                )
            return None
        if self._failing:
            self._failing = False
            log.info("rate limits can look up who is asking again")
        self._known.pop(key, None)
        self._known[key] = (now + self._ttl, user_id)
        while len(self._known) > self._max_entries:
            del self._known[next(iter(self._known))]
        return user_id

    def _token_user(self, digest: str) -> int | None:
        with self._factory() as session:
            row = session.execute(
                select(ApiToken.user_id, ApiToken.revoked_at, ApiToken.expires_at, User.active)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == digest)
            ).first()
        if row is None:
            return None
        user_id, revoked_at, expires_at, active = row
        return int(user_id) if active and token_usable(revoked_at, expires_at, utcnow()) else None

    def _cookie_user(self, value: str) -> int | None:
        with self._factory() as session:
            user = self._signer.user_for_cookie(session, value)
            return user.id if user is not None else None


class RateLimitMiddleware:
    """Answers 429 to a request over its limit, before any route runs.

    Plain ASGI rather than BaseHTTPMiddleware, so streamed responses pass through
    untouched; added inside RequestContextMiddleware, so a 429 carries its request
    id and is counted in the metrics.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, identities: Identities) -> None:
        self.app = app
        self.limiter = limiter
        self.identities = identities

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = request_class(scope["method"], scope["path"])
        item = self.limiter.limits[kind] if kind is not None else None
        if kind is None or item is None:
            await self.app(scope, receive, send)
            return
        who = await self.identities.key(scope)
        retry_after = await self.limiter.retry_after(item, kind, who)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = problem(
            429,
            _refusal(kind, item.amount, who, retry_after),
            code="too-many-requests",
            headers={
                "Retry-After": str(retry_after),
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            },
            request_id=scope.get("state", {}).get("request_id"),
        )
        await response(scope, receive, send)


_WHAT = {
    "bulk": "Too many bulk reports: at most {n} per minute",
    "jobs": "Too many jobs started: at most {n} per minute",
    "requests": "Too many requests: at most {n} per minute",
}


def _refusal(kind: RequestClass, amount: int, who: str, retry_after: int) -> str:
    whom = "for each user" if who.startswith("user:") else "from each address without sign-in"
    seconds = "1 second" if retry_after == 1 else f"{retry_after} seconds"
    return f"{_WHAT[kind].format(n=amount)} {whom}. Try again in {seconds}."
