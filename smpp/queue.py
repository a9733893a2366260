"""The hand-over from Celery to the connector: a reliable queue per connection in Redis.

A Celery task cannot hold a TCP bind, so the ``smpp`` backend only queues a job here; the
connector process, which holds the bind, takes jobs and submits them. Three keys per
connection:

- ``smpp:<name>:jobs``, a hash: job key (``<schema>:<message id>``) -> the job as JSON. A
  job is added only if its key is absent (``HSETNX``), so handing the same message over
  twice (a retried task, the sweep) queues it once;
- ``smpp:<name>:queue``, a list of job keys waiting;
- ``smpp:<name>:processing``, the keys the connector has taken (``BLMOVE`` moves a key
  there atomically) and not yet finished.

A key leaves ``processing`` and ``jobs`` only after the database says how its parts ended
(submit ids stored, or the message failed). A connector that dies leaves its keys in
``processing``; the next one moves them back to the queue at start, and the part rows in
the database keep it from submitting anything twice (``smpp.services.parts_claim``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass

import redis
import redis.asyncio as aioredis
from django.conf import settings

_ENQUEUE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Job:
    schema: str
    message_id: int
    from_address: str
    to: str
    body: str
    sender_kind: str

    @property
    def key(self) -> str:
        return f"{self.schema}:{self.message_id}"


def keys(connection: str) -> tuple[str, str, str]:
    """(jobs hash, waiting list, processing list) of a connection."""
    prefix = f"smpp:{connection}:"
    return prefix + "jobs", prefix + "queue", prefix + "processing"


def queue_lengths(connections: list[str]) -> dict[str, int]:
    """Jobs waiting for each connection's connector."""
    if not connections:
        return {}
    pipe = _client().pipeline(transaction=False)
    for name in connections:
        pipe.llen(keys(name)[1])
    return dict(zip(connections, pipe.execute(), strict=True))


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def _enqueue_script():
    return _client().register_script(_ENQUEUE)


def job_enqueue(*, connection: str, job: Job) -> bool:
    """Queue a job unless it is queued already; True when it was added."""
    jobs, queue, _ = keys(connection)
    return bool(_enqueue_script()(keys=[jobs, queue],
                                  args=[job.key, json.dumps(asdict(job))]))


class JobQueue:
    """The connector's side of one connection's queue (asyncio)."""

    def __init__(self, connection: str, url: str | None = None) -> None:
        self.jobs, self.queue, self.processing = keys(connection)
        self.redis = aioredis.Redis.from_url(url or settings.REDIS_URL)

    async def recover(self) -> int:
        """Put back what a previous connector took and did not finish, oldest first."""
        moved = 0
        while await self.redis.lmove(self.processing, self.queue, "LEFT", "RIGHT"):
            moved += 1
        return moved

    async def take(self, limit: int, timeout: float | None) -> list[Job]:
        """Up to ``limit`` jobs, waiting up to ``timeout`` seconds for the first (None: not
        at all)."""
        if timeout is None:
            first = await self.redis.lmove(self.queue, self.processing, "RIGHT", "LEFT")
        else:
            first = await self.redis.blmove(self.queue, self.processing, timeout, "RIGHT",
                                            "LEFT")
        if first is None:
            return []
        taken = [first]
        if limit > 1:
            async with self.redis.pipeline(transaction=False) as pipe:
                for _ in range(limit - 1):
                    pipe.lmove(self.queue, self.processing, "RIGHT", "LEFT")
                taken += [key for key in await pipe.execute() if key is not None]
        payloads = await self.redis.hmget(self.jobs, taken)
        jobs = []
        orphans = []
        for key, payload in zip(taken, payloads, strict=True):
            if payload is None:  # finished by someone else meanwhile: nothing to do
                orphans.append(key)
            else:
                jobs.append(Job(**json.loads(payload)))
        if orphans:
            await self._drop(orphans)
        return jobs

    async def _drop(self, job_keys: list) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in job_keys:
                pipe.lrem(self.processing, 1, key)
            await pipe.execute()

    async def ack(self, job_keys: list[str]) -> None:
        """Finished: forget the jobs."""
        if not job_keys:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in job_keys:
                pipe.lrem(self.processing, 1, key)
            pipe.hdel(self.jobs, *job_keys)
            await pipe.execute()

    async def close(self) -> None:
        await self.redis.aclose()
