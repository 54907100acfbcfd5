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
