"""The parts of messages sent over SMPP (public schema).

A long message leaves as several ``submit_sm``, each answered with its own SMSC message id,
and each part gets its own delivery receipt naming only that id. The connector, which holds
the bind for every tenant, finds the tenant and the message from ``(connection, SMSC id)``
here; ``messaging`` keeps one row per message and is not changed.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SmppPart(models.Model):
    class State(models.TextChoices):
        # Claimed by the connector: its submit_sm may be on the wire from now on.
        SUBMITTING = "submitting"
        SENT = "sent"  # submit_sm_resp gave an SMSC id
        DELIVERED = "delivered"
        UNDELIVERED = "undelivered"
        FAILED = "failed"  # refused by the SMSC, or the outcome is unknown

    connection = models.CharField(max_length=50)
    # The schema rather than a key to Tenant: the job names its schema (as MessageRoute).
    schema_name = models.CharField(max_length=63)
    message_id = models.BigIntegerField()
    number = models.PositiveSmallIntegerField()
    total = models.PositiveSmallIntegerField()
    smsc_message_id = models.CharField(max_length=65, null=True, blank=True)  # noqa: DJ001
    state = models.CharField(max_length=12, choices=State.choices, default=State.SUBMITTING)
    error_code = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # A job handed over twice claims nothing twice: the second INSERT conflicts.
            models.UniqueConstraint(fields=["schema_name", "message_id", "number"],
                                    name="one_smpp_part_per_number"),
            # A receipt names the connection and the SMSC id only.
            models.UniqueConstraint(fields=["connection", "smsc_message_id"],
                                    condition=Q(smsc_message_id__isnull=False),
                                    name="one_smpp_part_per_smsc_id"),
        ]

    def __str__(self) -> str:
        return f"{self.schema_name}:{self.message_id} part {self.number}/{self.total}"
