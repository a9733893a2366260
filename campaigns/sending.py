"""Campaigns: drafts, and sending them (docs/ARCHITECTURE.md#campaigns).

``draft`` -> ``scheduled`` (``send_at`` ahead) -> ``sending`` -> ``completed``, with
``paused`` and ``canceled`` on the way. Starting only checks and flips the state, then
enqueues ``campaign_send``: the answer takes the same time for ten recipients or a
hundred thousand. That task resolves the audience in chunks by contact id
(``campaigns.audience``), renders each chunk and stores its messages through the outbound
pipeline (``messages_queue``: ordinary messages with the campaign's id, enqueued in
batches on commit). Each chunk commits with the campaign's cursor under the campaign's
row lock, so a redelivered or doubled task resumes where the last commit left off and no
recipient gets two messages.

Every state change takes the campaign's row lock, and so does each chunk: a pause or a
cancel is never half-applied to a chunk being written.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns import error_codes
from campaigns.audience import (
    QUOTA_EXCEEDED,
    CampaignRenderer,
    Rendered,
    audience_chunk,
    audience_exists,
)
from campaigns.error_codes import CampaignError
from campaigns.events import campaign_completed_emit
from campaigns.models import Campaign, SubscriberList, default_quiet_hours
from campaigns.quiet_hours import QuietHours, quiet_hours_parse
from core.phones import inbound_address
from core.statistics import statistics_refresh
from messaging.automation import tenant_profile
from messaging.models import Conversation, Message, Sender
from messaging.outbound import (
    CAMPAIGN_DELIVER_BATCH,
    messages_cancel,
    messages_enqueue,
    messages_held,
    messages_hold,
    messages_queue,
    messages_unhold,
)
from messaging.quota import quota_reserve
from messaging.templating import template_compile, template_validate

logger = logging.getLogger(__name__)

Status = Campaign.Status
# Contacts resolved, rendered and stored per transaction.
CHUNK = 5000
# Held messages given their time back per transaction on resume.
UNHOLD_CHUNK = 10000
RUNNING = (Status.SCHEDULED, Status.SENDING, Status.PAUSED)
WAITING = [Message.Status.SCHEDULED, Message.Status.QUEUED]
# A canceled campaign's messages ended ``canceled`` per transaction: the cancel request's
# share, then each of its task's.
WITHDRAW_CHUNK = 5000
# The messages no send task claims (``messaging.outbound.claim_refusal_register``): those
# of a canceled campaign, until ``campaign_withdraw`` ends them.
WITHDRAWN = (f"EXISTS (SELECT 1 FROM {Campaign._meta.db_table} AS c "  # noqa: S608
             f"WHERE c.id = {{message}}.campaign_id AND c.status = '{Status.CANCELED}')")
_UNSET: Any = object()


def _invalid_state(campaign: Campaign, action: str) -> CampaignError:
    return CampaignError(error_codes.INVALID_STATE,
                         f"A {campaign.status} campaign cannot be {action}.", "status")


def _sender(address: str) -> Sender:
    """The tenant's approved sender at ``address`` (``unknown_sender``,
    ``sender_not_approved``)."""
    sender = Sender.objects.filter(address=inbound_address(address or "")).first()
    if sender is None:
        raise CampaignError(error_codes.UNKNOWN_SENDER,
                            f"{address!r} is not one of your senders.", "sender")
    if sender.status != Sender.Status.APPROVED:
        raise CampaignError(error_codes.SENDER_NOT_APPROVED,
                            f"{sender.address} is {sender.status}; only approved senders "
                            "send.", "sender")
    return sender


def _body(body: str) -> str:
    if not (body or "").strip():
        raise CampaignError(error_codes.EMPTY_BODY, "The message body is empty.", "body")
    template_validate(body, field="body")
    blank = template_compile(body)(contact_name="", contact_phone="", contact_fields={},
                                   sender="")
    if not blank.strip():
        raise CampaignError(error_codes.EMPTY_BODY,
                            "The body renders empty for a contact without a name or fields: "
                            'add some text or a default ({{ contact.name | default: "there" '
                            "}}).", "body")
    return body


def _audience(audience: object) -> dict:
    if not isinstance(audience, dict) or not set(audience) <= {"lists", "tags"}:
        raise CampaignError(error_codes.INVALID_AUDIENCE,
                            'Give the audience as {"lists": [ids], "tags": [names]}.',
                            "audience")
    lists, tags = audience.get("lists") or [], audience.get("tags") or []
    if (not isinstance(lists, list) or not isinstance(tags, list)
            or not all(isinstance(pk, int) and not isinstance(pk, bool) for pk in lists)
            or not all(isinstance(tag, str) and tag.strip() for tag in tags)):
        raise CampaignError(error_codes.INVALID_AUDIENCE,
                            "audience.lists holds list ids and audience.tags tag names.",
                            "audience")
    lists = sorted(set(lists))
    known = set(SubscriberList.objects.filter(pk__in=lists).values_list("pk", flat=True))
    missing = [pk for pk in lists if pk not in known]
    if missing:
        raise CampaignError(error_codes.UNKNOWN_LIST,
                            f"No list with id {missing[0]}.", "audience")
    return {"lists": lists, "tags": sorted({tag.strip() for tag in tags})}


def _times(send_at: datetime | None, expires_at: datetime | None, now: datetime, *,
           send_at_given: bool = True) -> None:
    if send_at_given and send_at is not None and send_at <= now:
        raise CampaignError(error_codes.SEND_AT_IN_PAST,
                            "send_at is in the past: leave it out to send when started.",
                            "send_at")
    if expires_at is not None and expires_at <= max(send_at or now, now):
        raise CampaignError(error_codes.INVALID_EXPIRY,
                            "expires_at must come after the send time.", "expires_at")


def campaign_create(*, name: str, sender: str, body: str, audience: dict,
                    send_at: datetime | None = None, expires_at: datetime | None = None,
                    quiet_hours: dict | None = _UNSET, frequency_cap_hours: int | None = None,
                    track_links: bool = False, actor=None, actor_label: str = "",
                    now: datetime | None = None) -> Campaign:
    """A ``draft``. ``quiet_hours`` left out is 08:00-21:00 recipient-local; None turns
    them off. Raises ``CampaignError``/``TemplateError`` with the field at fault."""
    now = now or timezone.now()
    name = (name or "").strip()
    if not name:
        raise CampaignError(error_codes.INVALID_NAME, "Give the campaign a name.", "name")
    values = {
        "name": name[:200], "sender": _sender(sender), "body": _body(body),
        "audience": _audience(audience), "send_at": send_at, "expires_at": expires_at,
        "quiet_hours": quiet_hours_parse(default_quiet_hours() if quiet_hours is _UNSET
                                         else quiet_hours),
        "frequency_cap_hours": frequency_cap_hours or None, "track_links": bool(track_links),
    }
    _times(send_at, expires_at, now)
    return Campaign.objects.create(**values, created_by=actor, actor_label=actor_label)


def campaign_update(*, campaign_id: int, now: datetime | None = None, **changes) -> Campaign:
    """Change a draft (the fields of ``campaign_create``); ``invalid_state`` once started."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != Status.DRAFT:
            raise _invalid_state(campaign, "edited")
        checks = {"name": lambda v: (v or "").strip()[:200], "sender": _sender, "body": _body,
                  "audience": _audience, "quiet_hours": quiet_hours_parse,
                  "frequency_cap_hours": lambda v: v or None, "track_links": bool,
                  "send_at": lambda v: v, "expires_at": lambda v: v}
        for field, value in changes.items():
            setattr(campaign, field, checks[field](value))
        if not campaign.name:
            raise CampaignError(error_codes.INVALID_NAME, "Give the campaign a name.", "name")
        if {"send_at", "expires_at"} & set(changes):
            # A send time that has passed since it was saved is checked only when given.
            _times(campaign.send_at, campaign.expires_at, now,
                   send_at_given="send_at" in changes)
        campaign.save()
    return campaign


def campaign_delete(*, campaign_id: int) -> None:
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != Status.DRAFT:
            raise _invalid_state(campaign, "deleted")
        campaign.delete()


def _locked(campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().select_related("sender").get(pk=campaign_id)


def campaign_start(*, campaign_id: int, now: datetime | None = None) -> Campaign:
    """``draft`` -> ``scheduled`` (``send_at`` ahead; the sweep starts it then) or
    ``sending``, with ``campaign_send`` enqueued on commit. Checks the sender again and
    that someone can be texted (one ``EXISTS``); nothing is resolved here."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != Status.DRAFT:
            raise _invalid_state(campaign, "started")
        _sender(campaign.sender.address)
        if not audience_exists(campaign=campaign):
            raise CampaignError(error_codes.EMPTY_AUDIENCE,
                                "Nobody in the audience can be texted: the lists have no "
                                "subscribed members and no contact has the tags (or all of "
                                "them opted out).", "audience")
        if campaign.send_at and campaign.send_at > now:
            campaign.status = Status.SCHEDULED
        else:
            _begin(campaign, now)
        campaign.save(update_fields=["status", "started_at", "updated_at"])
    return campaign


def _begin(campaign: Campaign, now: datetime) -> None:
    campaign.status, campaign.started_at = Status.SENDING, now
    schema = db_connection.schema_name
    transaction.on_commit(lambda: campaign_send_enqueue(campaign.pk, schema=schema))


def campaign_send_enqueue(campaign_id: int, *, schema: str) -> None:
    from campaigns.tasks import campaign_send as task

    try:
        task.apply_async(args=[campaign_id], headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; campaign %s in %s left to the sweep",
                       campaign_id, schema, exc_info=True)


def campaign_pause(*, campaign_id: int) -> Campaign:
    """``scheduled``/``sending`` -> ``paused``: every message not yet claimed by a send
    task is held (``messages_hold``) in the same transaction, so nothing more leaves once
    it commits; sends already claimed finish."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status not in (Status.SCHEDULED, Status.SENDING):
            raise _invalid_state(campaign, "paused")
        campaign.status = Status.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
        messages_hold(campaign_id=campaign.pk)
    return campaign


def campaign_resume(*, campaign_id: int, now: datetime | None = None) -> Campaign:
    """``paused`` -> ``sending`` (or back to ``scheduled`` when it had not begun and
    ``send_at`` is still ahead). ``campaign_send`` gives the held messages their time back
    (now, or their next quiet-hours window) and goes on with the audience."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status != Status.PAUSED:
            raise _invalid_state(campaign, "resumed")
        if campaign.started_at is None and campaign.send_at and campaign.send_at > now:
            campaign.status = Status.SCHEDULED
        elif campaign.started_at is None:
            _begin(campaign, now)
        else:
            campaign.status = Status.SENDING
            schema = db_connection.schema_name
            transaction.on_commit(lambda: campaign_send_enqueue(campaign.pk, schema=schema))
        campaign.save(update_fields=["status", "started_at", "updated_at"])
    return campaign


def campaign_cancel(*, campaign_id: int) -> Campaign:
    """-> ``canceled``: every message that has not left ends ``canceled``; the audience
    task stops at its next chunk.

    The first ``WITHDRAW_CHUNK`` messages end ``canceled`` in this transaction, the rest in
    ``campaign_withdraw`` after it commits: every message takes a write to each of its
    indexes, and a hundred thousand of them took longer than a web request may
    (docs/ARCHITECTURE.md#campaigns). Meanwhile no send task claims a canceled campaign's
    messages (``WITHDRAWN``), and the sweep finishes a withdrawal whose task was lost."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if campaign.status not in RUNNING:
            raise _invalid_state(campaign, "canceled")
        campaign.status = Status.CANCELED
        campaign.save(update_fields=["status", "updated_at"])
        if _cancel_waiting(campaign.pk, WAITING, limit=WITHDRAW_CHUNK) == WITHDRAW_CHUNK:
            schema = db_connection.schema_name
            transaction.on_commit(lambda: campaign_withdraw_enqueue(campaign.pk, schema=schema))
    return campaign


def campaign_withdraw(*, campaign_id: int) -> int:
    """The ``campaign_withdraw`` task: end what still waits of a canceled campaign
    ``canceled``, ``WITHDRAW_CHUNK`` messages per transaction; return how many."""
    withdrawn = 0
    while True:
        with transaction.atomic():
            if _locked(campaign_id).status != Status.CANCELED:
                return withdrawn
            count = _cancel_waiting(campaign_id, WAITING, limit=WITHDRAW_CHUNK)
        withdrawn += count
        if count < WITHDRAW_CHUNK:
            return withdrawn


def campaign_withdraw_enqueue(campaign_id: int, *, schema: str) -> None:
    from campaigns.tasks import campaign_withdraw as task

    try:
        task.apply_async(args=[campaign_id], headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("broker unavailable; withdrawal of campaign %s in %s left to the "
                       "sweep", campaign_id, schema, exc_info=True)


def _cancel_waiting(campaign_id: int, statuses: list[str], *, limit: int | None = None) -> int:
    ids = Message.objects.filter(
        campaign_id=campaign_id, direction=Message.Direction.OUTBOUND, status__in=statuses,
    ).order_by("pk").values_list("pk", flat=True)
    ids = list(ids[:limit] if limit else ids)
    return len(messages_cancel(message_ids=ids)) if ids else 0


def campaign_send(*, campaign_id: int, now: datetime | None = None) -> None:
    """The ``campaign_send`` task: give held messages their time back, then resolve,
    render and store the next chunk of the audience, and enqueue itself for the one after
    (a task per chunk: between chunks the worker process takes the customers' texts and
    replies waiting for it, instead of holding them for the whole audience); complete the
    campaign once nothing is left to send. Safe to run twice or concurrently. ``now``
    (tests) is the clock quiet hours are judged by."""
    campaign = Campaign.objects.select_related("sender").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in (Status.SENDING, Status.PAUSED):
        return
    if campaign.status == Status.SENDING:
        _unhold(campaign, now=now)
    if campaign.audience_done_at is None:
        renderer = CampaignRenderer(campaign, now=now)
        cursor = campaign.audience_cursor
        rows = audience_chunk(campaign=campaign, after=cursor, size=CHUNK)
        # Tracked links write their rows as they are rendered: then rendering belongs in
        # the chunk's transaction, else it is done before the lock is taken.
        rendered = None if campaign.track_links else renderer.chunk(rows)
        with transaction.atomic():
            current = _locked(campaign_id)
            if current.status not in (Status.SENDING, Status.PAUSED):
                return
            # Otherwise another copy of the task stored this chunk first, and that copy
            # goes on with the next.
            stored = current.audience_cursor == cursor and current.audience_done_at is None
            if stored:
                _store_chunk(current, rows, rendered or renderer.chunk(rows), renderer)
        if stored:
            # A new tenant's first campaign grows these tables many times over.
            statistics_refresh(models=(Message, Conversation))
        if current.audience_done_at is None:
            if stored:
                campaign_send_enqueue(campaign_id, schema=db_connection.schema_name)
            return
    campaign_complete_if_done(campaign_id=campaign_id)


def _store_chunk(campaign: Campaign, rows: list[tuple],
                 chunk: tuple[list[Rendered], Counter], renderer: CampaignRenderer) -> None:
    """Store one chunk's messages and move the cursor past it, in the caller's
    transaction (which holds the campaign's lock). Past ``expires_at`` nothing more is
    stored."""
    now = timezone.now()
    rendered, skipped = chunk
    if campaign.expires_at and campaign.expires_at <= now:
        rendered, skipped, rows = [], Counter(), []
    if rendered:
        # The plan's monthly segments are taken in this transaction: what does not fit is
        # skipped, not queued (docs/ARCHITECTURE.md#plans-and-quotas).
        fits = quota_reserve(costs=[item.analysis.segments for item in rendered])
        if not all(fits):
            skipped[QUOTA_EXCEEDED] += fits.count(False)
            rendered = [item for item, fit in zip(rendered, fits, strict=True) if fit]
    if rendered:
        # The contacts were read under no lock: one deleted since fails the chunk, and the
        # sweep's next run of the task reads the audience again.
        messages_queue(drafts=renderer.drafts(rendered), origin=Message.Origin.CAMPAIGN,
                       campaign_id=campaign.pk,
                       contact_ids={item.phone: item.contact_id for item in rendered})
        if campaign.status == Status.PAUSED:
            messages_hold(campaign_id=campaign.pk)
    counts = dict(campaign.skipped)
    for reason, count in skipped.items():
        counts[reason] = counts.get(reason, 0) + count
    campaign.skipped = counts
    campaign.recipients = F("recipients") + len(rendered)
    if rows:
        campaign.audience_cursor = rows[-1][0]
    if len(rows) < CHUNK:
        campaign.audience_done_at = now
    campaign.save(update_fields=["skipped", "recipients", "audience_cursor",
                                 "audience_done_at", "updated_at"])
    campaign.refresh_from_db(fields=["recipients"])


def _unhold(campaign: Campaign, *, now: datetime | None) -> None:
    """Held messages -> ``queued`` now, or ``scheduled`` for the recipient's next window;
    a chunk per transaction under the campaign's lock, which a new pause waits for."""
    quiet = (QuietHours(campaign.quiet_hours, now=now or timezone.now(),
                        fallback_zone=str(tenant_profile().timezone))
             if campaign.quiet_hours else None)
    schema = db_connection.schema_name
    while True:
        with transaction.atomic():
            current = _locked(campaign.pk)
            if current.status != Status.SENDING:
                return
            held = messages_held(campaign_id=campaign.pk, limit=UNHOLD_CHUNK)
            if not held:
                return
            at = timezone.now()
            times = [(quiet.wait_until(phone) if quiet else None) or at for _, phone in held]
            queued = messages_unhold(message_ids=[pk for pk, _ in held], times=times, now=at)
            transaction.on_commit(lambda ids=queued: messages_enqueue(
                ids, schema=schema, batch=CAMPAIGN_DELIVER_BATCH))


def campaign_complete_if_done(*, campaign_id: int, now: datetime | None = None) -> bool:
    """``completed`` (and ``campaign.completed``) once the audience is stored and none of
    the campaign's messages is ``scheduled``, ``queued`` or ``sending``."""
    with transaction.atomic():
        campaign = _locked(campaign_id)
        if (campaign.status not in (Status.SENDING, Status.PAUSED)
                or campaign.audience_done_at is None
                or Message.objects.filter(
                    campaign_id=campaign_id, direction=Message.Direction.OUTBOUND,
                    status__in=[Message.Status.SCHEDULED, Message.Status.QUEUED,
                                Message.Status.SENDING]).exists()):
            return False
        campaign.status, campaign.completed_at = Status.COMPLETED, now or timezone.now()
        campaign.save(update_fields=["status", "completed_at", "updated_at"])
        campaign_completed_emit(campaign=campaign)
    return True


def campaigns_advance(*, now: datetime, stale_before: datetime) -> list[int]:
    """The sweep's part: start scheduled campaigns whose time has come, cancel what still
    waits in expired ones, complete those with nothing left, and return the campaigns
    whose ``campaign_send`` is due again (started now, or quiet since ``stale_before``
    with work left). Canceled campaigns quiet since ``stale_before`` with messages still
    waiting lost their ``campaign_withdraw``: it is enqueued again."""
    due: list[int] = []
    for campaign_id in Campaign.objects.filter(status=Status.SCHEDULED,
                                               send_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            campaign = _locked(campaign_id)
            if campaign.status == Status.SCHEDULED:
                campaign.status, campaign.started_at = Status.SENDING, now
                campaign.save(update_fields=["status", "started_at", "updated_at"])
                due.append(campaign_id)
    for campaign in Campaign.objects.filter(status__in=[Status.SENDING, Status.PAUSED]):
        if campaign.expires_at and campaign.expires_at <= now:
            with transaction.atomic():
                if _locked(campaign.pk).status in (Status.SENDING, Status.PAUSED):
                    _cancel_waiting(campaign.pk, [Message.Status.SCHEDULED])
        if campaign_complete_if_done(campaign_id=campaign.pk, now=now):
            continue
        if (campaign.status == Status.SENDING and campaign.updated_at < stale_before
                and (campaign.audience_done_at is None
                     or messages_held(campaign_id=campaign.pk, limit=1))):
            due.append(campaign.pk)
    for campaign_id in (Message.objects.filter(
            direction=Message.Direction.OUTBOUND, status__in=WAITING,
            campaign_id__in=Campaign.objects.filter(
                status=Status.CANCELED, updated_at__lt=stale_before).values("pk"))
            .order_by("campaign_id").values_list("campaign_id", flat=True).distinct()):
        campaign_withdraw_enqueue(campaign_id, schema=db_connection.schema_name)
    return due

