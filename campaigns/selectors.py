"""Reads of the subscription lists."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from campaigns import links
from campaigns.models import (
    Campaign,
    ListConsentEvent,
    ListImport,
    SubscriberList,
    Subscription,
)
from core.spreadsheets import cell_defuse
from messaging.models import Contact, Message
from optout.models import ConsentEvent
from optout.selectors import consent_history

Status = Subscription.Status


def list_list() -> QuerySet[SubscriberList]:
    """Lists, newest first, each with its members counted by status (``pending``,
    ``subscribed``, ``unsubscribed``): one grouped query on the membership index."""
    return SubscriberList.objects.annotate(**{
        status: Count("subscriptions", filter=Q(subscriptions__status=status))
        for status in Status.values
    }).order_by("-id")


def list_counts(subscriber_list: SubscriberList) -> dict[str, int]:
    """``{pending, subscribed, unsubscribed}`` of a list, annotated or counted now."""
    if all(hasattr(subscriber_list, status) for status in Status.values):
        return {status: getattr(subscriber_list, status) for status in Status.values}
    counts = {row["status"]: row["n"] for row in subscriber_list.subscriptions.order_by()
              .values("status").annotate(n=Count("id"))}
    return {status: counts.get(status, 0) for status in Status.values}


def subscription_list(*, subscriber_list: SubscriberList, status: str | None = None,
                      phone: str | None = None, search: str | None = None,
                      ) -> QuerySet[Subscription]:
    """A list's members, newest first; ``search`` is part of the number or the name."""
    members = subscriber_list.subscriptions.select_related("contact")
    if status:
        members = members.filter(status=status)
    if phone:
        members = members.filter(phone=phone)
    if search:
        members = members.filter(Q(phone__contains=search) | Q(contact__name__icontains=search))
    return members.order_by("-id")


def subscription_get(*, subscriber_list: SubscriberList, phone: str) -> Subscription | None:
    return subscriber_list.subscriptions.select_related("contact").filter(phone=phone).first()


def member_history(*, phone: str, subscriber_list: SubscriberList | None = None,
                   ) -> QuerySet[ListConsentEvent]:
    """A number's changes on one list (or on every list), newest first."""
    events = ListConsentEvent.objects.filter(phone=phone).select_related(
        "actor", "message", "confirmation_message")
    if subscriber_list is not None:
        events = events.filter(list=subscriber_list)
    return events.order_by("-created_at", "-id")


def member_optout_history(*, phone: str) -> QuerySet[ConsentEvent]:
    """The number's opt-outs and opt-ins, which weigh on every list."""
    return consent_history(phone=phone).order_by("-created_at", "-id")


def contact_memberships(*, contact: Contact) -> list[Subscription]:
    return list(Subscription.objects.filter(phone=contact.phone).select_related("list")
                .order_by("list__name"))


def list_import_list(*, subscriber_list: SubscriberList) -> QuerySet[ListImport]:
    return subscriber_list.imports.defer("content").order_by("-id")


# --- Campaigns ------------------------------------------------------------------------------

# Replies and opt-outs count for a campaign within this long of its message to the contact.
ATTRIBUTION = timedelta(hours=72)
_OUT, _IN = Message.Direction.OUTBOUND, Message.Direction.INBOUND
_MS = Message.Status


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("sender").order_by("-id")


def campaign_stats(*, campaign: Campaign) -> dict:
    """The campaign's counts (docs/API.md#campaigns): its messages by current status
    (``queued`` also counts those being sent and those held by a pause;
    ``waiting_quiet_hours`` those waiting for the recipient's window, until
    ``waiting_until`` at the latest), replies, opt-outs and clicks. One pass over the
    campaign's messages on their index, one join for the opt-outs."""
    mine = Q(direction=_OUT)
    counts = Message.objects.filter(campaign_id=campaign.pk).aggregate(
        queued=Count("pk", filter=mine & (Q(status__in=[_MS.QUEUED, _MS.SENDING])
                                          | Q(status=_MS.SCHEDULED,
                                              scheduled_for__isnull=True))),
        waiting_quiet_hours=Count("pk", filter=mine & Q(status=_MS.SCHEDULED,
                                                        scheduled_for__isnull=False)),
        waiting_until=Max("scheduled_for", filter=mine & Q(status=_MS.SCHEDULED)),
        **{status: Count("pk", filter=mine & Q(status=status))
           for status in (_MS.SENT, _MS.DELIVERED, _MS.FAILED, _MS.UNDELIVERED,
                          _MS.CANCELED)},
        replies=Count("pk", filter=Q(direction=_IN)),
    )
    waiting_until = counts.pop("waiting_until")
    return {
        "recipients": campaign.recipients,
        "skipped": {"opted_out": 0, "body_too_long": 0, "frequency_cap": 0,
                    "quota_exceeded": 0, **(campaign.skipped or {})},
        **counts,
        "waiting_until": waiting_until,
        "opt_outs": campaign_opt_outs(campaign=campaign),
        "clicks": links.clicks_count(campaign_id=campaign.pk),
    }


def _opt_outs_sql(select: str, group: str = "") -> str:
    events = connection.ops.quote_name(ConsentEvent._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    return (f"SELECT {select} FROM {events} e JOIN {messages} m "  # noqa: S608
            "ON m.to_address = e.phone AND m.campaign_id = %s AND m.direction = %s "
            "AND e.created_at >= m.sending_at AND e.created_at < m.sending_at + %s "
            f"WHERE e.action = %s AND e.created_at >= %s {group}")


def campaign_opt_outs(*, campaign: Campaign) -> int:
    """Numbers that opted out (by any means: STOP, the API, a teammate) within 72 hours
    after the campaign's message to them left (``sending_at``, as replies are attributed),
    read from the opt-out consent log."""
    if campaign.started_at is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_opt_outs_sql("count(DISTINCT e.phone)"),
                       [campaign.pk, _OUT, ATTRIBUTION, ConsentEvent.Action.OPT_OUT,
                        campaign.started_at])
        return cursor.fetchone()[0]


def campaign_timeline(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """Replies, opt-outs and clicks per hour from the start (at most a week of hours), for
    the detail page's chart: ``{"hours": [ISO], "replies": [n], "opt_outs": [n],
    "clicks": [n]}``."""
    if campaign.started_at is None:
        return {"hours": [], "replies": [], "opt_outs": [], "clicks": []}
    start = campaign.started_at.replace(minute=0, second=0, microsecond=0)
    end = min(now or timezone.now(), start + timedelta(days=7))
    hours = []
    moment = start
    while moment <= end:
        hours.append(moment)
        moment += timedelta(hours=1)
    replies = dict(Message.objects.filter(campaign_id=campaign.pk, direction=_IN)
                   .annotate(hour=TruncHour("created_at", tzinfo=UTC))
                   .order_by().values("hour").annotate(n=Count("pk")).values_list("hour", "n"))
    with connection.cursor() as cursor:
        cursor.execute(_opt_outs_sql("date_trunc('hour', e.created_at AT TIME ZONE 'UTC'), "
                                     "count(DISTINCT e.phone)", "GROUP BY 1"),
                       [campaign.pk, _OUT, ATTRIBUTION, ConsentEvent.Action.OPT_OUT,
                        campaign.started_at])
        opt_outs = {hour.replace(tzinfo=UTC): n for hour, n in cursor.fetchall()}
    clicks = links.clicks_per_hour(campaign_id=campaign.pk, since=start)
    return {"hours": [hour.isoformat() for hour in hours],
            "replies": [replies.get(hour, 0) for hour in hours],
            "opt_outs": [opt_outs.get(hour, 0) for hour in hours],
            "clicks": [clicks.get(hour, 0) for hour in hours]}


def campaign_recipients(*, campaign: Campaign, status: str | None = None,
                        search: str | None = None) -> QuerySet[Message]:
    """The campaign's messages with their contacts, by id; ``search`` is part of the
    number or the name."""
    messages = (Message.objects.filter(campaign_id=campaign.pk, direction=_OUT)
                .select_related("contact").order_by("pk"))
    if status:
        messages = messages.filter(status=status)
    if search:
        messages = messages.filter(Q(to_address__contains=search)
                                   | Q(contact__name__icontains=search))
    return messages


def campaign_recipients_csv(*, campaign: Campaign) -> Iterator[str]:
    """The campaign's recipients and their messages' statuses as CSV lines, streamed;
    names and bodies defused for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(["phone", "name", "status", "error_code", "segments", "body", "created_at",
                "scheduled_for", "sent_at", "delivered_at"])
    for message in campaign_recipients(campaign=campaign).iterator(chunk_size=2000):
        yield line([message.to_address, cell_defuse(message.contact.name if message.contact
                                                    else ""),
                    message.status, message.error_code, message.segments,
                    cell_defuse(message.body), _iso(message.created_at),
                    _iso(message.scheduled_for), _iso(message.sent_at),
                    _iso(message.delivered_at)])


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""
