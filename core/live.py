"""Live updates for the inbox: a per-tenant version number in Redis
(docs/ARCHITECTURE.md#live-updates).

Every write that changes what the inbox shows bumps the version once its transaction
commits; open pages poll it every second or so and re-fetch only when it moved. A poll
costs one Redis GET and a bump one INCR, and no connection is held per open tab, so sync
WSGI workers serve it. The key carries the schema name: one tenant's activity never moves
another tenant's version.
"""

from __future__ import annotations

import functools
import logging

import redis
from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)


@functools.cache
def _redis() -> redis.Redis:
    # Short timeouts: a slow Redis must not hold up the write that bumps, nor a poll.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def inbox_version_key(schema: str) -> str:
    return f"inbox:version:{schema}"


def inbox_changed() -> None:
    """Bump the current tenant's inbox version after the current transaction commits (at
    once outside one). A change rolled back bumps nothing."""
    schema = connection.schema_name  # captured now: the schema may differ at commit time
    transaction.on_commit(lambda: _bump(schema))


def _bump(schema: str) -> None:
    try:
        _redis().incr(inbox_version_key(schema))
    except redis.RedisError:
        # The write itself is committed; open pages catch up at the next change.
        logger.warning("inbox version of %s not bumped: Redis unavailable", schema,
                       exc_info=True)


def inbox_version(*, schema: str) -> int:
    """The tenant's current version (0 before any change, or while Redis is away)."""
    try:
        value = _redis().get(inbox_version_key(schema))
    except redis.RedisError:
        logger.warning("inbox version of %s unreadable: Redis unavailable", schema)
        return 0
    return int(value or 0)
