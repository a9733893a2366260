"""The events the subscription lists and campaigns announce (delivered as event webhooks
by the ``events`` app; see ``core.domain_events``)."""

from __future__ import annotations

from datetime import datetime

from campaigns.models import Campaign, LinkClick, ListConsentEvent, TrackedLink
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
CAMPAIGN_COMPLETED = "campaign.completed"


def link_clicked_emit(*, click: LinkClick, link: TrackedLink) -> None:
    """``link.clicked``: one per click a person made on a campaign's tracked link."""
    if not event_wanted(type=LINK_CLICKED):
        return
    event_publish(type=LINK_CLICKED, data={
        "campaign": link.campaign_id, "phone": link.phone, "url": link.url,
        "code": link.code, "clicked_at": click.at, "user_agent": click.user_agent,
    })


def campaign_completed_emit(*, campaign: Campaign) -> None:
    """``campaign.completed``: the campaign as ``GET /campaigns/{id}`` shows its state and
    counts, once none of its messages is left to send."""
    if not event_wanted(type=CAMPAIGN_COMPLETED):
        return
    from campaigns.selectors import campaign_stats

    event_publish(type=CAMPAIGN_COMPLETED, data={"campaign": {
        "id": campaign.pk, "name": campaign.name, "status": campaign.status,
        "sender": campaign.sender.address, "stats": campaign_stats(campaign=campaign),
        "started_at": _iso(campaign.started_at), "completed_at": _iso(campaign.completed_at),
    }})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
