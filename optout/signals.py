"""What the opt-out domain tells the apps above it, which it cannot import.

``numbers_opted_out`` is sent inside the transaction that opts numbers out, after their
consent-log entries are written: a receiver's writes (subscription lists ending the
numbers' memberships) commit or roll back with the opt-out itself. Keyword arguments:
``phones`` (E.164 numbers that just became opted out), ``source`` (a
``ConsentEvent.Source``), ``reason``, ``actor``, ``actor_label`` and ``message`` (the
customer's STOP, when one carried it).
"""

from __future__ import annotations

from django.dispatch import Signal

numbers_opted_out = Signal()
