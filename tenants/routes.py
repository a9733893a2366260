"""Routes: ordered entries of destination prefixes and the connections to send through,
with failover (docs/ARCHITECTURE.md#routing).

The operator writes a route's entries as text, one per line (``+44 eu-a,eu-b 0.035``);
``route_save`` checks all of them and writes them in one transaction. The send path asks
``route_candidates`` which connections may carry a number, in order: each process
compiles a route once into a dict per prefix length, so a choice is at most 16 dict
lookups whatever the number of entries, and compiles again when the installation's
routing version (a Redis key every change bumps) moves.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import redis
from django.conf import settings
from django.db import transaction

from core.errors import DomainError
from tenants import error_codes
from tenants.audit import audit_record
from tenants.models import (
    ProviderConnection,
    Route,
    RouteEntry,
    RouteEntryConnection,
)
from tenants.routing_cache import sender_routes_forget

logger = logging.getLogger(__name__)

# How a sender names a route instead of a connection; connection names hold no colon.
ROUTE_PREFIX = "route:"
ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PREFIX = re.compile(r"^\+?[0-9]{0,15}$")
MAX_ENTRIES = 10_000
VERSION_KEY = "routing:version"


def route_name_of(connection: str) -> str | None:
    """The route a sender's ``connection`` names, or None when it names a connection."""
    return connection[len(ROUTE_PREFIX):] if connection.startswith(ROUTE_PREFIX) else None


@dataclass(frozen=True)
class EntrySpec:
    prefix: str
    connections: tuple[str, ...]
    cost: Decimal | None = None


def entries_parse(text: str) -> list[EntrySpec]:
    """Entries from text, one per line: a prefix, the connections in order of preference
    separated by commas, and optionally the cost per segment. Raises DomainError naming
    the first line that is wrong, and what would make it right."""
    entries = []
    connections = set(ProviderConnection.objects.values_list("name", flat=True))
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) not in (2, 3):
            raise DomainError(error_codes.INVALID_ROUTE_ENTRY,
                              f"Line {number}: write a prefix, the connections separated by "
                              "commas, and optionally a cost per segment.", "entries")
        prefix = words[0]
        if not PREFIX.fullmatch(prefix):
            raise DomainError(error_codes.INVALID_PREFIX,
                              f"Line {number}: {prefix!r} is not a destination prefix (a + and "
                              "up to 15 digits; + alone matches every number).", "entries")
        names = tuple(name for name in words[1].split(",") if name)
        unknown = [name for name in names if name not in connections]
        if unknown or not names:
            raise DomainError(error_codes.UNKNOWN_CONNECTION,
                              f"Line {number}: there is no connection named "
                              f"{(unknown or [''])[0]!r}.", "entries")
        if len(set(names)) != len(names):
            raise DomainError(error_codes.INVALID_ROUTE_ENTRY,
                              f"Line {number}: a connection is named twice.", "entries")
        cost = None
        if len(words) == 3:
            try:
                cost = Decimal(words[2])
            except InvalidOperation:
                cost = None
            if cost is None or not cost.is_finite() or cost < 0 or cost >= 100_000 or (
                    cost.as_tuple().exponent < -5):
                raise DomainError(error_codes.INVALID_COST,
                                  f"Line {number}: {words[2]!r} is not a cost per segment (a "
                                  "number from 0, at most 5 decimals).", "entries")
        entries.append(EntrySpec(prefix="+" + prefix.lstrip("+"), connections=names,
                                 cost=cost))
    if len(entries) > MAX_ENTRIES:
        raise DomainError(error_codes.INVALID_ROUTE_ENTRY,
                          f"A route holds at most {MAX_ENTRIES} entries.", "entries")
    return entries


def route_names() -> list[str]:
    """The routes a tenant may register a sender on."""
    return list(Route.objects.order_by("name").values_list("name", flat=True))


def entries_text(route: Route) -> str:
    """A route's entries as ``entries_parse`` reads them."""
    lines = []
    for entry in route.entries.prefetch_related("hops__connection"):
        names = ",".join(hop.connection.name for hop in entry.hops.all())
        cost = ("" if entry.cost_per_segment is None
                else f" {entry.cost_per_segment.normalize():f}")
        lines.append(f"{entry.prefix} {names}{cost}")
    return "\n".join(lines)


def route_save(*, name: str, cheapest_first: bool, entries: str, actor: str,
               route: Route | None = None) -> Route:
    """Create a route, or replace an existing one's entries, from the operator's text.

    Everything is checked before anything is written; the route and its entries are
    written in one transaction, with an audit entry, and every process recompiles it
    after the commit. A route's name never changes (senders name it).
    """
    if route is None:
        if not ROUTE_NAME.fullmatch(name or ""):
            raise DomainError(error_codes.INVALID_NAME,
                              "Use 1-40 lowercase letters, digits, hyphens and underscores.",
                              "name")
        if Route.objects.filter(name=name).exists():
            raise DomainError(error_codes.ROUTE_EXISTS, f"A route named {name!r} exists.",
                              "name")
    specs = entries_parse(entries)
    if not specs:
        raise DomainError(error_codes.INVALID_ROUTE_ENTRY,
                          "Give at least one entry (\"+ simulator\" sends everything through "
                          "the simulator).", "entries")
    connections = dict(ProviderConnection.objects.values_list("name", "pk"))
    with transaction.atomic():
        if route is None:
            route = Route.objects.create(name=name, cheapest_first=cheapest_first)
            action = "route.create"
        else:
            route = Route.objects.select_for_update().get(pk=route.pk)
            route.cheapest_first = cheapest_first
            route.save(update_fields=["cheapest_first", "updated_at"])
            route.entries.all().delete()
            action = "route.update"
        made = RouteEntry.objects.bulk_create([
            RouteEntry(route=route, position=position, prefix=spec.prefix,
                       cost_per_segment=spec.cost)
            for position, spec in enumerate(specs)])
        RouteEntryConnection.objects.bulk_create([
            RouteEntryConnection(entry=entry, connection_id=connections[name], position=index)
            for entry, spec in zip(made, specs, strict=True)
            for index, name in enumerate(spec.connections)])
        audit_record(actor=actor, action=action, target=f"route:{route.name}",
                     detail=f"{len(specs)} entries" + (", cheapest first" if cheapest_first
                                                       else ""))
        transaction.on_commit(routes_changed)
    return route


def route_delete(*, route: Route, actor: str) -> None:
    """Delete a route no approved sender uses (``route_in_use`` otherwise)."""
    if route.sender_routes.exists():
        raise DomainError(error_codes.ROUTE_IN_USE,
                          f"Approved senders send through {route.name}; suspend them or move "
                          "them first.", "name")
    with transaction.atomic():
        route.delete()
        audit_record(actor=actor, action="route.delete", target=f"route:{route.name}")
        transaction.on_commit(routes_changed)


# --- The compiled table ----------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledRoute:
    # Prefix lengths present, longest first, and per length: prefix -> connections in order.
    lengths: tuple[int, ...]
    by_length: dict[int, dict[str, tuple[str, ...]]]

    def candidates(self, to: str) -> tuple[str, ...]:
        """The connections for ``to`` (E.164), best first: the longest matching prefix's."""
        for length in self.lengths:
            hit = self.by_length[length].get(to[:length])
            if hit is not None:
                return hit
        return ()


def route_compile(*, entries: list[tuple[int, str, Decimal | None, list[str]]],
                  cheapest_first: bool) -> CompiledRoute:
    """Compile ``(position, prefix, cost, connections)`` rows. Entries sharing a prefix
    are tried by position or, cheapest first, by cost (entries without one last); their
    connections are concatenated, each kept at its first place."""
    grouped: dict[str, list[tuple[int, str, Decimal | None, list[str]]]] = {}
    for row in entries:
        grouped.setdefault(row[1], []).append(row)
    by_length: dict[int, dict[str, tuple[str, ...]]] = {}
    for prefix, rows in grouped.items():
        if cheapest_first:
            rows.sort(key=lambda row: (row[2] is None, row[2] or 0, row[0]))
        else:
            rows.sort(key=lambda row: row[0])
        names = tuple(dict.fromkeys(name for row in rows for name in row[3]))
        by_length.setdefault(len(prefix), {})[prefix] = names
    return CompiledRoute(lengths=tuple(sorted(by_length, reverse=True)), by_length=by_length)


_compiled: dict[str, CompiledRoute | None] = {}
_seen = {"version": None, "at": 0.0}


def routes_refresh() -> None:
    """Forget the compiled routes if the routing version moved since this process last
    looked (one Redis GET; a caller does it once per batch). With Redis away, compiled
    routes are kept ``ROUTE_TABLE_TTL_SECONDS``."""
    now = time.monotonic()
    try:
        version = _client().get(VERSION_KEY) or b"0"
    except redis.RedisError:
        if now - _seen["at"] > settings.ROUTE_TABLE_TTL_SECONDS:
            _compiled.clear()
            _seen.update(version=None, at=now)
        return
    if version != _seen["version"]:
        _compiled.clear()
    _seen.update(version=version, at=now)


def route_candidates(route_name: str, to: str) -> tuple[str, ...]:
    """The connections that may carry a message to ``to`` on the route, best first
    (empty for an unknown route or a number no entry matches)."""
    compiled = _compiled.get(route_name, False)
    if compiled is False:
        compiled = _compiled[route_name] = _route_load(route_name)
    return compiled.candidates(to) if compiled is not None else ()


def _route_load(name: str) -> CompiledRoute | None:
    route = Route.objects.filter(name=name).first()
    if route is None:
        return None
    hops: dict[int, list[str]] = {}
    for entry_id, connection in (RouteEntryConnection.objects.filter(entry__route=route)
                                 .order_by("entry_id", "position")
                                 .values_list("entry_id", "connection__name")):
        hops.setdefault(entry_id, []).append(connection)
    rows = [(position, prefix, cost, hops.get(pk, []))
            for pk, position, prefix, cost in route.entries.values_list(
                "pk", "position", "prefix", "cost_per_segment")]
    return route_compile(entries=rows, cheapest_first=route.cheapest_first)


def routes_changed() -> None:
    """Every process recompiles its routes: this one at once, the others at their next
    batch."""
    _compiled.clear()
    sender_routes_forget()
    try:
        _client().incr(VERSION_KEY)
    except redis.RedisError:
        logger.warning("redis unavailable: other processes see the route change within "
                       "%s s", settings.ROUTE_TABLE_TTL_SECONDS, exc_info=True)


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2.0)
