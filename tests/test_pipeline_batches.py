"""Batched hand-offs, in-process: sends claimed, sent and recorded a batch at a time, one
token-bucket call per sender, scheduled and canceled messages, and the inbound wake-up
that publishes one task for a burst of webhooks. The same with real worker processes:
tests/test_pipeline_faults.py."""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from core import statistics
from core.rate_limit import tokens_reserve_many
from cpaas.sweeps import tenant_sweep
from messaging import inbound
from messaging.inbound import message_receive_simulated
from messaging.models import Conversation, Message, Sender, SurveyAnswer
from messaging.outbound import (
    OPTOUT_CONFIRMATION,
    message_deliver,
    message_send,
    messages_cancel,
    messages_deliver,
    messages_dispatch,
    messages_send_bulk,
    status_apply,
)
from messaging.providers.base import HTTP_SEND_CONCURRENCY
from messaging.rules import keyword_rule_save
from messaging.surveys import do_survey_start, survey_save
from optout.actions import do_opt_out
from optout.models import OptOut
from tenants.models import MessageRoute, Tenant
from tests.conftest import host_client
from tests.support.db import measured_rows, tenant_data_reset
from tests.support.messaging import (
    ALPHA_NUMBER,
    SIM_NUMBER,
    approved_sender,
    customer_texts,
    twilio_inbound,
    twilio_post,
)


def customers(count: int, start: int = 0) -> list[str]:
    return [f"+1415555{index:04d}" for index in range(start, start + count)]


def bulk(alpha, sender: str, phones: list[str], body: str = "Sale today", **kwargs
         ) -> list[Message]:
    with schema_context(alpha.schema_name):
        return messages_send_bulk(items=[{"from": sender, "to": phone, "body": body}
                                         for phone in phones], origin="api", **kwargs)


def statuses(alpha, messages: list[Message]) -> dict[str, str]:
    with schema_context(alpha.schema_name):
        return dict(Message.objects.filter(pk__in=[m.pk for m in messages])
                    .values_list("to_address", "status"))


def test_a_batch_is_claimed_sent_and_recorded_with_a_few_statements(
        alpha, sim_sender, django_assert_max_num_queries):
    small = bulk(alpha, SIM_NUMBER, customers(2))
    large = bulk(alpha, SIM_NUMBER, customers(50, start=100))
    with schema_context(alpha.schema_name):
        # The statements do not grow with the batch: two messages cost what fifty do.
        with django_assert_max_num_queries(20) as few:
            assert messages_deliver(message_ids=[m.pk for m in small]) == {}
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert messages_deliver(message_ids=[m.pk for m in large]) == {}
        delivered = Message.objects.filter(pk__in=[m.pk for m in small + large])
        assert {m.status for m in delivered} == {"delivered"}
        assert all(m.attempts == 1 and m.sent_at and m.delivered_at for m in delivered)
        # A redelivered task finds nothing left to send.
        assert messages_deliver(message_ids=[m.pk for m in large]) == {}
    routes = MessageRoute.objects.filter(schema_name=alpha.schema_name,
                                         message_id__in=[m.pk for m in large])
    assert routes.count() == 50


def test_http_sends_of_a_batch_overlap_over_few_keep_alive_connections(
        alpha, alpha_twilio_sender, fake_twilio):
    fake_twilio.delay = 0.3
    messages = bulk(alpha, ALPHA_NUMBER, customers(24))
    started = time.monotonic()
    with schema_context(alpha.schema_name):
        assert messages_deliver(message_ids=[m.pk for m in messages]) == {}
    elapsed = time.monotonic() - started
    # One at a time would take 24 x 0.3 s; eight at a time, three rounds.
    assert elapsed < 24 * 0.3 / 3, elapsed
    assert sorted(r.form["To"] for r in fake_twilio.requests) == customers(24)
    assert len({r.client_port for r in fake_twilio.requests}) <= HTTP_SEND_CONCURRENCY
    assert set(statuses(alpha, messages).values()) == {"sent"}
    with schema_context(alpha.schema_name):
        sids = set(Message.objects.filter(pk__in=[m.pk for m in messages])
                   .values_list("provider_message_id", flat=True))
    assert len(sids) == 24 and all(sid.startswith("SM") for sid in sids)


def test_each_message_of_a_batch_gets_its_own_outcome(alpha, alpha_twilio_sender, fake_twilio):
    ok, refused, busy, later = customers(4)
    fake_twilio.answers_to = {
        refused: (400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
        busy: (503, {"code": 20503, "message": "Service unavailable"}),
    }
    messages = bulk(alpha, ALPHA_NUMBER, [ok, refused, busy, later])
    with schema_context(alpha.schema_name):
        retry = messages_deliver(message_ids=[m.pk for m in messages])
        stored = {m.to_address: m for m in Message.objects.filter(
            pk__in=[m.pk for m in messages])}
    assert retry == {stored[busy].pk: 2.0}  # the first backoff
    assert (stored[ok].status, stored[later].status) == ("sent", "sent")
    assert (stored[refused].status, stored[refused].error_code) == ("failed", "21211")
    assert (stored[busy].status, stored[busy].error_code) == ("queued", "20503")
    assert stored[busy].next_attempt_at > timezone.now()


def test_a_stop_after_queueing_stops_only_that_recipients_message(alpha, sim_sender):
    stopper, *others = customers(3)
    messages = bulk(alpha, SIM_NUMBER, [stopper, *others])
    customer_texts(alpha, "STOP", from_=stopper)
    with schema_context(alpha.schema_name):
        messages_deliver(message_ids=[m.pk for m in messages])
        stopped = Message.objects.get(pk=messages[0].pk)
    assert (stopped.status, stopped.error_code) == ("failed", "recipient_opted_out")
    assert stopped.sent_at is None
    assert [statuses(alpha, messages)[phone] for phone in others] == ["delivered"] * 2


def test_a_sender_rate_is_reserved_once_per_batch_and_the_rest_handed_back(alpha):
    approved_sender(alpha, SIM_NUMBER, "simulator", rate_limit=2)
    messages = bulk(alpha, SIM_NUMBER, customers(8))
    started = time.monotonic()
    with schema_context(alpha.schema_name):
        retry = messages_deliver(message_ids=[m.pk for m in messages])
        sent = list(Message.objects.filter(pk__in=[m.pk for m in messages],
                                           status="delivered").order_by("sent_at"))
    # A burst of two, then one every half second up to the 2 s a task may wait.
    assert len(sent) == 6
    assert 1.9 < time.monotonic() - started < 3.5
    gaps = [(b.sent_at - a.sent_at).total_seconds() for a, b in itertools.pairwise(sent[1:])]
    assert all(0.4 < gap < 0.65 for gap in gaps), gaps
    # The two that did not fit come back about when the bucket will have room again.
    assert sorted(retry) == sorted(m.pk for m in messages[6:])
    assert all(0.1 <= delay <= 1.0 for delay in retry.values()), retry
    assert set(statuses(alpha, messages[6:]).values()) == {"queued"}


def test_sends_handed_back_to_wait_skip_the_bulk_backlog(alpha, monkeypatch):
    """What a rate-limited sender could not send within the task's wait goes on the
    ``retries`` queue, which workers take from in turn with ``bulk``: on ``bulk`` it would
    wait behind every batch of another campaign queued meanwhile."""
    from messaging import tasks

    approved_sender(alpha, SIM_NUMBER, "simulator", rate_limit=5)
    messages = bulk(alpha, SIM_NUMBER, customers(20))
    published: list[tuple[list[int], str, float]] = []
    monkeypatch.setattr(tasks.messages_deliver, "apply_async", lambda *, args, queue,
                        countdown, **_: published.append((args[0], queue, countdown)))
    with schema_context(alpha.schema_name):
        tasks.messages_deliver.run([m.pk for m in messages])
    # A burst of five, then one every 0.2 s for the 2 s a task may wait: the rest waits.
    assert [queue for _, queue, _ in published] == ["retries"]
    waiting = published[0][0]
    assert 3 <= len(waiting) <= 6 and waiting == [m.pk for m in messages[-len(waiting):]]
    assert published[0][2] > 0
    assert set(statuses(alpha, messages[-len(waiting):]).values()) == {"queued"}


def test_token_reservations_for_a_batch_go_in_order_and_stop_at_the_wait_limit():
    key = f"test:{uuid.uuid4().hex}"
    waits, retry = tokens_reserve_many(key=key, rate=1, costs=[1, 1, 1, 1], max_wait=2)
    assert [round(w, 1) for w in waits] == [0.0, 1.0, 2.0] and 2.9 < retry < 3.1
    # What did not fit took nothing: the next caller waits from where the batch stopped.
    waits, retry = tokens_reserve_many(key=key, rate=1, costs=[1], max_wait=5)
    assert 2.9 < waits[0] < 3.1 and retry is None


def test_a_message_longer_than_the_burst_still_leaves():
    # Ten segments on a one-per-second sender: it waits for a full bucket, then the debt
    # holds back whoever comes next (a wait limit of 2 s must not refuse it for ever).
    key = f"test:{uuid.uuid4().hex}"
    waits, retry = tokens_reserve_many(key=key, rate=1, costs=[10], max_wait=2)
    assert waits == [0.0] and retry is None
    waits, retry = tokens_reserve_many(key=key, rate=1, costs=[1], max_wait=2)
    assert waits == [] and 9.9 < retry < 10.1


def test_a_scheduled_message_waits_for_its_time_then_leaves(alpha, sim_sender,
                                                            django_capture_on_commit_callbacks):
    later = timezone.now() + timedelta(hours=1)
    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks() as hooks:
        message = message_send(from_address=SIM_NUMBER, to=customers(1)[0], body="Tomorrow",
                               origin="api", send_at=later)
        held = message_send(from_address=SIM_NUMBER, to=customers(1)[0], body="Held",
                            origin="api", send_at=later)
        Message.objects.filter(pk=held.pk).update(scheduled_for=None)  # a paused campaign
    assert (message.status, message.scheduled_for) == ("scheduled", later)
    assert len(hooks) == 2  # the inbox bumps only: nothing was enqueued
    with schema_context(alpha.schema_name):
        # Its task, if one came, sends nothing before it is due; nor does the sweep.
        assert message_deliver(message_id=message.pk) is None
        tenant_sweep(schema=alpha.schema_name)
        assert Message.objects.get(pk=message.pk).status == "scheduled"
        Message.objects.filter(pk=message.pk).update(
            scheduled_for=timezone.now() - timedelta(seconds=1))
        with django_capture_on_commit_callbacks(execute=False):
            tenant_sweep(schema=alpha.schema_name)
        assert Message.objects.get(pk=message.pk).status == "queued"
        assert Message.objects.get(pk=held.pk).status == "scheduled"
        assert message_deliver(message_id=message.pk) is None
        assert Message.objects.get(pk=message.pk).status == "delivered"


def test_a_canceled_message_never_leaves(alpha, sim_sender):
    queued, scheduled, gone = bulk(alpha, SIM_NUMBER, customers(3))
    with schema_context(alpha.schema_name):
        Message.objects.filter(pk=scheduled.pk).update(
            status="scheduled", scheduled_for=timezone.now() - timedelta(seconds=1))
        message_deliver(message_id=gone.pk)
        canceled = messages_cancel(message_ids=[queued.pk, scheduled.pk, gone.pk])
        assert sorted(canceled) == sorted([queued.pk, scheduled.pk])  # not what has left
        Message.objects.filter(pk__in=canceled).update(
            updated_at=timezone.now() - timedelta(hours=1))
        tenant_sweep(schema=alpha.schema_name)
        assert messages_deliver(message_ids=[queued.pk, scheduled.pk]) == {}
        # A late provider callback cannot bring one back either.
        assert not status_apply(message_id=queued.pk, status="delivered")
    assert statuses(alpha, [queued, scheduled, gone]) == {
        queued.to_address: "canceled", scheduled.to_address: "canceled",
        gone.to_address: "delivered"}


def test_the_api_lists_scheduled_and_canceled_messages(alpha, sim_sender, api):
    first, second = bulk(alpha, SIM_NUMBER, customers(2),
                         send_at=timezone.now() + timedelta(days=1))
    with schema_context(alpha.schema_name):
        messages_cancel(message_ids=[second.pk])
    listed = api.get("messages", status="scheduled").json()["results"]
    assert [(m["id"], m["status"]) for m in listed] == [(first.pk, "scheduled")]
    listed = api.get("messages", status="canceled").json()["results"]
    assert [(m["id"], m["status"]) for m in listed] == [(second.pk, "canceled")]


@pytest.fixture
def no_broker(alpha, monkeypatch) -> list[str]:
    """Count the processing tasks the webhooks publish, instead of publishing them."""
    published: list[str] = []
    monkeypatch.setattr(inbound, "inbound_drain_enqueue",
                        lambda *, schema: published.append(schema))
    inbound._redis().delete(inbound._wake_key(alpha.schema_name))
    yield published
    inbound._wakes.flush()
    inbound._redis().delete(inbound._wake_key(alpha.schema_name))


@pytest.fixture
def ungathered(monkeypatch) -> None:
    """Every wake-up made at once, as in a process that wakes a tenant rarely."""
    monkeypatch.setattr(inbound, "WAKE_GATHER_SECONDS", 0.0)


@pytest.fixture
def webhook(fake_twilio, django_capture_on_commit_callbacks):
    """POST a signed inbound webhook; its commit callbacks run, as after a real commit."""
    client = host_client(settings.BASE_DOMAIN)

    def post(sid: str, **params) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = twilio_post(client, "/webhooks/twilio-test/inbound",
                                   twilio_inbound(sid, **params), fake_twilio.token)
        assert response.status_code == 200

    return post


def test_a_burst_of_webhooks_publishes_one_task_and_the_task_takes_them_all(
        alpha, alpha_twilio_sender, no_broker, ungathered, webhook, monkeypatch):
    # A loaded machine may take more than the drain's time slice for five messages.
    monkeypatch.setattr(inbound, "DRAIN_SECONDS", 60.0)
    for number in range(5):
        webhook(f"SM{number:032d}", from_=f"+1415555{number:04d}")
    assert no_broker == [alpha.schema_name]
    with schema_context(alpha.schema_name):
        assert inbound.messages_process_pending() == 5
        assert set(Message.objects.values_list("status", flat=True)) == {"processed"}
    # The task cleared the wake-up before claiming: the next message publishes again.
    webhook("SM" + "9" * 32, body="one more")
    assert no_broker == [alpha.schema_name] * 2


def test_a_lost_wake_up_is_replaced_once_it_expires(alpha, alpha_twilio_sender, no_broker,
                                                   ungathered, webhook, monkeypatch):
    monkeypatch.setattr(inbound, "WAKE_TTL_MS", 200)
    webhook("SM" + "1" * 32)
    time.sleep(0.3)  # the task never started (a worker killed before it took it)
    webhook("SM" + "2" * 32)
    assert no_broker == [alpha.schema_name] * 2


def _redis_sets() -> int:
    return inbound._redis().info("commandstats").get("cmdstat_set", {}).get("calls", 0)


def test_wake_ups_close_together_share_one_redis_call_and_none_is_lost(alpha, no_broker,
                                                                      monkeypatch):
    monkeypatch.setattr(inbound, "WAKE_GATHER_SECONDS", 0.2)
    inbound._wakes.flush()
    inbound._wakes._last.clear()
    sets = _redis_sets()
    # The first of a burst wakes at once, the rest of it is gathered.
    for _ in range(50):
        inbound.inbound_wake_soon(schema=alpha.schema_name)
    assert no_broker == [alpha.schema_name]
    # The task clears the wake-up before its last claim; a message committed after that
    # must wake another, though it comes within the gathering time.
    inbound._redis().delete(inbound._wake_key(alpha.schema_name))
    inbound.inbound_wake_soon(schema=alpha.schema_name)
    deadline = time.monotonic() + 5
    while len(no_broker) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert no_broker == [alpha.schema_name] * 2
    # Fifty-one wake-ups asked Redis twice: at once, then once for the gathered ones.
    assert _redis_sets() - sets == 2


def test_sends_to_a_paused_sender_fail_and_the_batch_goes_on(alpha, sim_sender):
    approved_sender(alpha, "+14155550177", "simulator")
    kept = bulk(alpha, SIM_NUMBER, customers(2))
    paused = bulk(alpha, "+14155550177", customers(2, start=10))
    with schema_context(alpha.schema_name):
        Sender.objects.filter(address="+14155550177").update(status="suspended")
        messages_deliver(message_ids=[m.pk for m in kept + paused])
        failed = Message.objects.filter(pk__in=[m.pk for m in paused])
        assert {(m.status, m.error_code) for m in failed} == {("failed", "sender_not_approved")}
    assert set(statuses(alpha, kept).values()) == {"delivered"}


def test_a_message_that_fails_to_process_does_not_hold_up_the_others(
        alpha, alpha_twilio_sender, no_broker, webhook, monkeypatch):
    for number, body in enumerate(["first", "poison", "third"]):
        webhook(f"SM{number:032d}", body=body, from_=f"+1415555{number:04d}")
    react = inbound.message_react

    def failing(*, message: Message, **context) -> None:
        if message.body == "poison":
            raise RuntimeError("a bug in an automation step")
        react(message=message, **context)

    # The three are claimed as one batch; the poison fails it, and each goes again alone.
    monkeypatch.setattr(inbound, "message_react", failing)
    with schema_context(alpha.schema_name):
        assert inbound.messages_process_pending() == 2
        assert dict(Message.objects.values_list("body", "status")) == {
            "first": "processed", "poison": "received", "third": "processed"}


def test_a_burst_of_customers_is_processed_with_a_few_statements(
        alpha, sim_sender, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(inbound, "DRAIN_SECONDS", 60.0)
    with schema_context(alpha.schema_name):
        for phone in customers(50):
            message_receive_simulated(from_address=phone, to=SIM_NUMBER, body="Hello")
        # One message at a time cost eleven statements each; a batch costs about that
        # for all fifty.
        with django_assert_max_num_queries(40):
            assert inbound.messages_process_pending() == 50
        assert set(Message.objects.values_list("status", flat=True)) == {"processed"}
        assert Conversation.objects.filter(unread_count=1).count() == 50


def test_bursts_have_the_tables_they_grew_measured_again(alpha, sim_sender, monkeypatch):
    """A new tenant's tables are measured empty; a burst of new customers' texts, or a bulk
    send, grows them faster than autovacuum measures them, and the contacts of every
    batch were then looked up with a scan of the whole table."""
    monkeypatch.setattr(inbound, "DRAIN_SECONDS", 60.0)
    monkeypatch.setattr(statistics, "MIN_PAGES", 0)  # a test's rows fill a page or two
    with schema_context(alpha.schema_name):
        with connection.cursor() as cursor:  # as new (earlier tests left dead rows)
            cursor.execute("TRUNCATE messaging_contact, messaging_conversation, "
                           "messaging_message CASCADE")
            cursor.execute("ANALYZE messaging_contact, messaging_conversation, "
                           "messaging_message")
        message_receive_simulated(from_address=customers(1, start=900)[0], to=SIM_NUMBER,
                                  body="Hello")
        assert inbound.messages_process_pending() == 1
        assert measured_rows("messaging_contact") == 0  # a lone text is not a burst
        for phone in customers(inbound.GROWTH_BATCH):
            message_receive_simulated(from_address=phone, to=SIM_NUMBER, body="Hello")
        assert inbound.messages_process_pending() == inbound.GROWTH_BATCH
        assert measured_rows("messaging_contact") == inbound.GROWTH_BATCH + 1
        assert measured_rows("messaging_conversation") == inbound.GROWTH_BATCH + 1
    sent = bulk(alpha, SIM_NUMBER, customers(200, start=100))
    with schema_context(alpha.schema_name):
        messages_dispatch(message_ids=[m.pk for m in sent])
        assert set(Message.objects.filter(pk__in=[m.pk for m in sent])
                   .values_list("status", flat=True)) == {"delivered"}
        assert measured_rows("messaging_message") == Message.objects.count() > 200


def test_a_failed_measure_fails_nothing_around_it(alpha, sim_sender, caplog):
    """Measuring is best effort after the batch's work is done: an error is logged and
    rolled back on its own, and the caller's transaction goes on."""
    missing = SimpleNamespace(_meta=SimpleNamespace(db_table="no_such_table"))
    with schema_context(alpha.schema_name):
        assert statistics.statistics_refresh(models=(missing, Message)) == []
        assert "could not measure no_such_table, messaging_message" in caplog.text
        assert Message.objects.count() >= 0  # the test's transaction is still usable


def test_a_burst_answers_each_customer_by_their_own_state_and_in_their_order(
        alpha, sim_sender, monkeypatch, caplog):
    monkeypatch.setattr(inbound, "DRAIN_SECONDS", 60.0)
    asking, opted_out, surveyed, stopping = customers(4)
    with schema_context(alpha.schema_name):
        keyword_rule_save(keyword="HOURS", reply="We open at nine.")
        do_opt_out(phone=opted_out, source="api")
        survey = survey_save(name="Taste", questions=[{"kind": "text", "text": "Why?"},
                                                      {"kind": "text", "text": "And?"}])
        do_survey_start(survey=survey, phone=surveyed, sender_address=SIM_NUMBER)
        first_reply = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
        for phone, body in [(asking, "HOURS"), (opted_out, "HOURS"), (surveyed, "HOURS"),
                            (stopping, "STOP"), (stopping, "START"), (asking, "HOURS")]:
            message_receive_simulated(from_address=phone, to=SIM_NUMBER, body=body)
        assert inbound.messages_process_pending() == 6

        replies = Message.objects.filter(direction="outbound", pk__gt=first_reply)
        sent = [(m.to_address, m.body) for m in replies.order_by("pk")]
        assert [body for to, body in sent if to == asking] == ["We open at nine."] * 2
        assert [to for to, _ in sent if to == opted_out] == []
        # In the survey, the word is its answer: the rule does not run, the next question
        # is asked.
        assert [body for to, body in sent if to == surveyed] == ["And?"]
        assert SurveyAnswer.objects.filter(session__contact__phone=surveyed,
                                           value="HOURS").exists()
        # STOP then START from one customer: answered in the order they were sent.
        assert [m.origin_ref for m in replies.filter(to_address=stopping).order_by("pk")] == [
            OPTOUT_CONFIRMATION, "optout:opt_in"]
        assert not OptOut.objects.filter(phone=stopping).exists()
        assert Conversation.objects.get(contact__phone=asking).unread_count == 2
    # Taken in batches, not message by message after a failed batch.
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def test_a_batch_s_replies_leave_from_its_own_process_and_never_wait_for_a_rate(
        committed_db, monkeypatch):
    """The inbound task sends its automatic replies itself once its batch commits, so
    they do not wait for a worker process behind a campaign's batches; what the sender's
    rate does not let go at once goes to the ``retries`` queue instead of holding the
    task. Committed for real: the replies leave after the batch's commit."""
    from messaging import tasks

    alpha = Tenant.objects.get(slug="alpha")
    monkeypatch.setattr(inbound, "DRAIN_SECONDS", 60.0)
    published: list[tuple[list[int], str]] = []
    monkeypatch.setattr(tasks.messages_deliver, "apply_async", lambda *, args, queue, **_:
                        published.append((args[0], queue)))
    monkeypatch.setattr(inbound, "inbound_drain_enqueue", lambda *, schema: None)
    try:
        sender = approved_sender(alpha, SIM_NUMBER, "simulator", rate_limit=2)
        inbound._redis().delete(f"ratelimit:{alpha.schema_name}:{sender.pk}")
        with schema_context(alpha.schema_name):
            keyword_rule_save(keyword="HOURS", reply="We open at nine.")
            for phone in customers(3):
                message_receive_simulated(from_address=phone, to=SIM_NUMBER, body="HOURS")
            started = time.monotonic()
            assert inbound.messages_process_pending() == 3
            elapsed = time.monotonic() - started
            replies = dict(Message.objects.filter(direction="outbound")
                           .values_list("pk", "status"))
        # A burst of two at 2 segments/s: two delivered at once, the third handed back.
        assert sorted(replies.values()) == ["delivered", "delivered", "queued"]
        waiting = [pk for pk, status in replies.items() if status == "queued"]
        assert published == [(waiting, "retries")]
        assert elapsed < 1.0  # the task did not wait the half second for the next token
    finally:
        tenant_data_reset(alpha)
