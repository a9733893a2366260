"""Per-sender throughput limits as a token bucket in Redis, shared by every worker.

Carriers count segments, so a message costs its segment count. A caller *reserves* its
tokens: the bucket may go into debt, and the answer is how long the caller must wait before
sending. Reservations queue callers fairly across processes without a lock, and a message
longer than the bucket's burst still gets its turn. A caller that would wait longer than
``max_wait`` reserves nothing and is told to come back later.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings

_RESERVE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate) - cost
local wait = 0
if tokens < 0 then wait = -tokens / rate end
if wait > max_wait then return tostring(wait) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((burst + cost) / rate) + 60)
return tostring(-wait)
"""


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def _script():
    return _client().register_script(_RESERVE)


def tokens_reserve(*, key: str, rate: float, cost: int, max_wait: float,
                   burst: float | None = None) -> tuple[bool, float]:
    """Reserve ``cost`` tokens of a bucket filling at ``rate`` per second and holding
    ``burst`` at most (``rate``, and at least 1, unless given: "30 an hour" is a rate of
    30/3600 with a burst of 30).

    Returns ``(True, wait)``: the tokens are yours, send after ``wait`` seconds; or
    ``(False, wait)``: nothing reserved, try again in about ``wait`` seconds.
    """
    size = burst if burst is not None else max(rate, 1)
    answer = float(_script()(keys=[f"ratelimit:{key}"], args=[rate, size, cost, max_wait]))
    return (answer <= 0, abs(answer))


# One call for a batch: walk the costs in order and reserve each while its wait stays
# within ``max_wait``. A cost larger than the burst waits only for a full bucket and then
# goes into debt, so a long message on a slow sender is never refused for ever.
_RESERVE_MANY = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local answer = {}
local total = 0
for index = 4, #ARGV do
  local cost = tonumber(ARGV[index])
  local wait = math.max(0, math.min(cost, burst) - tokens) / rate
  if wait > max_wait then
    table.insert(answer, tostring(wait))
    break
  end
  tokens = tokens - cost
  total = total + cost
  table.insert(answer, tostring(-wait))
end
if total > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[1], math.ceil((burst + total) / rate) + 60)
end
return answer
"""


@functools.cache
def _script_many():
    return _client().register_script(_RESERVE_MANY)


def tokens_reserve_many(*, key: str, rate: float, costs: list[int],
                        max_wait: float) -> tuple[list[float], float | None]:
    """Reserve tokens for several sends of a bucket filling at ``rate`` per second, in
    order, with one Redis call.

    Returns ``(waits, retry)``: ``waits[i]`` is how long to wait before send ``i`` for
    the first ``len(waits)`` sends, which are reserved; the others are not, and ``retry``
    is about how long until the first of them would fit (None when all fit).
    """
    answer = [float(value) for value in _script_many()(
        keys=[f"ratelimit:{key}"], args=[rate, max(rate, 1), max_wait, *costs])]
    waits = [-value for value in answer if value <= 0]
    retry = answer[-1] if answer and answer[-1] > 0 else None
    return waits, retry
