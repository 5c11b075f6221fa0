"""The HTTP application: ``create_app()`` wires settings, database, cache and routes."""

from __future__ import annotations

import gc
import logging
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from markbook import __version__, metrics, migrate, web
from markbook.auth.routes import router as auth_router
from markbook.auth.sessions import SessionSigner
from markbook.cache import make_cache
from markbook.db import make_engine, make_sessionmaker
from markbook.errors import install_error_handlers, problem
from markbook.exports.routes import router as exports_router
from markbook.jobs.executors import Sweeper, make_executor
from markbook.jobs.links import LinkSigner
from markbook.jobs.routes import router as jobs_router
from markbook.jobs.runner import Runtime
from markbook.ratelimit import Identities, RateLimitMiddleware, make_rate_limiter
from markbook.records.routes import router as records_router
from markbook.reports.routes import router as reports_router
from markbook.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Request bodies bigger than this are refused before they are read: the largest
# legitimate body is a write batch of max_batch_rows rows.
MAX_BODY_BYTES = 16 * 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.is_sqlite:
        # The embedded default needs no set-up: bring the file's schema up to date.
        migrate.upgrade(settings)
    elif not migrate.is_up_to_date(settings, app.state.engine):
        log.error("the database schema is not up to date; run `markbook db upgrade`")
    # Export files land here (shared with workers); make it now, not at the first export.
    settings.export_dir.mkdir(parents=True, exist_ok=True)
    _settle_garbage_collector()
    jobs = app.state.jobs
    if hasattr(jobs, "resume"):
        # In-process jobs queued before a restart would have no one else to run them.
        jobs.resume()
    sweeper = Sweeper(app.state.job_runtime, jobs).start()
    yield
    sweeper.close()
    jobs.close()
    await app.state.rate_limiter.close()
    app.state.cache.close()
    app.state.engine.dispose()


def _settle_garbage_collector() -> None:
    """Keep the collector off what lives as long as the server.

    Everything loaded at start (modules, the schema, the renderers' fonts and
    styles) is frozen out of collection, so a full collection no longer walks
    hundreds of thousands of objects that never die; and the youngest generation
    is collected less often, since one report allocates tens of thousands of
    short-lived objects. Both cut time from the middle of requests, not memory.
    """
    # Load the document renderers now rather than inside the first request.

    import markbook.reports.pdf
    import markbook.reports.tables  # noqa: F401

    # No gc.collect() first: it costs a tenth of a second per start, and what little
    # garbage start-up leaves is frozen once.
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Markbook",
        version=__version__,
        summary="Student performance reports, report cards and data exports for schools.",
        description=f"The Markbook API of {settings.school_name}.",
        lifespan=_lifespan,
    )
    engine = make_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.cache = make_cache(settings)
    app.state.session_signer = SessionSigner(
        settings.resolved_secret_key(), settings.session_max_age_hours * 3600
    )
    app.state.link_signer = LinkSigner(settings.resolved_secret_key())
    app.state.job_runtime = _job_runtime(settings, engine, app.state.sessionmaker)
    app.state.jobs = make_executor(app.state.job_runtime)

    app.state.rate_limiter = make_rate_limiter(settings)

    install_error_handlers(app)
    # Added first, so it runs inside RequestContextMiddleware: a 429 gets a request
    # id and is counted in the metrics.
    app.add_middleware(
        RateLimitMiddleware,
        limiter=app.state.rate_limiter,
        identities=Identities(app.state.sessionmaker, app.state.session_signer),
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(auth_router)
    app.include_router(records_router)
    app.include_router(reports_router)
    app.include_router(jobs_router)
    app.include_router(exports_router)
    web.install(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"])
    app.add_api_route(
        "/metrics", metrics_text, methods=["GET"], tags=["operations"], include_in_schema=True
    )
    return app


def _job_runtime(settings: Settings, engine: Any, sessions: Any) -> Runtime:
    if settings.broker_url:
        from markbook.jobs.tasks import celery_ask_for_help

        return Runtime(settings, engine, sessions, celery_ask_for_help(settings))
    return Runtime(settings, engine, sessions)


def healthz(request: Request) -> JSONResponse:
    """Whether the database, cache, job broker and export directory work (503 if one does not)."""
    state = request.app.state
    settings: Settings = state.settings
    checks = {
        "database": _check(
            lambda: _ping_database(state.engine), "sqlite" if settings.is_sqlite else "postgresql"
        ),
        "cache": _check(state.cache.ping, state.cache.backend),
        "broker": _check_broker(settings),
        "storage": _check(lambda: _probe_writable(settings.export_dir), "local"),
    }
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "version": __version__, "checks": checks},
        status_code=200 if healthy else 503,
    )


def _probe_writable(directory: Path) -> None:
    """Raise unless a file can be created (and removed) in ``directory``."""
    # Created, then deleted on close.
    tempfile.NamedTemporaryFile(dir=directory, prefix=".healthz-").close()


def _ping_database(engine: Any) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check(probe: Any, backend: str) -> dict[str, str]:
    try:
        probe()
    except Exception as error:  # every failure is reported, none is raised
        return {"status": "error", "backend": backend, "error": _short(error)}
    return {"status": "ok", "backend": backend}


def _check_broker(settings: Settings) -> dict[str, str]:
    if not settings.broker_url:
        return {"status": "ok", "backend": "in-process"}
    from kombu import Connection

    backend = settings.broker_url.split(":", 1)[0]

    def probe() -> None:
        with Connection(settings.broker_url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)

    return _check(probe, backend)


def _short(error: Exception) -> str:
    text_ = f"{type(error).__name__}: {error}".splitlines()[0]
    return text_[:300]


def metrics_text() -> Response:
    """Prometheus metrics of this process."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


class RequestContextMiddleware:
    """Gives each request an id (X-Request-ID), counts and times it, caps its body.

    Plain ASGI rather than BaseHTTPMiddleware, so streamed responses pass
    through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # fullmatch, not match: `$` would let a trailing newline through into our answer.
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
                self._observe(scope, message["status"], started)
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            response = problem(
                413,
                f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB. "
                "Send the records in smaller batches.",
                code="payload-too-large",
                request_id=request_id,
            )
            await response(scope, receive, send_with_id)
            return

        try:
            await self.app(scope, _capped(receive), send_with_id)
        except Exception:
            # The 500 answer is sent by the server-error handler outside this
            # middleware; count it here, or failures would be missing from /metrics.
            if not response_started:
                self._observe(scope, 500, started)
            raise

    @staticmethod
    def _observe(scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "GET")
        metrics.HTTP_REQUESTS.labels(method, template, str(status)).inc()
        metrics.HTTP_DURATION.labels(method, template).observe(time.perf_counter() - started)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(
            413,
            f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB. "
            "Send the records in smaller batches.",
        )


def _capped(receive: Receive) -> Receive:
    """A receive that stops a chunked body once it passes MAX_BODY_BYTES."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise BodyTooLarge
        return message

    return wrapped
