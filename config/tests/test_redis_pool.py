"""Django's cache reads Redis through one pool per process (config/redis_pool.py).

Each ASGI request or websocket is an async context with a cache backend of its own;
with a pool per backend, every open socket held a Redis connection of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from django.core.cache import caches


def test_every_async_context_shares_the_process_pool(redis_url: str) -> None:
    async def in_a_context_of_its_own() -> tuple[Any, Any]:
        backend: Any = caches["default"]  # RedisCache
        await backend.aset("redis-pool-probe", 1, 5)
        return backend, backend._cache._get_connection_pool(write=True)

    async def run() -> list[tuple[Any, Any]]:
        return await asyncio.gather(
            *(asyncio.create_task(in_a_context_of_its_own()) for _ in range(20))
        )

    found = async_to_sync(run)()
    backends = {id(backend) for backend, _ in found}
    pools = {id(pool) for _, pool in found}
    assert len(backends) == 20  # a backend per context, as Django does
    assert len(pools) == 1
