"""Routes with failover: the longest matching prefix chooses the connections, cheapest
first when asked, a failing connection is skipped while its breaker is open and used again
once it recovers; bad entries are refused (docs/ARCHITECTURE.md#routing)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django_tenants.utils import schema_context

from core.errors import DomainError
from messaging.models import Message
from messaging.outbound import messages_deliver, messages_send_bulk
from messaging.senders import sender_register
from tenants.connections import connection_add
from tenants.models import ProviderConnection, Route, RouteEntry, SenderRoute
from tenants.routes import route_candidates, route_save, routes_changed, routes_refresh
from tests.conftest import host_client
from tests.support.fake_twilio import FakeTwilio
from tests.support.messaging import approved_sender, twilio_inbound, twilio_post

SENDER = "+14155550100"
UNAVAILABLE = (503, {"code": 20500, "message": "Service unavailable", "status": 503})


def _breakers_reset(*names: str) -> None:
    """Breakers live in Redis, which outlives a test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for name in names:
        keys = list(client.scan_iter(match=f"breaker:{name}:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def _routes_compiled_afresh() -> None:
    """A test's routes roll back with it, and their commit hooks never run: forget what
    this process compiled."""
    routes_changed()


def _connection(name: str, fake: FakeTwilio) -> ProviderConnection:
    _breakers_reset(name)
    return connection_add(name=name, kind="twilio", settings={
        "account_sid": fake.sid, "auth_token": fake.token, "api_base_url": fake.base_url})


@pytest.fixture
def two_twilios(db) -> Iterator[tuple[FakeTwilio, FakeTwilio]]:
    first, second = FakeTwilio().start(), FakeTwilio().start()
    _connection("route-first", first)
    _connection("route-second", second)
    yield first, second
    first.stop()
    second.stop()
    _breakers_reset("route-first", "route-second")


def _candidates(route: str, to: str) -> tuple[str, ...]:
    routes_refresh()
    return route_candidates(route, to)


def _send(tenant, count: int, start: int) -> list[int]:
    with schema_context(tenant.schema_name):
        sent = messages_send_bulk(items=[
            {"from": SENDER, "to": f"+1415555{start + n:04d}", "body": f"Hello {n}"}
            for n in range(count)], origin="api")
    return [message.pk for message in sent]


def _messages(tenant, ids: list[int]) -> list[Message]:
    with schema_context(tenant.schema_name):
        return list(Message.objects.filter(pk__in=ids).order_by("pk"))


def _deliver(tenant, ids: list[int]) -> dict[int, float]:
    with schema_context(tenant.schema_name):
        return messages_deliver(message_ids=ids)


def test_every_message_leaves_once_through_the_second_connection_while_the_first_fails_and_the_first_is_used_again_once_it_recovers(  # noqa: E501
        alpha, two_twilios, settings):
    first, second = two_twilios
    settings.ROUTE_BREAKER_FAILURES = 3
    settings.ROUTE_BREAKER_COOLDOWN_SECONDS = 1
    route_save(name="failover", cheapest_first=False, entries="+1 route-first,route-second",
               actor="test")
    approved_sender(alpha, SENDER, "route:failover")
    first.answers = [UNAVAILABLE] * 100

    ids = _send(alpha, 5, 0)
    retry = _deliver(alpha, ids)
    assert set(retry) == set(ids)  # each failed transiently on the first, once
    assert len(first.requests) == 5
    assert {m.status for m in _messages(alpha, ids)} == {"queued"}

    # The retry: the first connection's breaker is open, so the second carries them all.
    assert _deliver(alpha, ids) == {}
    messages = _messages(alpha, ids)
    assert [(m.status, m.connection) for m in messages] == [("sent", "route-second")] * 5
    assert sorted(request.form["To"] for request in second.requests) == sorted(
        m.to_address for m in messages)  # each exactly once
    assert len(first.requests) == 5  # nothing more was tried there while open

    # New messages keep away from it until the cool-down is over ...
    later = _send(alpha, 2, 100)
    _deliver(alpha, later)
    assert {m.connection for m in _messages(alpha, later)} == {"route-second"}

    # ... then one trial finds it back, and new messages use it again.
    first.answers = []
    time.sleep(settings.ROUTE_BREAKER_COOLDOWN_SECONDS + 0.2)
    trial = _send(alpha, 1, 200)
    _deliver(alpha, trial)
    after = _send(alpha, 3, 300)
    _deliver(alpha, after)
    assert [(m.status, m.connection) for m in _messages(alpha, trial + after)] == [
        ("sent", "route-first")] * 4
    assert len(first.requests) == 5 + 4
    assert len(second.requests) == 5 + 2


def test_a_failed_trial_keeps_the_connection_skipped(alpha, two_twilios, settings):
    first, _second = two_twilios
    settings.ROUTE_BREAKER_FAILURES = 1
    settings.ROUTE_BREAKER_COOLDOWN_SECONDS = 1
    route_save(name="failover", cheapest_first=False, entries="+ route-first,route-second",
               actor="test")
    approved_sender(alpha, SENDER, "route:failover")
    first.answers = [UNAVAILABLE] * 100
    _deliver(alpha, _send(alpha, 1, 0))
    time.sleep(1.2)
    trial = _send(alpha, 3, 10)
    _deliver(alpha, trial)  # one trial on the first (fails again), the others on the second
    assert len(first.requests) == 2
    assert [m.connection for m in _messages(alpha, trial)].count("route-second") == 2
    again = _send(alpha, 2, 20)
    _deliver(alpha, again)
    assert {m.connection for m in _messages(alpha, again)} == {"route-second"}


def test_the_longest_matching_prefix_wins(db):
    connection_add(name="uk", kind="simulator", settings={})
    connection_add(name="us", kind="simulator", settings={})
    connection_add(name="sf", kind="simulator", settings={})
    route_save(name="world", cheapest_first=False, actor="test",
               entries="+ simulator\n+1 us\n+1415 sf\n+44 uk  # London and the rest\n")
    assert _candidates("world", "+14155550100") == ("sf",)
    assert _candidates("world", "+12125550100") == ("us",)
    assert _candidates("world", "+442071234567") == ("uk",)
    assert _candidates("world", "+33612345678") == ("simulator",)
    assert _candidates("nowhere", "+14155550100") == ()


def test_a_route_without_a_catch_all_has_no_connection_for_other_numbers(alpha):
    route_save(name="us-only", cheapest_first=False, actor="test", entries="+1 simulator")
    approved_sender(alpha, SENDER, "route:us-only")
    ids = _send(alpha, 1, 0)
    with schema_context(alpha.schema_name):
        [uk] = messages_send_bulk(items=[{"from": SENDER, "to": "+442071234567",
                                          "body": "Hi"}], origin="api")
    _deliver(alpha, [*ids, uk.pk])
    us, uk = _messages(alpha, [*ids, uk.pk])
    assert (us.status, us.connection) == ("delivered", "simulator")
    assert (uk.status, uk.error_code) == ("failed", "no_route")


def test_cheapest_first_orders_the_entries_of_the_prefix_by_cost(db):
    for name in ("dear", "cheap", "unpriced", "other"):
        connection_add(name=name, kind="simulator", settings={})
    entries = "+1 dear 0.05\n+1 unpriced\n+1 cheap,other 0.0075\n+ dear 0.001"
    route_save(name="by-order", cheapest_first=False, actor="test", entries=entries)
    route_save(name="by-cost", cheapest_first=True, actor="test", entries=entries)
    assert _candidates("by-order", "+14155550100") == ("dear", "unpriced", "cheap", "other")
    assert _candidates("by-cost", "+14155550100") == ("cheap", "other", "dear", "unpriced")


@pytest.mark.parametrize(("entries", "code", "words"), [
    ("+1 nowhere", "unknown_connection", "Line 1: there is no connection named 'nowhere'"),
    ("+ simulator\n+1-415 simulator", "invalid_prefix", "Line 2: '+1-415' is not a"),
    ("+44x simulator", "invalid_prefix", "is not a destination prefix"),
    ("+1234567890123456 simulator", "invalid_prefix", "is not a destination prefix"),
    ("+1 simulator -1", "invalid_cost", "is not a cost per segment"),
    ("+1 simulator cheap", "invalid_cost", "is not a cost per segment"),
    ("+1", "invalid_route_entry", "Line 1: write a prefix"),
    ("", "invalid_route_entry", "at least one entry"),
])
def test_a_bad_entry_is_refused_and_nothing_is_written(db, entries, code, words):
    with pytest.raises(DomainError) as refused:
        route_save(name="bad", cheapest_first=False, entries=entries, actor="test")
    assert refused.value.code == code
    assert words in refused.value.detail
    assert not Route.objects.filter(name="bad").exists()
    assert not RouteEntry.objects.exists()


def test_an_edit_that_is_refused_keeps_the_entries(db):
    route = route_save(name="kept", cheapest_first=False, entries="+1 simulator", actor="t")
    with pytest.raises(DomainError):
        route_save(name="kept", cheapest_first=True, entries="+1 gone", actor="t", route=route)
    route.refresh_from_db()
    assert not route.cheapest_first
    assert _candidates("kept", "+14155550100") == ("simulator",)


def test_a_sender_on_an_unknown_route_is_refused(alpha):
    with schema_context(alpha.schema_name), pytest.raises(DomainError) as refused:
        sender_register(address=SENDER, kind="long_code", connection="route:nowhere")
    assert refused.value.code == "unknown_connection"


def test_inbound_to_a_route_sender_is_accepted_from_its_routes_connections_only(
        alpha, two_twilios):
    first, second = two_twilios
    route_save(name="failover", cheapest_first=False, entries="+1 route-first,route-second",
               actor="test")
    approved_sender(alpha, SENDER, "route:failover")
    assert SenderRoute.objects.get(address=SENDER).route.name == "failover"
    other = FakeTwilio().start()
    try:
        _connection("elsewhere", other)
        client = host_client(settings.BASE_DOMAIN)
        answers = [twilio_post(client, f"/webhooks/{name}/inbound",
                               twilio_inbound("SM" + str(n) * 32, to=SENDER), fake.token)
                   for n, (name, fake) in enumerate(
                       [("route-first", first), ("route-second", second),
                        ("elsewhere", other)], start=1)]
    finally:
        other.stop()
    assert [answer.status_code for answer in answers] == [200, 200, 404]
    with schema_context(alpha.schema_name):
        assert sorted(Message.objects.filter(direction="inbound")
                      .values_list("connection", flat=True)) == ["route-first", "route-second"]


def test_an_inactive_connection_is_skipped_for_the_next(alpha, two_twilios):
    first, second = two_twilios
    assert second.requests == []
    route_save(name="failover", cheapest_first=False, entries="+1 route-first,route-second",
               actor="test")
    approved_sender(alpha, SENDER, "route:failover")
    inactive = ProviderConnection.objects.get(name="route-first")
    inactive.is_active = False
    inactive.save()
    ids = _send(alpha, 2, 0)
    assert _deliver(alpha, ids) == {}
    assert [(m.status, m.connection) for m in _messages(alpha, ids)] == [
        ("sent", "route-second")] * 2
    assert first.requests == [] and len(second.requests) == 2
