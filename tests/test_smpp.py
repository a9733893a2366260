"""SMPP 3.4 end to end: the connector's real asyncio loop (or the real management command)
against an SMSC double on 127.0.0.1 (``tests/fake_smsc.py``), with the real database and
Redis; a real Celery worker where a reply depends on it.

These tests commit (the connector writes from its own thread or process) and remove what
they created.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from core import encoding
from messaging.models import Contact, Conversation, InboundPart, KeywordRule, Message, Sender
from messaging.outbound import message_deliver, message_send, messages_send_bulk
from smpp import codec
from smpp.config import config_from
from smpp.connector import connectors_run
from smpp.models import SmppPart
from smpp.queue import keys
from tenants.connection_health import bind_states
from tenants.connections import connection_add
from tenants.models import ProviderConnection, Route, SenderRoute, Tenant, UsageCounter
from tenants.routes import route_save
from tests.support.fake_smsc import FakeSMSC, wait_until
from tests.support.messaging import approved_sender
from tests.support.workers import celery_worker

NAME = "smpp-test"
SENDER = "+14155550150"
CUSTOMER = "+14155550171"


def customer(index: int) -> str:
    return f"+1415556{index:04d}"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def smsc():
    with FakeSMSC() as fake:
        yield fake


def _forget_queue() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*keys(NAME))


@pytest.fixture
def tenant(committed_db) -> Tenant:
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def make_connection(committed_db, smsc, tenant):
    """``make_connection(**settings)``: the smpp connection to the double and an approved
    long-code sender of alpha on it; everything is removed afterwards."""
    _forget_queue()

    def make(**overrides: str) -> ProviderConnection:
        connection = connection_add(name=NAME, kind="smpp", settings={
            "host": "127.0.0.1", "port": str(smsc.port), "system_id": smsc.system_id,
            "password": smsc.password, "window": "10", "submit_rate": "0",
            "reconnect_backoff": "0.05", **overrides,
        })
        approved_sender(tenant, SENDER, NAME)
        with schema_context(tenant.schema_name):
            Sender.objects.filter(address=SENDER).update(rate_limit=None)
        return connection

    yield make
    with schema_context(tenant.schema_name):
        senders = Sender.objects.filter(address=SENDER)
        Message.objects.filter(sender__in=senders).delete()
        Conversation.objects.filter(sender__in=senders).delete()
        KeywordRule.objects.filter(keyword__startswith="BALANCE").delete()
        InboundPart.objects.filter(connection=NAME).delete()
        senders.delete()
        Contact.objects.filter(phone__startswith="+1415556").delete()
        Contact.objects.filter(phone=CUSTOMER).delete()
    SenderRoute.objects.filter(connection__name=NAME).delete()
    SmppPart.objects.filter(connection=NAME).delete()
    UsageCounter.objects.filter(connection=NAME).delete()
    ProviderConnection.objects.filter(name=NAME).delete()
    _forget_queue()


class ConnectorThread:
    """The connector's real asyncio loop, in a thread of the test process."""

    def __init__(self, name: str = NAME) -> None:
        connection = ProviderConnection.objects.get(name=name)
        self.config = config_from(connection.name, connection.settings)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.started.set()
        with ThreadPoolExecutor(max_workers=1) as db:
            await connectors_run([self.config], stop=self.stop_event, db=db)

    def start(self) -> ConnectorThread:
        self.thread.start()
        self.started.wait(5)
        return self

    def stop(self) -> None:
        if not self.thread.is_alive():
            return  # stopped by the test already
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)
        assert not self.thread.is_alive(), "the connector did not stop"


@pytest.fixture
def run_connector():
    started: list[ConnectorThread] = []

    def run() -> ConnectorThread:
        started.append(ConnectorThread().start())
        return started[-1]

    yield run
    for connector in started:
        connector.stop()


def send(tenant: Tenant, body: str, to: str = CUSTOMER) -> Message:
    """Queue a message and run the send step as the Celery task does: it hands the message
    to the connector."""
    with schema_context(tenant.schema_name):
        message = message_send(from_address=SENDER, to=to, body=body, origin="api")
        assert message_deliver(message_id=message.pk) is None
        return message


def reload(tenant: Tenant, message: Message) -> Message:
    with schema_context(tenant.schema_name):
        return Message.objects.get(pk=message.pk)


def wait_status(tenant: Tenant, message: Message, *statuses: str,
                timeout: float = 10) -> Message:
    wait_until(lambda: reload(tenant, message).status in statuses, timeout,
               f"message {message.pk} to become {'/'.join(statuses)}")
    return reload(tenant, message)


# --- Done when (1): a 3-part UCS-2 message ------------------------------------------------


def test_a_three_part_ucs2_message_is_three_submits_with_udh_and_delivered_by_three_receipts(
        tenant, smsc, make_connection, run_connector):
    make_connection()
    smsc.auto_receipt = None
    run_connector()
    body = "Ваш заказ готов к выдаче, приходите! " * 4 + "👍"
    assert encoding.analyse(body).encoding == "UCS-2"
    assert encoding.analyse(body).segments == 3

    message = wait_status(tenant, send(tenant, body), "sent")

    submits = smsc.submits_to(CUSTOMER)
    assert len(submits) == 3
    assert {s.data_coding for s in submits} == {8}
    assert {s.esm_class for s in submits} == {0x40}
    assert {s.registered_delivery for s in submits} == {1}
    assert {(s.source_addr, s.source_addr_ton, s.source_addr_npi) for s in submits} == {
        (SENDER[1:], 1, 1)}
    assert {(s.dest_addr_ton, s.dest_addr_npi) for s in submits} == {(1, 1)}
    for number, submit in enumerate(submits, start=1):
        # UDH: length 5, IE 0x00 (concatenation, 8-bit reference), length 3, ref, 3, n.
        assert submit.short_message[:3] == bytes((5, 0, 3))
        assert submit.short_message[4:6] == bytes((3, number))
        assert len(submit.short_message) <= 140
    assert len({s.short_message[3] for s in submits}) == 1
    assert "".join(s.text for s in submits) == body
    with schema_context(tenant.schema_name):
        parts = list(SmppPart.objects.filter(connection=NAME, message_id=message.pk,
                                             schema_name=tenant.schema_name)
                     .order_by("number"))
    assert [p.smsc_message_id for p in parts] == [s.message_id for s in submits]
    assert message.provider_message_id == submits[0].message_id
    # Metered once, as the connector records it sent; /metrics reads the bind as up.
    [counter] = UsageCounter.objects.filter(connection=NAME)
    assert (counter.direction, counter.messages, counter.segments) == ("outbound", 1, 3)
    wait_until(lambda: bind_states([NAME]) == {NAME: True}, what="bind state published")

    # Receipts for two parts are not enough; the third delivers the message.
    for submit in submits[:2]:
        assert smsc.send_receipt(submit.message_id) == codec.ESME_ROK
    time.sleep(0.2)
    assert reload(tenant, message).status == "sent"
    assert smsc.send_receipt(submits[2].message_id) == codec.ESME_ROK
    assert wait_status(tenant, message, "delivered").delivered_at is not None


# --- Done when (2): a concatenated MO answered by a keyword rule over SMPP ----------------


@pytest.fixture
def worker(process_env):
    with celery_worker(process_env, queues=["inbound", "outbound"], solo=True) as process:
        yield process


@pytest.mark.slow
def test_a_two_part_mo_becomes_one_inbound_message_and_its_keyword_rule_answers_over_smpp(
        tenant, smsc, make_connection, run_connector, worker):
    make_connection()
    with schema_context(tenant.schema_name):
        KeywordRule.objects.create(keyword="BALANCE", match="starts_with",
                                   reply="Your balance is 42.00 EUR.")
    run_connector()
    smsc.wait_bound()
    text = ("BALANCE please for account 12345678, and could you also tell me when the "
            "last payment was received? I sent it on Monday from my other bank account, "
            "the one ending in 9876. Thanks a lot!")
    assert len(text) > 160

    statuses = smsc.send_mo(source=CUSTOMER[1:], destination=SENDER[1:], text=text, split=120)

    assert statuses == [codec.ESME_ROK, codec.ESME_ROK]
    with schema_context(tenant.schema_name):
        inbound = list(Message.objects.filter(direction="inbound", sender__address=SENDER))
    assert [(m.from_address, m.to_address, m.body) for m in inbound] == [
        (CUSTOMER, SENDER, text)]
    with schema_context(Tenant.objects.get(slug="beta").schema_name):
        assert not Message.objects.filter(body=text).exists()

    wait_until(lambda: smsc.submits_to(CUSTOMER), 30, "the rule's reply at the SMSC")
    reply = smsc.submits_to(CUSTOMER)
    assert [(s.text, s.data_coding, s.source_addr) for s in reply] == [
        ("Your balance is 42.00 EUR.", 0, SENDER[1:])]
    with schema_context(tenant.schema_name):
        answer = Message.objects.get(direction="outbound", sender__address=SENDER)
    assert wait_status(tenant, answer, "delivered").origin == "rule"


# --- Done when (3): the SMSC drops the bind during traffic --------------------------------


def _traffic_with_a_drop(tenant, smsc, run_connector, count: int) -> dict[str, Message]:
    """``count`` messages handed to the connector, the SMSC cutting the connection after
    45 submits; returns the messages by recipient once none is in flight."""
    with schema_context(tenant.schema_name):
        messages = messages_send_bulk(items=[{"from": SENDER, "to": customer(i),
                                              "body": f"Order {i} is ready"}
                                             for i in range(count)], origin="api")
        for message in messages:
            message_deliver(message_id=message.pk)
    # A backlog keeps the window full when the SMSC cuts the connection.
    smsc.drop_after(45)
    run_connector()

    def settled() -> bool:
        with schema_context(tenant.schema_name):
            return not Message.objects.filter(
                pk__in=[m.pk for m in messages], status__in=["queued", "sending"]).exists()

    wait_until(settled, 30, "every message to be settled")
    assert len([b for b in smsc.binds if b[2] == "ESME_ROK"]) >= 2  # it rebound
    with schema_context(tenant.schema_name):
        return {m.to_address: m for m in Message.objects.filter(
            pk__in=[m.pk for m in messages])}


def test_a_dropped_bind_is_rebound_and_no_message_is_submitted_twice_or_lost(
        tenant, smsc, make_connection, run_connector):
    make_connection()
    count = 150
    final = _traffic_with_a_drop(tenant, smsc, run_connector, count)
    accepted: dict[str, list] = {}
    for submit in smsc.submits:
        accepted.setdefault("+" + submit.destination_addr, []).append(submit)
    assert max(len(submits) for submits in accepted.values()) == 1  # nothing twice
    unknown = [m for m in final.values() if m.status == "failed"]
    # Written before the drop and never answered: outcome unknown, not resent
    # (docs/ARCHITECTURE.md#outbound-pipeline).
    assert all(m.error_code == "send_outcome_unknown" for m in unknown)
    assert len(unknown) <= 10  # at most a window's worth
    for phone, message in final.items():
        if message.status != "failed":
            # Everything else reached the SMSC exactly once, under the id we stored.
            assert [s.message_id for s in accepted[phone]] == [message.provider_message_id]
    assert len(smsc.submits) >= count - len(unknown)


def test_with_resubmit_every_message_reaches_the_smsc_exactly_once_across_a_drop(
        tenant, smsc, make_connection, run_connector):
    # The double drops what it had not read, as a crashed SMSC does: resubmitting what it
    # never answered duplicates nothing here (with a real SMSC it may: at-least-once).
    make_connection(unanswered_submits="resubmit")
    final = _traffic_with_a_drop(tenant, smsc, run_connector, 150)

    per_recipient = {phone: [s for s in smsc.submits if "+" + s.destination_addr == phone]
                     for phone in final}
    assert {len(submits) for submits in per_recipient.values()} == {1}
    assert {m.status for m in final.values()} <= {"sent", "delivered"}
    for phone, message in final.items():
        assert per_recipient[phone][0].message_id == message.provider_message_id


# --- throttling, window, keepalive, receipts, errors --------------------------------------


@pytest.mark.parametrize("status", [codec.ESME_RTHROTTLED, codec.ESME_RMSGQFUL])
def test_throttling_backs_off_and_retries_until_accepted(
        tenant, smsc, make_connection, run_connector, status):
    make_connection()
    smsc.throttle(3, status)
    run_connector()

    message = wait_status(tenant, send(tenant, "Throttled, then accepted"), "sent", "delivered")

    submits = smsc.submits_to(CUSTOMER)
    assert [s.status for s in submits] == [status] * 3 + [codec.ESME_ROK]
    gaps = [b.at - a.at for a, b in itertools.pairwise(submits)]
    # 0.25 s, then doubling: the connector slowed down each time it was told to.
    assert gaps[0] >= 0.2 and gaps[1] >= 0.45 and gaps[2] >= 0.9, gaps
    assert message.provider_message_id == submits[-1].message_id


def test_the_window_bounds_unanswered_submits(tenant, smsc, make_connection, run_connector):
    make_connection(window="4")
    smsc.respond_delay = 0.05
    smsc.auto_receipt = None
    run_connector()
    with schema_context(tenant.schema_name):
        messages = messages_send_bulk(items=[{"from": SENDER, "to": customer(i),
                                              "body": f"Window {i}"} for i in range(30)],
                                      origin="api")
        for message in messages:
            message_deliver(message_id=message.pk)
    wait_until(lambda: len([s for s in smsc.submits if s.message_id]) == 30, 10, "30 submits")
    assert smsc.max_outstanding == 4


def test_submit_rate_caps_submits_per_second(tenant, smsc, make_connection, run_connector):
    make_connection(submit_rate="20")
    smsc.auto_receipt = None
    run_connector()
    smsc.wait_bound()
    with schema_context(tenant.schema_name):
        for message in messages_send_bulk(items=[{"from": SENDER, "to": customer(i),
                                                  "body": f"Rate {i}"} for i in range(21)],
                                          origin="api"):
            message_deliver(message_id=message.pk)
    wait_until(lambda: len(smsc.submits) == 21, 10, "21 submits")
    span = smsc.submits[-1].at - smsc.submits[0].at
    assert 0.9 <= span <= 2.0, span


def test_enquire_link_keeps_a_quiet_bind_alive(smsc, make_connection, run_connector):
    make_connection(enquire_link_interval="0.1")
    run_connector()
    smsc.wait_bound()
    time.sleep(0.8)
    assert smsc.enquire_links >= 4
    assert [b[0] for b in smsc.binds] == ["bind_transceiver"]


def test_a_route_skips_the_smpp_connection_while_no_connector_holds_its_bind(
        tenant, smsc, make_connection, run_connector):
    """docs/ARCHITECTURE.md#routing: the connector keeps its bind state in Redis, and a
    route sends through the next connection while it is down."""
    make_connection()
    route_save(name="smpp-first", cheapest_first=False, entries=f"+ {NAME},simulator",
               actor="test")
    address = "+14155550151"
    approved_sender(tenant, address, "route:smpp-first")
    try:
        with schema_context(tenant.schema_name):
            Sender.objects.filter(address=address).update(rate_limit=None)
            unbound = message_send(from_address=address, to=CUSTOMER, body="No bind yet",
                                   origin="api")
            message_deliver(message_id=unbound.pk)
        assert (reload(tenant, unbound).connection, reload(tenant, unbound).status) == (
            "simulator", "delivered")

        connector = run_connector()
        smsc.wait_bound()
        wait_until(lambda: bind_states([NAME])[NAME], 5, "the bind state in Redis")
        with schema_context(tenant.schema_name):
            bound = message_send(from_address=address, to=CUSTOMER, body="Bound now",
                                 origin="api")
            message_deliver(message_id=bound.pk)
        assert wait_status(tenant, bound, "delivered").connection == NAME

        connector.stop()
        assert bind_states([NAME]) == {NAME: False}
    finally:
        with schema_context(tenant.schema_name):
            senders = Sender.objects.filter(address=address)
            Message.objects.filter(sender__in=senders).delete()
            Conversation.objects.filter(sender__in=senders).delete()
            senders.delete()
        SenderRoute.objects.filter(address=address).delete()
        Route.objects.filter(name="smpp-first").delete()


def test_an_idle_bind_the_smsc_cuts_is_rebound_and_works(tenant, smsc, make_connection,
                                                         run_connector):
    make_connection()
    run_connector()
    smsc.wait_bound()
    smsc.drop()
    wait_until(lambda: len(smsc.binds) == 2 and smsc.bound() == 1, 5, "a rebind")

    wait_status(tenant, send(tenant, "After the rebind"), "delivered")


@pytest.mark.parametrize(("stat", "status"), [
    ("DELIVRD", "delivered"), ("UNDELIV", "undelivered"), ("EXPIRED", "undelivered"),
    ("REJECTD", "undelivered"),
])
def test_receipts_map_onto_statuses(tenant, smsc, make_connection, run_connector, stat,
                                    status):
    make_connection()
    smsc.auto_receipt = stat
    run_connector()

    message = wait_status(tenant, send(tenant, f"Receipt {stat}"), status)

    if status == "undelivered":
        assert message.error_code == stat
        assert f"stat:{stat} err:000" in message.error_message
    # A late or repeated receipt changes nothing.
    smsc.send_receipt(smsc.submits_to(CUSTOMER)[0].message_id, "ACCEPTD")
    assert reload(tenant, message).status == status


def test_a_refused_submit_fails_the_message_with_the_smpp_code(
        tenant, smsc, make_connection, run_connector):
    make_connection()
    smsc.reject_next(codec.ESME_RINVDSTADR)
    run_connector()

    message = wait_status(tenant, send(tenant, "Nobody there"), "failed")

    assert message.error_code == "ESME_RINVDSTADR"
    assert "Invalid Destination Address" in message.error_message
    assert len(smsc.submits_to(CUSTOMER)) == 1


def test_an_mo_from_no_number_nor_sender_id_is_refused_as_an_invalid_source_address(
        tenant, smsc, make_connection, run_connector):
    """Such a sender would become a contact's number; the SMSC drops what it is refused
    with a permanent error rather than resending it."""
    make_connection()
    run_connector()
    smsc.wait_bound()

    assert smsc.send_mo(source="<Bad>!", destination=SENDER[1:], text="Hi") == [
        codec.ESME_RINVSRCADR]
    assert smsc.send_mo(source="ACME", destination=SENDER[1:], text="Hello") == [
        codec.ESME_ROK]

    with schema_context(tenant.schema_name):
        assert [(m.from_address, m.body) for m in Message.objects.filter(
            direction="inbound", sender__address=SENDER)] == [("ACME", "Hello")]


def test_transmitter_and_receiver_binds(tenant, smsc, make_connection, run_connector):
    make_connection(bind_mode="transmitter_receiver")
    run_connector()

    message = wait_status(tenant, send(tenant, "Two binds"), "delivered")

    assert sorted(b[0] for b in smsc.binds) == ["bind_receiver", "bind_transmitter"]
    assert message.provider_message_id == smsc.submits_to(CUSTOMER)[0].message_id


def test_source_ton_npi_follows_the_sender_kind_and_can_be_overridden():
    config = config_from("x", {"host": "h", "port": "2775", "system_id": "s",
                               "password": "p", "ton_npi_short_code": "0/1"})
    assert config.source_ton_npi("alphanumeric") == (5, 0)
    assert config.source_ton_npi("long_code") == (1, 1)
    assert config.source_ton_npi("toll_free") == (1, 1)
    assert config.source_ton_npi("short_code") == (0, 1)
    assert (config.window, config.bind_mode, config.long_messages) == (10, "transceiver", "udh")


@pytest.mark.django_db
def test_bad_smpp_settings_are_refused_when_the_connection_is_added():
    with pytest.raises(ValidationError) as refused:
        connection_add(name="smpp-bad", kind="smpp", settings={
            "host": "h", "port": "99999", "system_id": "s", "password": "p",
            "bind_mode": "receiver", "window": "0", "ton_npi_alphanumeric": "five"})
    text = " ".join(refused.value.messages)
    for key in ("port", "bind_mode", "window", "ton_npi_alphanumeric"):
        assert key in text


def test_long_messages_can_travel_in_message_payload(tenant, smsc, make_connection,
                                                     run_connector):
    make_connection(long_messages="message_payload")
    run_connector()
    body = "A long GSM message with [brackets] and € signs. " * 5

    message = wait_status(tenant, send(tenant, body), "delivered")

    [submit] = smsc.submits_to(CUSTOMER)
    assert (submit.esm_class, submit.data_coding, submit.short_message) == (0, 0, b"")
    assert submit.text == body
    assert message.provider_message_id == submit.message_id


# --- hand-over and the real process -------------------------------------------------------


def test_a_message_handed_over_twice_is_submitted_once(tenant, smsc, make_connection,
                                                      run_connector):
    make_connection()
    message = send(tenant, "Handed over twice")
    # The sweep's resend of a stuck message hands it over again; so may a retried task.
    with schema_context(tenant.schema_name):
        Message.objects.filter(pk=message.pk).update(sending_at="2000-01-01T00:00Z")
        message_deliver(message_id=message.pk)
    run_connector()
    wait_status(tenant, message, "delivered")
    with schema_context(tenant.schema_name):
        Message.objects.filter(pk=message.pk).update(status="sending",
                                                     sending_at="2000-01-01T00:00Z")
        message_deliver(message_id=message.pk)  # after it was sent, too
    time.sleep(0.5)
    assert len(smsc.submits_to(CUSTOMER)) == 1


@pytest.mark.slow
def test_the_management_command_binds_submits_and_unbinds_on_sigterm(
        tenant, smsc, make_connection, process_env):
    make_connection()
    message = send(tenant, "From the real connector process")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "smpp_connector", "--connection", NAME],
        cwd=settings.BASE_DIR, env=process_env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_status(tenant, message, "delivered", timeout=30)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert smsc.unbinds == 1
    assert "smpp connector stopped" in output


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_connection():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no active smpp connection named 'nope'"):
        call_command("smpp_connector", connection="nope")


@pytest.mark.parametrize("claimed", [False, True])
def test_jobs_a_dead_connector_took_are_taken_back_and_never_submitted_twice(
        tenant, smsc, make_connection, run_connector, claimed):
    make_connection()
    message = send(tenant, "Taken by a connector that died")
    jobs, queue, processing = keys(NAME)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.lmove(queue, processing, "RIGHT", "LEFT")  # as its BLMOVE did
    if claimed:  # ... and it may have written the submit_sm before dying
        SmppPart.objects.create(connection=NAME, schema_name=tenant.schema_name,
                                message_id=message.pk, number=1, total=1)
    run_connector()

    if claimed:
        message = wait_status(tenant, message, "failed")
        assert message.error_code == "send_outcome_unknown"
        assert smsc.submits_to(CUSTOMER) == []
    else:
        wait_status(tenant, message, "delivered")
        assert len(smsc.submits_to(CUSTOMER)) == 1
    wait_until(lambda: not client.exists(jobs, queue, processing), 5, "the queue to empty")


@pytest.mark.django_db
def test_make_run_starts_the_connector_only_when_an_smpp_connection_is_active():
    from cpaas.management.commands.run import smpp_connector_child

    assert smpp_connector_child("python") is None
    connection = connection_add(name="smpp-run", kind="smpp", settings={
        "host": "127.0.0.1", "port": "2775", "system_id": "s", "password": "p"})
    child = smpp_connector_child("python")
    assert child.name == "smpp" and child.argv[-1] == "smpp_connector"
    ProviderConnection.objects.filter(pk=connection.pk).update(is_active=False)
    assert smpp_connector_child("python") is None


def test_an_smsc_id_that_comes_round_again_does_not_block_the_connector(
        tenant, smsc, make_connection, run_connector):
    make_connection()
    smsc.auto_receipt = None
    smsc._ids = itertools.repeat(0x5000)  # an SMSC recycling its ids
    run_connector()

    first = wait_status(tenant, send(tenant, "First", to=customer(1)), "sent")
    second = wait_status(tenant, send(tenant, "Second", to=customer(2)), "sent")

    assert (first.provider_message_id, second.provider_message_id) == ("00005000", None)
    # The newer part owns the id now: its receipt delivers the newer message.
    smsc.send_receipt("00005000")
    wait_status(tenant, second, "delivered")
    assert reload(tenant, first).status == "sent"
