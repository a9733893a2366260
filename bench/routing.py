"""Route choice at 1,000 entries: what a routed message costs in the send task beyond a
message on one connection (docs/ARCHITECTURE.md#routing).

The route's entries are random prefixes of 1 to 6 digits over ten simulator connections
with a catch-all; a batch of 50 messages to random numbers goes through the send task's
choice (compiled lookup, one breaker round trip and the bind check), the same batch of a
sender on one connection is the baseline.
"""

from __future__ import annotations

import random
import statistics
import time

from messaging.models import Message, Sender
from messaging.outbound import _connections_choose
from tenants.connections import connection_add
from tenants.models import ProviderConnection, Route
from tenants.routes import route_candidates, route_save, routes_changed, routes_refresh

ENTRIES = 1_000
BATCH = 50
ROUNDS = 200
CONNECTIONS = [f"bench-route-{n}" for n in range(10)]


def setup() -> list[str]:
    """The route (written through the console's service) and the numbers to send to."""
    rng = random.Random(20)
    for name in CONNECTIONS:
        if not ProviderConnection.objects.filter(name=name).exists():
            connection_add(name=name, kind="simulator", settings={})
    Route.objects.filter(name="bench").delete()
    prefixes = {"+"}
    while len(prefixes) < ENTRIES:
        prefixes.add("+" + str(rng.randint(1, 9)) + "".join(
            str(rng.randint(0, 9)) for _ in range(rng.randint(0, 5))))
    lines = [f"{prefix} {','.join(rng.sample(CONNECTIONS, 3))} 0.0{rng.randint(10, 99)}"
             for prefix in sorted(prefixes)]
    route_save(name="bench", cheapest_first=True, entries="\n".join(lines), actor="bench")
    return ["+" + str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(10))
            for _ in range(BATCH * ROUNDS)]


def _batch(connection: str, numbers: list[str]) -> list[Message]:
    sender = Sender(pk=1, address="+14155550100", connection=connection)
    return [Message(pk=n, sender=sender, to_address=number, connection=connection)
            for n, number in enumerate(numbers)]


def measure() -> dict[str, float]:
    numbers = setup()
    routes_changed()
    routes_refresh()
    started = time.perf_counter()
    route_candidates("bench", "+1")  # read and compiled, as by a process's first batch
    compile_ms = (time.perf_counter() - started) * 1000
    routed, plain = [], []
    for start in range(0, len(numbers), BATCH):
        chunk = numbers[start:start + BATCH]
        for connection, into in (("route:bench", routed), ("simulator", plain)):
            messages = _batch(connection, chunk)
            began = time.perf_counter()
            chosen, later = _connections_choose(messages)
            into.append((time.perf_counter() - began) / len(chunk))
            assert len(chosen) == len(chunk) and not later
    return {"routed_ms": statistics.median(routed) * 1000,
            "plain_ms": statistics.median(plain) * 1000,
            "compile_ms": compile_ms}
