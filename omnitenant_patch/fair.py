"""Fair share between tenants: ``OMNITENANT_CONFIG["CELERY"]["FAIR_SHARDS"] = N``.

A task with a tenant is published to one of N shard queues of the queue it is routed to
(``<queue>.shard-<k>``, ``k`` a stable hash of the tenant id); a task with no tenant stays on the
queue itself. A worker consuming a queue also consumes its shards (``CONSUME_SHARDS``, by
default ``FAIR_SHARDS``), added when it starts: ``celery worker -Q default`` needs no change.
kombu's Redis transport takes one message from each non-empty queue in turn (its
``round_robin`` order, the default), and RabbitMQ delivers from each queue's consumer within
Celery's prefetch, so one tenant's flood waits in its own shard while the other shards are
served.

A publish that names its ``exchange`` or ``routing_key`` (topic routing, a retry re-sent where
it came from) is left where it is sent.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, Iterable, List

SHARD = "{queue}.shard-{index}"
_SHARD = re.compile(r"\.shard-\d+$")


def shard_index(tenant_id: str, shards: int) -> int:
    """The shard of ``tenant_id`` among ``shards``: the same in every process, every release."""
    digest = hashlib.blake2b(tenant_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_name(queue: str, index: int) -> str:
    return SHARD.format(queue=queue, index=index)


def is_shard(queue: str) -> bool:
    return _SHARD.search(queue) is not None


def shards_of(queue: str, shards: int) -> List[str]:
    """Every shard queue of ``queue``."""
    return [shard_name(queue, index) for index in range(shards)]


def to_shard(queue: str, tenant_id: str, shards: int) -> str:
    """The queue a publish for ``tenant_id`` routed to ``queue`` goes to."""
    return queue if is_shard(queue) else shard_name(queue, shard_index(tenant_id, shards))


def route_to_shard(options: Dict[str, Any], queue: str, tenant_id: str, shards: int) -> None:
    """Send a publish for ``tenant_id`` (routed to ``queue``) to its shard, unless it names its
    own exchange or routing key."""
    if options.get("exchange") or options.get("routing_key"):
        return
    options["queue"] = to_shard(queue, tenant_id, shards)


def consumed_with_shards(consumed: Iterable[str], shards: int) -> List[str]:
    """The shard queues a worker consuming ``consumed`` must consume too."""
    return [shard for queue in consumed if not is_shard(queue)
            for shard in shards_of(queue, shards)]
