"""One Redis connection pool per process for Django's cache, whatever asks for it.

Django keeps a cache backend per async context (asgiref's Local), and its RedisCache
opens a connection pool per backend and never closes it. Under ASGI every request and
every websocket is a context of its own: each socket that read its session from the
cache (SESSION_ENGINE cached_db) kept its own Redis connection for its lifetime, and
10,000 notification sockets reached Redis's default `maxclients` (10,000) — after which
the tracking fast path, the ingestor and Celery were refused too. With this pool class
(CACHES OPTIONS `pool_class`) every backend of a process shares one pool per URL and
options; redis-py's pool is thread-safe and starts afresh in a forked child.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class SharedConnectionPool(redis.ConnectionPool):
    _shared_pools: ClassVar[dict[tuple[str, str], SharedConnectionPool]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SharedConnectionPool:
        key = (url, repr(sorted(kwargs.items())))
        with cls._shared_lock:
            pool = cls._shared_pools.get(key)
            if pool is None:
                pool = cls._shared_pools[key] = super().from_url(url, **kwargs)
            return pool


class SharedClient(RedisCacheClient):
    """Django's Redis cache client, with one redis-py client per pool for the whole
    process: Django builds a new `redis.Redis` (and its table of ~170 reply callbacks)
    for every cache call, which cost a cached page about a tenth of its time, and
    under ASGI every request has a backend (and a client) of its own. redis-py's
    client is thread-safe; it takes a connection from the pool per command."""

    _shared_clients: ClassVar[dict[int, redis.Redis]] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        # Django's own pool lookup; only the client on top of it is kept.
        pool: redis.ConnectionPool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._shared_clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            client = self._client(connection_pool=pool)  # type: ignore[attr-defined]
            self._shared_clients[id(pool)] = client
        return client


class RedisCache(DjangoRedisCache):
    """The cache backend (CACHES BACKEND) with SharedClient."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClient
