"""The event the opt-out domain announces (delivered as event webhooks by the ``events``
app; see ``core.domain_events``)."""

from __future__ import annotations

from core.domain_events import event_publish, event_wanted
from optout.models import ConsentEvent

OPTOUT_CHANGED = "optout.changed"


def consent_event_emit(*, consent: ConsentEvent) -> None:
    """``optout.changed`` from a consent-log entry."""
    if not event_wanted(type=OPTOUT_CHANGED):
        return
    message = consent.message
    event_publish(type=OPTOUT_CHANGED, data={
        "phone": consent.phone, "action": consent.action, "source": consent.source,
        # Opted out of (or back in to) every sender, or the one named.
        "scope": "sender" if consent.sender_address else "tenant",
        "sender": consent.sender_address or None, "reason": consent.reason,
        "message": message.pk if message else None,
    }, conversation_id=message.conversation_id if message else None)
