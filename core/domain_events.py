"""Domain events: an app announces what happened, in its own words, without knowing who
listens.

The apps that cause events (messaging, optout) sit below the one that stores and delivers
them as webhooks (``events``), so they cannot call it: ``events`` installs itself here as
the sink when Django starts, and emitters call ``event_publish``. Without a sink (a project
without event webhooks) publishing costs nothing and goes nowhere.
"""

from __future__ import annotations

from typing import Protocol


class EventSink(Protocol):
    def wanted(self, type: str) -> bool:
        """Whether anything may want events of ``type`` in the current tenant: a cheap
        hint asked before building a payload."""

    def publish(self, *, type: str, data: dict, conversation_id: int | None) -> None:
        """Record the event; called inside the transaction that made the change."""


_sink: EventSink | None = None


def event_sink_install(sink: EventSink) -> None:
    global _sink
    _sink = sink


def event_wanted(*, type: str) -> bool:
    """Ask before serialising a payload: the common case (no subscriber) costs nothing."""
    return _sink is not None and _sink.wanted(type)


def event_publish(*, type: str, data: dict, conversation_id: int | None = None) -> None:
    """Announce ``type`` with its ``data`` (JSON-serialisable), in the transaction that
    makes the change: nothing is delivered for a change that rolls back.
    ``conversation_id`` orders the events of one conversation."""
    if _sink is not None:
        _sink.publish(type=type, data=data, conversation_id=conversation_id)
