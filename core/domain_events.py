"""Domain events: an app announces what happened, in its own words, without knowing who
listens.

The apps that cause events (messaging, optout) sit below the ones that deliver them (event
webhooks in ``events``; other API dialects above it), so they cannot call them: each
deliverer installs itself here as a sink when Django starts, and emitters call
``event_publish``. Without a sink, publishing costs nothing and goes nowhere.
"""

from __future__ import annotations

from typing import Protocol


class EventSink(Protocol):
    def wanted(self, type: str) -> bool:
        """Whether this sink may want events of ``type`` in the current tenant: a cheap
        hint asked before building a payload."""

    def publish(self, *, type: str, data: dict, conversation_id: int | None) -> None:
        """Record the event; called inside the transaction that made the change."""


_sinks: list[EventSink] = []


def event_sink_install(sink: EventSink) -> None:
    """Add ``sink`` (once per process, at start-up)."""
    if sink not in _sinks:
        _sinks.append(sink)


def event_wanted(*, type: str) -> bool:
    """Ask before serialising a payload: the common case (no subscriber) costs nothing."""
    return any(sink.wanted(type) for sink in _sinks)


def event_publish(*, type: str, data: dict, conversation_id: int | None = None) -> None:
    """Announce ``type`` with its ``data`` (JSON-serialisable) to every sink that wants it,
    in the transaction that makes the change: nothing is delivered for a change that rolls
    back. ``conversation_id`` orders the events of one conversation."""
    for sink in _sinks:
        if sink.wanted(type):
            sink.publish(type=type, data=data, conversation_id=conversation_id)
