"""The events of the subscription lists and the campaigns (delivered as event webhooks by the
``events`` app; see ``core.domain_events``)."""

from __future__ import annotations

from campaigns.models import LinkClick, ListConsentEvent, TrackedLink
from core.domain_events import event_publish, event_wanted

SUBSCRIBER_CHANGED = "subscriber.changed"


def subscriber_event_emit(*, consent: ListConsentEvent, status: str,
                          previous_status: str | None) -> None:
    """``subscriber.changed`` from a consent-log entry: the member's ``status`` now
    (``pending``, ``subscribed``, ``unsubscribed``, or ``null`` once dropped) and
    before (``null`` for someone new)."""
    if not event_wanted(type=SUBSCRIBER_CHANGED):
        return
    message = consent.message
    event_publish(type=SUBSCRIBER_CHANGED, data={
        "list": {"id": consent.list_id, "name": consent.list_name},
        "phone": consent.phone, "status": status, "previous_status": previous_status,
        "action": consent.action, "source": consent.source, "evidence": consent.evidence,
        "message": message.pk if message else None,
        "confirmation_message": consent.confirmation_message_id,
    }, conversation_id=message.conversation_id if message else None)


LINK_CLICKED = "link.clicked"


def link_clicked_emit(*, click: LinkClick, link: TrackedLink) -> None:
    """``link.clicked``: one per click a person made on a campaign's tracked link."""
    if not event_wanted(type=LINK_CLICKED):
        return
    event_publish(type=LINK_CLICKED, data={
        "campaign": link.campaign_id, "phone": link.phone, "url": link.url,
        "code": link.code, "clicked_at": click.at, "user_agent": click.user_agent,
    })
