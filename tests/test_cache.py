"""The cache: process memory by default, Redis when configured, and never a failure."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis

from markbook import cache as cache_module
from markbook.cache import MemoryCache, RedisCache, make_cache
from markbook.settings import Settings

CLOSED_REDIS = "redis://127.0.0.1:1/0"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "markbook.cache" and r.levelno == logging.WARNING
    ]


# MemoryCache


def test_memory_cache_returns_what_was_set() -> None:
    cache = MemoryCache()
    cache.set("report:1", b"\x00binary\xff", 60)
    assert cache.get("report:1") == b"\x00binary\xff"
    assert cache.get("report:2") is None
    assert cache.backend == "memory"


def test_memory_cache_forgets_after_the_ttl(clock: Clock) -> None:
    cache = MemoryCache()
    cache.set("report:1", b"v", 5)
    clock.now += 4.999
    assert cache.get("report:1") == b"v"
    clock.now += 0.001
    assert cache.get("report:1") is None


def test_memory_cache_set_again_renews_the_ttl(clock: Clock) -> None:
    cache = MemoryCache()
    cache.set("report:1", b"old", 5)
    clock.now += 4
    cache.set("report:1", b"new", 5)
    clock.now += 4
    assert cache.get("report:1") == b"new"


def test_memory_cache_drops_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    cache.set("a", b"1", 60)
    cache.set("b", b"2", 60)
    assert cache.get("a") == b"1"  # now "b" is the least recently used
    cache.set("c", b"3", 60)
    assert cache.get("b") is None
    assert cache.get("a") == b"1"
    assert cache.get("c") == b"3"


def test_memory_cache_replacing_a_key_evicts_nothing() -> None:
    cache = MemoryCache(max_entries=2)
    cache.set("a", b"1", 60)
    cache.set("b", b"2", 60)
    cache.set("a", b"1b", 60)
    assert cache.get("a") == b"1b"
    assert cache.get("b") == b"2"


def test_memory_cache_deletes_keys() -> None:
    cache = MemoryCache()
    for key in ("a", "b", "c"):
        cache.set(key, b"v", 60)
    cache.delete("a", "b", "never-set")
    assert [cache.get(key) for key in ("a", "b", "c")] == [None, None, b"v"]


def test_memory_cache_deletes_by_prefix_and_counts() -> None:
    cache = MemoryCache()
    for key in ("student:1:report", "student:1:export", "student:12:report", "course:1"):
        cache.set(key, b"v", 60)
    assert cache.delete_prefix("student:1:") == 2
    assert cache.get("student:1:report") is None
    assert cache.get("student:1:export") is None
    assert cache.get("student:12:report") == b"v"
    assert cache.get("course:1") == b"v"
    assert cache.delete_prefix("student:1:") == 0


def test_memory_cache_survives_many_threads() -> None:
    # Switch threads as often as possible, so unguarded iteration or eviction
    # would meet a concurrent change.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    cache = MemoryCache(max_entries=1000)
    start = threading.Barrier(9)
    failures: list[str] = []

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(2000):
                key, value = f"t{n}:{i}", f"{n}:{i}".encode()
                cache.set(key, value, 60)
                got = cache.get(key)
                if got not in (value, None):  # None: evicted by another thread
                    failures.append(f"{key} -> {got!r}")
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            failures.append(repr(error))

    def sweeper() -> None:
        start.wait()
        try:
            for _ in range(200):
                cache.delete_prefix("t1:")
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=sweeper))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert cache.delete_prefix("t") <= 1000


# RedisCache on the real Redis


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[RedisCache]:
    cache = RedisCache(redis_url, 1.0)
    yield cache
    cache.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    value = f"markbook-test:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_redis_cache_returns_what_was_set(
    redis_cache: RedisCache, prefix: str, redis_url: str
) -> None:
    redis_cache.set(prefix + "report", b"\x00binary\xff", 60)
    assert redis_cache.get(prefix + "report") == b"\x00binary\xff"
    assert redis_cache.get(prefix + "missing") is None
    assert redis_cache.backend == "redis"
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.ttl(prefix + "report") <= 60
    client.close()


def test_redis_cache_deletes_keys(redis_cache: RedisCache, prefix: str) -> None:
    for key in ("a", "b", "c"):
        redis_cache.set(prefix + key, b"v", 60)
    redis_cache.delete(prefix + "a", prefix + "b", prefix + "never-set")
    redis_cache.delete()  # nothing to delete is not an error
    assert [redis_cache.get(prefix + key) for key in ("a", "b", "c")] == [None, None, b"v"]


def test_redis_cache_deletes_by_prefix_with_glob_characters(
    redis_cache: RedisCache, prefix: str
) -> None:
    doomed = prefix + r"q?[1]*\:"
    # Unescaped, the pattern `q?[1]*\:*` would match these too.
    survivors = [prefix + "qZ1Z:x", prefix + "qZ1:y"]
    for key in [doomed + "a", doomed + "b", *survivors]:
        redis_cache.set(key, b"v", 60)
    assert redis_cache.delete_prefix(doomed) == 2
    assert redis_cache.get(doomed + "a") is None
    assert redis_cache.get(doomed + "b") is None
    assert [redis_cache.get(key) for key in survivors] == [b"v", b"v"]


def test_redis_cache_deletes_a_prefix_of_many_keys(
    redis_cache: RedisCache, prefix: str, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    with client.pipeline(transaction=False) as pipe:
        for i in range(2500):  # more than one delete batch
            pipe.set(f"{prefix}student:{i}", b"v", ex=60)
        pipe.execute()
    assert redis_cache.delete_prefix(prefix + "student:") == 2500
    assert list(client.scan_iter(match=prefix + "*")) == []
    client.close()


# RedisCache when Redis is down or slow: a miss, one warning, never an exception


def test_redis_down_fails_open_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisCache(CLOSED_REDIS, 0.2)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="markbook.cache"):
        assert cache.get("report:1") is None
        cache.set("report:1", b"v", 60)
        cache.delete("report:1")
        assert cache.delete_prefix("report:") == 0
        assert cache.get("report:1") is None
    assert time.perf_counter() - started < 2
    [warning] = cache_warnings(caplog)
    assert "Redis cache unavailable" in warning.getMessage()
    with pytest.raises(redis.ConnectionError):
        cache.ping()
    cache.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
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


def test_slow_redis_fails_open_within_the_socket_timeout(
    silent_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(settings_with(redis_url=silent_server, redis_socket_timeout=0.2))
    with caplog.at_level(logging.WARNING, logger="markbook.cache"):
        started = time.perf_counter()
        assert cache.get("report:1") is None
        assert time.perf_counter() - started < 1
        started = time.perf_counter()
        cache.set("report:1", b"v", 60)
        assert time.perf_counter() - started < 1
    assert len(cache_warnings(caplog)) == 1
    with pytest.raises(redis.TimeoutError):
        cache.ping()
    cache.close()


# make_cache


def settings_with(**changes: object) -> Settings:
    return Settings.model_validate(
        {"database_url": "sqlite://", "secret_key": "test-secret-" + "x" * 40, **changes}
    )


def test_make_cache_keeps_memory_without_redis_url() -> None:
    cache = make_cache(settings_with(redis_url=None))
    assert isinstance(cache, MemoryCache)
    assert cache.backend == "memory"


def test_make_cache_uses_redis_with_redis_url(redis_url: str, prefix: str) -> None:
    cache = make_cache(settings_with(redis_url=redis_url))
    assert isinstance(cache, RedisCache)
    cache.set(prefix + "k", b"v", 60)
    client = redis.Redis.from_url(redis_url)
    # Keys live under a namespace of this installation's database.
    stored = client.keys("*" + prefix + "k")
    assert len(stored) == 1 and stored[0].startswith(b"mb-")
    assert client.get(stored[0]) == b"v"
    client.close()
    cache.close()


def test_installations_sharing_a_redis_keep_apart(redis_url: str, prefix: str) -> None:
    school_a = make_cache(settings_with(redis_url=redis_url, database_url="sqlite:///a.db"))
    school_b = make_cache(settings_with(redis_url=redis_url, database_url="sqlite:///b.db"))
    school_a.set(prefix + "report", b"a", 60)
    assert school_b.get(prefix + "report") is None
    assert school_b.delete_prefix(prefix) == 0
    assert school_a.get(prefix + "report") == b"a"
    school_a.close()
    school_b.close()
