"""A small key/value cache: Redis when configured, else process memory.

The cache is never the truth, so it fails open: when Redis is down or slow, reads
miss and writes are dropped, one warning is logged per outage, and whoever asked
computes the answer itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from typing import Protocol

import redis

from markbook.settings import Settings

log = logging.getLogger(__name__)


class Cache(Protocol):
    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    def delete(self, *keys: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def ping(self) -> None:
        """Raise if the cache cannot be reached."""

    def close(self) -> None: ...


class MemoryCache:
    """A thread-safe TTL cache with a bound on entries (least recently used go first)."""

    backend = "memory"

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        with self._lock:
            doomed = [key for key in self._entries if key.startswith(prefix)]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None


class RedisCache:
    """Redis behind short timeouts; every failure is a miss, logged once per outage."""

    backend = "redis"

    def __init__(self, url: str, socket_timeout: float, namespace: str = "") -> None:
        # Several Markbook installations may share one Redis: each keeps to its own
        # namespace, or student 1 of one school would be served another's report.
        self._namespace = namespace
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            health_check_interval=30,
        )
        self._down = False
        self._lock = threading.Lock()

    def _failed(self, operation: str, error: Exception) -> None:
        with self._lock:
            first = not self._down
            self._down = True
        if first:
            log.warning("Redis cache unavailable (%s: %s); serving without it", operation, error)

    def _recovered(self) -> None:
        if self._down:
            with self._lock:
                self._down = False
            log.info("Redis cache reachable again")

    def get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(self._namespace + key)
        except redis.RedisError as error:
            self._failed("get", error)
            return None
        self._recovered()
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        try:
            self._client.set(self._namespace + key, value, ex=ttl_seconds)
        except redis.RedisError as error:
            self._failed("set", error)
            return
        self._recovered()

    def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            self._client.delete(*(self._namespace + key for key in keys))
        except redis.RedisError as error:
            self._failed("delete", error)

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        try:
            batch: list[bytes] = []
            for key in self._client.scan_iter(
                match=_glob_escape(self._namespace + prefix) + "*", count=1000
            ):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(self._client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(self._client.delete(*batch))
        except redis.RedisError as error:
            self._failed("delete_prefix", error)
        return deleted

    def ping(self) -> None:
        self._client.ping()

    def close(self) -> None:
        self._client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def make_cache(settings: Settings) -> Cache:
    if settings.redis_url:
        database = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
        return RedisCache(settings.redis_url, settings.redis_socket_timeout, f"mb-{database}:")
    return MemoryCache()
