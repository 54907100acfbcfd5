"""Django's cache reads Redis through one pool per process (config/redis_pool.py).

Each ASGI request or websocket is an async context with a cache backend of its own;
with a pool per backend, every open socket held a Redis connection of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from django.core.cache import caches


def _a_request_of_its_own() -> tuple[Any, Any]:
    """As the ASGI server runs a request: a task in a context nothing was set in."""

    async def handle() -> tuple[Any, Any]:
        backend: Any = caches["default"]  # RedisCache
        await backend.aset("redis-pool-probe", 1, 5)
        return backend, backend._cache._get_connection_pool(write=True)

    return contextvars.Context().run(asyncio.run, handle())


def test_every_async_context_shares_the_process_pool(redis_url: str) -> None:
    found = [_a_request_of_its_own() for _ in range(20)]
    backends = {id(backend) for backend, _ in found}
    pools = {id(pool) for _, pool in found}
    assert len(backends) == 20  # a backend per context, as Django does
    assert len(pools) == 1


def test_every_cache_call_of_the_process_uses_one_redis_client(redis_url: str) -> None:
    """Django builds a redis-py client per cache call; ours keeps one per pool."""

    async def handle(value: int) -> Any:
        backend: Any = caches["default"]
        await backend.aset("redis-client-probe", value, 5)
        assert await backend.aget("redis-client-probe") == value
        return backend._cache.get_client(write=True)

    clients = {id(contextvars.Context().run(asyncio.run, handle(n))) for n in range(5)}
    assert len(clients) == 1
