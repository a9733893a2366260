"""How each provider connection is doing, kept in Redis and shared by every process: the
circuit breaker that routes skip a failing connection by, the SMPP connector's bind state,
and the send outcomes of the last hour the operator console shows
(docs/ARCHITECTURE.md#routing).

Keys are per connection (connection names are unique installation-wide and carry no
tenant data): ``breaker:<name>:{failures,open,tripped,trial}``, ``smpp:<name>:bound``,
``connstats:<name>:<minute>`` and ``connstats:<name>:last_error``. Everything here is
best effort: with Redis away a breaker counts as closed and the figures as unknown, and
messages still go out.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# What ``breakers_allow`` grants: every message, one trial message, or none.
ALLOW_ALL, ALLOW_TRIAL, ALLOW_NONE = 2, 1, 0
# A trial whose outcome never comes back (a worker killed mid-send) frees the next one
# after this long.
TRIAL_TIMEOUT_MS = 60_000
BIND_TTL_SECONDS = 30
STATS_MINUTES = 60

_ALLOW = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 2 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
return 1
"""

# KEYS: failures, open, tripped, trial. ARGV: successes, failures, threshold, window ms,
# cool-down ms. A success closes the breaker; failures within the window (or a failed
# trial) open it for the cool-down, after which one trial decides.
_RECORD = """
local ok = tonumber(ARGV[1])
local failed = tonumber(ARGV[2])
if ok > 0 then
  redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
  return 2
end
if failed == 0 then return 2 end
local count = redis.call('INCRBY', KEYS[1], failed)
if count == failed then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
if redis.call('EXISTS', KEYS[3]) == 1 or count >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
  redis.call('SET', KEYS[3], '1', 'EX', 86400)
  redis.call('DEL', KEYS[1], KEYS[4])
  return 0
end
return 2
"""


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2.0)


@functools.cache
def _scripts():
    client = _client()
    return client.register_script(_ALLOW), client.register_script(_RECORD)


def _breaker_keys(name: str) -> list[str]:
    prefix = f"breaker:{name}:"
    return [prefix + "failures", prefix + "open", prefix + "tripped", prefix + "trial"]


def breakers_allow(names: list[str]) -> dict[str, int]:
    """For each connection, what its breaker lets through now: every message (closed), a
    trial message (half-open: take it with ``breaker_trial_take``), or none (open, or a
    trial under way). One round trip for all of them."""
    if not names:
        return {}
    allow, _ = _scripts()
    try:
        with _client().pipeline(transaction=False) as pipe:
            for name in names:
                _failures, open_, tripped, trial = _breaker_keys(name)
                allow(keys=[open_, tripped, trial], client=pipe)
            answers = pipe.execute()
    except redis.RedisError:
        logger.warning("redis unavailable: connection breakers count as closed", exc_info=True)
        return dict.fromkeys(names, ALLOW_ALL)
    return {name: int(answer) for name, answer in zip(names, answers, strict=True)}


def breaker_trial_take(name: str) -> bool:
    """Take a half-open breaker's single trial; False when another caller has it."""
    try:
        return bool(_client().set(_breaker_keys(name)[3], "1", nx=True,
                                  px=TRIAL_TIMEOUT_MS))
    except redis.RedisError:
        return True


@dataclass(frozen=True)
class Outcome:
    """What one connection answered for a chunk of sends."""

    connection: str
    sent: int = 0
    # Timeouts, 429, 5xx, lost connections: what the breaker counts.
    transient: int = 0
    # Refusals: the provider answered, so they count as errors, not as the breaker's.
    permanent: int = 0
    last_error: tuple[str, str] | None = None  # (code, detail)


def outcomes_record(outcomes: list[Outcome]) -> None:
    """Feed the breakers and the last hour's figures with what connections answered, in
    one round trip."""
    if not outcomes:
        return
    _, record = _scripts()
    minute = int(time.time() // 60)
    try:
        with _client().pipeline(transaction=False) as pipe:
            for outcome in outcomes:
                record(keys=_breaker_keys(outcome.connection),
                       args=[outcome.sent, outcome.transient,
                             settings.ROUTE_BREAKER_FAILURES,
                             int(settings.ROUTE_BREAKER_WINDOW_SECONDS * 1000),
                             int(settings.ROUTE_BREAKER_COOLDOWN_SECONDS * 1000)],
                       client=pipe)
                bucket = f"connstats:{outcome.connection}:{minute}"
                attempts = outcome.sent + outcome.transient + outcome.permanent
                pipe.hincrby(bucket, "attempts", attempts)
                pipe.hincrby(bucket, "errors", outcome.transient + outcome.permanent)
                pipe.expire(bucket, (STATS_MINUTES + 2) * 60)
                if outcome.last_error is not None:
                    code, detail = outcome.last_error
                    pipe.set(f"connstats:{outcome.connection}:last_error",
                             json.dumps({"code": code, "detail": detail[:300],
                                         "at": time.time()}), ex=7 * 86400)
            pipe.execute()
    except redis.RedisError:
        logger.warning("redis unavailable: connection outcomes not recorded", exc_info=True)


def bind_state_record(name: str, *, bound: bool) -> None:
    """The SMPP connector says whether its bind is up; it repeats it while it is, so a
    connector that dies is seen unbound within ``BIND_TTL_SECONDS``."""
    key = f"smpp:{name}:bound"
    if bound:
        _client().set(key, "1", ex=BIND_TTL_SECONDS)
    else:
        _client().delete(key)


def bind_states(names: list[str]) -> dict[str, bool]:
    """Whether each SMPP connection's connector holds a bind (False when unknown)."""
    if not names:
        return {}
    try:
        values = _client().mget([f"smpp:{name}:bound" for name in names])
    except redis.RedisError:
        logger.warning("redis unavailable: SMPP binds count as up", exc_info=True)
        return dict.fromkeys(names, True)
    return {name: value is not None for name, value in zip(names, values, strict=True)}


@dataclass(frozen=True)
class Health:
    breaker: str
    attempts: int
    errors: int
    last_error: dict | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.attempts if self.attempts else None


def connections_health(names: list[str]) -> dict[str, Health | None]:
    """Each connection's breaker state, sends and errors over the last hour and last error
    (None when Redis cannot say)."""
    minute = int(time.time() // 60)
    try:
        with _client().pipeline(transaction=False) as pipe:
            for name in names:
                _failures, open_, tripped, _trial = _breaker_keys(name)
                pipe.exists(open_)
                pipe.exists(tripped)
                for back in range(STATS_MINUTES):
                    pipe.hmget(f"connstats:{name}:{minute - back}", "attempts", "errors")
                pipe.get(f"connstats:{name}:last_error")
            answers = iter(pipe.execute())
    except redis.RedisError:
        logger.warning("redis unavailable: connection health unknown", exc_info=True)
        return dict.fromkeys(names)
    health: dict[str, Health | None] = {}
    for name in names:
        is_open, tripped = next(answers), next(answers)
        attempts = errors = 0
        for _ in range(STATS_MINUTES):
            tried, failed = next(answers)
            attempts += int(tried or 0)
            errors += int(failed or 0)
        last = next(answers)
        state = OPEN if is_open else HALF_OPEN if tripped else CLOSED
        health[name] = Health(breaker=state, attempts=attempts, errors=errors,
                              last_error=json.loads(last) if last else None)
    return health


def queue_lengths(keys: list[str]) -> dict[str, int | None]:
    """Lengths of Redis lists (the broker's queues, the SMPP hand-over queues); None for
    all when Redis cannot say."""
    try:
        with _client().pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.llen(key)
            return dict(zip(keys, pipe.execute(), strict=True))
    except redis.RedisError:
        return dict.fromkeys(keys)
