"""CAMARA ShortMessageService (tenant schema): the msgId of each short-message call and the
messages it named, the subscriptions, and each notification sent to a subscription with
every attempt to deliver it (docs/CAMARA.md)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from core.secrets import EncryptedTextField

# The event types: CAMARA's (ShortMessageService r0.1), and the received-SMS type of the
# Receive SMS proposal, which CAMARA has not published.
DELIVERY_STATUS = "org.camaraproject.sms.v0.sms-delivery-status"
SMS_RECEIVED = "org.camaraproject.sms.v0.sms-received"
SUBSCRIPTION_ENDS = "org.camaraproject.sms.v0.subscription-ends"
SUBSCRIBABLE_TYPES = (DELIVERY_STATUS, SMS_RECEIVED)


class ShortMessage(models.Model):
    """One message of a short-message call: the messages of one call share its msgId,
    which the delivery-status events name."""

    msg_id = models.UUIDField(db_index=True)
    message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE,
                                   related_name="+")
    category = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.msg_id}: message {self.message_id}"


class Subscription(models.Model):
    """A listener's URL that receives the events of one type about one of the tenant's
    senders, with its token as Bearer, until it is deleted or ends."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        # Ended: expired, its maximum of events reached, or stopped by us. Kept (and
        # shown) until the client deletes it, like CAMARA's subscription status.
        EXPIRED = "EXPIRED"

    class TerminationReason(models.TextChoices):
        MAX_EVENTS_REACHED = "MAX_EVENTS_REACHED"
        NETWORK_TERMINATED = "NETWORK_TERMINATED"
        SUBSCRIPTION_EXPIRED = "SUBSCRIPTION_EXPIRED"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=60)
    # The sender's address as the tenant's senders store it (E.164 for numbers).
    sender_id = models.CharField(max_length=20)
    notification_url = models.CharField(max_length=500)
    notification_auth_token = EncryptedTextField(blank=True)
    expire_time = models.DateTimeField(null=True, blank=True)
    max_events = models.PositiveIntegerField(null=True, blank=True)
    # Events recorded for it (``subscription-ends`` aside), counted only under a maximum.
    events_recorded = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    termination_reason = models.CharField(max_length=30, choices=TerminationReason.choices,
                                          blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success (``notifications`` explains the use).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # What every emitted event looks for: the active subscriptions to a sender.
            models.Index(fields=["type", "sender_id"], condition=Q(status="ACTIVE"),
                         name="camara_subscription_active"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.sender_id} -> {self.notification_url}"

    @property
    def public_id(self) -> str:
        return str(self.uid)


class Notification(models.Model):
    """One CloudEvent for one subscription, retried on the event webhooks' schedule until
    it is delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE,
                                     related_name="notifications")
    type = models.CharField(max_length=60)
    # The exact body every attempt sends: a structured-mode CloudEvent in JSON.
    payload = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"),
                         name="camara_notification_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.uid} -> subscription {self.subscription_id}"


class NotificationAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE,
                                     related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    # Null when no HTTP answer came (timeout, refused connection, unsafe URL).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The start of the listener's answer: attacker-controlled text, shown escaped.
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of notification {self.notification_id}"
