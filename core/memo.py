"""Reads that a burst of work shares: a worker draining a tenant's inbound messages
(``messaging.inbound.messages_process_pending``, about a second) looks up the tenant's
profile, opt-out keywords, business hours and keyword rules once for the burst instead of
once per message (docs/ARCHITECTURE.md#inbound-pipeline). A setting changed meanwhile
applies from the next burst. Outside ``memo_scope`` every read goes to the database.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.db import connection

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, object] | None] = ContextVar("memo", default=None)


@contextmanager
def memo_scope() -> Iterator[None]:
    """Share ``memoized`` reads for the block; nested scopes share the outer one."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def memoized(name: str, load: Callable[[], T]) -> T:
    """``load()``, or inside ``memo_scope`` what it returned the first time for ``name``
    in the current tenant's schema. Callers must treat the value as read-only."""
    memo = _memo.get()
    if memo is None:
        return load()
    key = (connection.schema_name, name)
    if key not in memo:
        memo[key] = load()
    return memo[key]  # type: ignore[return-value]
