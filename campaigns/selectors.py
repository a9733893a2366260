"""Reads of the subscription lists."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from campaigns.models import ListConsentEvent, ListImport, SubscriberList, Subscription
from messaging.models import Contact
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
