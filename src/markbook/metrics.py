"""Prometheus metrics, served as text at /metrics."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# One registry per process, not the library's global default: tests build many
# apps in one process, and the default registry refuses a second metric of a name.
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "markbook_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "markbook_http_request_duration_seconds",
    "Time to answer HTTP requests (to the first byte of a streamed body).",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
AUDIT_EVENTS = Counter(
    "markbook_audit_events_total",
    "Audit events written, by action and channel.",
    ["action", "channel"],
    registry=REGISTRY,
)

REPORT_CACHE = Counter(
    "markbook_report_cache_total",
    "Performance reports served from the cache (hit) or computed (miss), by format.",
    ["result", "format"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
