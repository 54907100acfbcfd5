"""The channel layer in services mode: channels_redis's pub/sub layer, plus one method.

Why pub/sub (docs/decisions/pubsub-channel-layer.md): channels_redis's default
`RedisChannelLayer` keeps every socket of a web process in ONE Redis sorted set, read by
one receive loop per process at four round trips per message, with a capacity of 100
messages: at ~1,000 notifications/s over 10,000 sockets the set filled and `group_send`
dropped the overflow silently (a rep never heard of an open). With pub/sub a group send
is one PUBLISH, each process holds one subscribed connection that Redis pushes the
messages down, and nothing is capped or expired on the way.

`group_send_many` sends many group messages in one round trip (a pipeline of PUBLISH per
Redis host): the ingestor's notifier sends a round of a thousand users' messages that
way instead of awaiting a thousand round trips one after the other, each of which had
to win the GIL back from the ingesting thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer

# PUBLISH commands per pipeline (one write and one read of the replies each).
PIPELINE = 1000


class PubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_many(
        self, messages: Iterable[tuple[str, dict[str, Any]]]
    ) -> None:
        """`group_send(group, message)` for each pair, in order, pipelined per host.

        Relies on channels_redis 4.3's pub/sub internals (pinned in requirements.txt):
        the group's pub/sub channel name, its shard, and the shard's lock and client.
        """
        layer = self._get_layer()
        shards: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
        for group, message in messages:
            channel = layer._get_group_channel_name(group)
            shard = layer._get_shard(channel)
            shards.setdefault(id(shard), (shard, []))[1].append(
                (channel, self.serialize(message))
            )
        for shard, items in shards.values():
            for start in range(0, len(items), PIPELINE):
                async with shard._lock:
                    shard._ensure_redis()
                    pipe = shard._redis.pipeline(transaction=False)
                    for channel, data in items[start : start + PIPELINE]:
                        pipe.publish(channel, data)
                    await pipe.execute()
