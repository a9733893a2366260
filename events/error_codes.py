"""Stable error codes of event webhooks; the API and UI show them as is."""

from __future__ import annotations

from core.errors import DomainError

UNSAFE_URL = "unsafe_url"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
NO_EVENT_TYPES = "no_event_types"
WEBHOOK_INACTIVE = "webhook_inactive"


class EventsError(DomainError):
    """A refused webhook request; the API answers it like any other domain error."""
