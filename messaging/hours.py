"""Business hours and the out-of-office reply (off until an admin turns them on)."""

from __future__ import annotations

from datetime import datetime, time

from core.errors import DomainError
from core.memo import memoized
from messaging.models import BusinessHours, Conversation, Message
from messaging.rules import in_window

INVALID_HOURS = "invalid_hours"
AWAY_ORIGIN_REF = "business_hours"


def business_hours_get() -> BusinessHours:
    """The tenant's business hours (shared by a burst inside ``core.memo.memo_scope``)."""
    return memoized("business_hours", _business_hours_load)


def _business_hours_load() -> BusinessHours:
    hours, _ = BusinessHours.objects.get_or_create(pk=1)
    return hours


def _parse_hours(opening_hours: dict) -> dict[str, list[list[str]]]:
    """``{"0": [["09:00", "17:00"]], ...}``: weekday 0 (Monday) to 6, each a list of
    [opens, closes] in HH:MM; a missing day is closed."""
    if not isinstance(opening_hours, dict):
        raise DomainError(INVALID_HOURS, "Opening hours map weekdays to time ranges.",
                             "opening_hours")
    parsed: dict[str, list[list[str]]] = {}
    for day, ranges in opening_hours.items():
        if str(day) not in {str(d) for d in range(7)} or not isinstance(ranges, list):
            raise DomainError(INVALID_HOURS,
                                 f"{day!r}: weekdays are 0 (Monday) to 6 (Sunday), each "
                                 "with a list of [opens, closes].", "opening_hours")
        for pair in ranges:
            try:
                opens, closes = (time.fromisoformat(value) for value in pair)
            except (TypeError, ValueError) as exc:
                raise DomainError(INVALID_HOURS,
                                     f"{pair!r}: write each range as [\"09:00\", \"17:00\"].",
                                     "opening_hours") from exc
            if opens >= closes:
                raise DomainError(INVALID_HOURS, f"{pair!r}: a range closes after it opens.",
                                     "opening_hours")
        parsed[str(day)] = [[str(value) for value in pair] for pair in ranges]
    return parsed


def business_hours_update(*, enabled: bool | None = None, opening_hours: dict | None = None,
                          away_reply: str | None = None) -> BusinessHours:
    hours = business_hours_get()
    if opening_hours is not None:
        hours.opening_hours = _parse_hours(opening_hours)
    if enabled is not None:
        hours.enabled = enabled
    if away_reply is not None:
        hours.away_reply = away_reply.strip()
    hours.save()
    return hours


def is_open(*, hours: BusinessHours, at: datetime) -> bool:
    """Whether the business is open at ``at`` (an aware time in the tenant's timezone)."""
    moment = at.time()
    return any(in_window(moment, time.fromisoformat(opens), time.fromisoformat(closes))
               for opens, closes in hours.opening_hours.get(str(at.weekday()), []))


def away_reply_due(*, hours: BusinessHours, conversation: Conversation, at: datetime) -> bool:
    """Closed now, and the conversation has had no away reply since the local midnight."""
    if not hours.enabled or is_open(hours=hours, at=at):
        return False
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return not Message.objects.filter(
        conversation=conversation, direction=Message.Direction.OUTBOUND,
        origin_ref=AWAY_ORIGIN_REF, created_at__gte=midnight,
    ).exists()


def away_text(*, hours: BusinessHours, business: str) -> str:
    return hours.away_reply or (
        f"{business}: thanks for your message. We are closed right now and will answer "
        "when we open."
    )
