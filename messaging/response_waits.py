"""Customers' waits for a staff reply, recorded as messages come and go, for the
dashboard's median first response (``messaging.dashboard``).

A wait starts at a customer's text when none is open: the text that opened the
conversation, or the first after a staff reply; texting again while waiting does not
restart the clock. The next reply a teammate writes (origin ``user``) ends it; automatic
replies and API sends do not. Recorded at both ends, the median is one indexed read of the
replies that ended a wait, where deriving the waits from the history took a window pass
over every message of the period (0.85 s for 750,000).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction

from messaging.models import Conversation


def waits_answer(*, conversation_ids: Iterable[int]) -> dict[int, datetime]:
    """End the open waits of these conversations, for a staff reply queued in each; returns
    when each ended wait began. Call inside the transaction that creates the replies: the
    rows stay locked until it commits, so a text that arrives meanwhile starts a new wait
    rather than being taken as answered."""
    waiting = dict(Conversation.objects.select_for_update()
                   .filter(pk__in=list(conversation_ids), waiting_since__isnull=False)
                   .order_by("pk").values_list("pk", "waiting_since"))
    if waiting:
        Conversation.objects.filter(pk__in=waiting).update(waiting_since=None)
    return waiting


# Derives both ends from the history, with the rules above: a conversation's turns are its
# customer texts and staff replies; a text after a reply (or opening it) starts a wait, and
# the reply after a text ends it. Run once by the migration that added the columns.
BACKFILL_SQL = """
CREATE TEMP TABLE response_wait_turns AS
SELECT id, conversation_id, direction, created_at,
       lag(created_at) OVER (PARTITION BY conversation_id ORDER BY created_at, id) AS previous_at,
       row_number() OVER (PARTITION BY conversation_id ORDER BY created_at DESC, id DESC)
           AS from_last
FROM (SELECT id, conversation_id, direction, created_at,
             lag(direction) OVER (PARTITION BY conversation_id ORDER BY created_at, id)
                 AS previous
      FROM messaging_message
      WHERE conversation_id IS NOT NULL
        AND (direction = 'inbound' OR (direction = 'outbound' AND origin = 'user'))) AS turns
WHERE (direction = 'inbound' AND previous IS DISTINCT FROM 'inbound')
   OR (direction = 'outbound' AND previous = 'inbound');

UPDATE messaging_message AS message SET answered_wait_from = turn.previous_at
FROM response_wait_turns AS turn
WHERE turn.direction = 'outbound' AND message.id = turn.id;

UPDATE messaging_conversation AS conversation SET waiting_since = turn.created_at
FROM response_wait_turns AS turn
WHERE turn.direction = 'inbound' AND turn.from_last = 1
  AND conversation.id = turn.conversation_id;

-- Dropped here, not at commit: migrate_schemas may run every schema in one transaction.
DROP TABLE response_wait_turns;
"""


def response_waits_backfill() -> None:
    """Record the waits of messages stored without them, in the current schema."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BACKFILL_SQL)
