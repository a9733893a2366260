"""Event webhooks (tenant schema): the tenant's subscriptions, the events they asked for,
one delivery per event and subscription, and every attempt to deliver it.

Conversations are referred to by id only: an event is a record of what was said at the
time, it outlives the conversation, and the messaging tables stay untouched.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from core.secrets import EncryptedTextField

# The domains name their own events; this app stores and delivers them.
from messaging.events import (
    CONVERSATION_ASSIGNED,
    MESSAGE_RECEIVED,
    MESSAGE_STATUS_CHANGED,
    USAGE_THRESHOLD,
)
from optout.events import OPTOUT_CHANGED

WEBHOOK_TEST = "webhook.test"
# Published by the subscription lists and campaigns (``campaigns.events``), which sit
# above this app: named here, not imported.
SUBSCRIBER_CHANGED = "subscriber.changed"
LINK_CLICKED = "link.clicked"
CAMPAIGN_COMPLETED = "campaign.completed"
# What a subscription may ask for; ``webhook.test`` is sent on request only.
SUBSCRIBABLE_TYPES = (MESSAGE_RECEIVED, MESSAGE_STATUS_CHANGED, OPTOUT_CHANGED,
                      CONVERSATION_ASSIGNED, SUBSCRIBER_CHANGED, LINK_CLICKED,
                      CAMPAIGN_COMPLETED, USAGE_THRESHOLD)


class WebhookSubscription(models.Model):
    """A URL of the tenant's that receives the events it subscribed to, signed per
    Standard Webhooks with its own secret."""

    url = models.URLField(max_length=500)
    events = ArrayField(models.CharField(max_length=50))
    description = models.CharField(max_length=200, blank=True)
    # ``whsec_`` + base64, shown once when created.
    secret = EncryptedTextField()
    # Off: nothing is attempted, and pending deliveries wait until it is turned back on.
    active = models.BooleanField(default=True)
    # Set when the platform turned it off (``events.actions`` explains the rule).
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    # The failure streak: the first failed attempt since the last success, and how many.
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url


class Event(models.Model):
    """Something that happened, as every subscription wanting it receives it."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=50)
    # The exact JSON body each delivery sends (jsonb would reorder its keys).
    payload = models.TextField()
    conversation_id = models.BigIntegerField(null=True, blank=True)
    # Strictly increasing per conversation, so receivers can order what arrives out of
    # order; null without a conversation.
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.uid.hex}"


class ConversationSequence(models.Model):
    """The last event sequence number given out in a conversation."""

    conversation_id = models.BigIntegerField(primary_key=True)
    last_sequence = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"conversation {self.conversation_id}: {self.last_sequence}"


class Delivery(models.Model):
    """One event to one subscription, retried on a schedule until it succeeds or gives
    up; its attempts are the log admins read."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE,
                                     related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due (pending deliveries only).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"],
                                    name="one_delivery_per_event_and_subscription")
        ]
        indexes = [
            # The sweep's scan: only deliveries still pending.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                         name="delivery_pending"),
            models.Index(fields=["subscription", "-id"]),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"event {self.event_id} -> subscription {self.subscription_id}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    # Null when no HTTP answer came (timeout, refused connection, unsafe URL).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The start of the receiver's answer: attacker-controlled text, shown escaped.
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
