"""What the Twilio dialect keeps in a tenant's schema, beside the messaging app's senders
and messages: the numbers' webhooks, Messaging Services, what a message sent through the
dialect asked for, and the calls made to the tenant's own URLs (status callbacks, SmsUrl),
with their logs."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from messaging.models import Message, Sender


class HttpMethod(models.TextChoices):
    GET = "GET"
    POST = "POST"


class PhoneNumber(models.Model):
    """The Twilio-dialect settings of an approved sender (an ``IncomingPhoneNumber``).

    With an ``sms_url``, customers' texts to the number go to the tenant's own app, whose
    TwiML answer is texted back from the number; ``sms_fallback_url`` is tried when that
    fails. ``status_callback`` receives the status changes of those answers.
    """

    sender = models.OneToOneField(Sender, on_delete=models.CASCADE, primary_key=True,
                                  related_name="twilio_number")
    friendly_name = models.CharField(max_length=64, blank=True)
    sms_url = models.CharField(max_length=500, blank=True)
    sms_method = models.CharField(max_length=4, choices=HttpMethod.choices,
                                  default=HttpMethod.POST)
    sms_fallback_url = models.CharField(max_length=500, blank=True)
    sms_fallback_method = models.CharField(max_length=4, choices=HttpMethod.choices,
                                           default=HttpMethod.POST)
    status_callback = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"number {self.sender_id}"


class MessagingService(models.Model):
    """A named pool of the tenant's senders (``MG…``): a message may name the service
    instead of a sender, and the service picks one, the same one for a recipient each
    time (``sticky_sender``)."""

    sid = models.CharField(max_length=34, unique=True)
    friendly_name = models.CharField(max_length=64)
    senders = models.ManyToManyField(Sender, blank=True, related_name="messaging_services")
    status_callback = models.CharField(max_length=500, blank=True)
    sticky_sender = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.friendly_name} ({self.sid})"


class StickySender(models.Model):
    """The sender a Messaging Service chose for a recipient, and keeps choosing."""

    service = models.ForeignKey(MessagingService, on_delete=models.CASCADE,
                                related_name="sticky")
    phone = models.CharField(max_length=20)
    sender = models.ForeignKey(Sender, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service", "phone"],
                                               name="one_sticky_sender_per_recipient")]

    def __str__(self) -> str:
        return f"{self.phone} -> {self.sender_id}"


class TwilioMessage(models.Model):
    """What a message sent through the dialect asked for beyond the message itself."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, primary_key=True,
                                   related_name="twilio")
    status_callback = models.CharField(max_length=500, blank=True)
    messaging_service = models.ForeignKey(MessagingService, null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return f"message {self.message_id}"


class Delivery(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StatusCallback(models.Model):
    """One status change of a message, to post to its StatusCallback URL: tried by a
    task, retried a few times, picked up by the sweep if a task is lost."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=500)
    # Twilio's words for the status reached, and its error code (as text) when failed.
    message_status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=10, choices=Delivery.choices,
                              default=Delivery.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["updated_at"], condition=Q(status="pending"),
                                name="status_callback_pending")]

    def __str__(self) -> str:
        return f"{self.message_status} of {self.message_id} -> {self.url}"


class SmsWebhook(models.Model):
    """A customer's text handed to the number's ``SmsUrl``: the URL, then the fallback
    URL if that fails; a failure of both shows in the conversation."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE,
                                   related_name="twilio_webhook")
    status = models.CharField(max_length=10, choices=Delivery.choices,
                              default=Delivery.PENDING)
    # Messages the app's TwiML answer sent back.
    replies = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["updated_at"], condition=Q(status="pending"),
                                name="sms_webhook_pending")]

    def __str__(self) -> str:
        return f"message {self.message_id} to its app"


class SmsWebhookAttempt(models.Model):
    webhook = models.ForeignKey(SmsWebhook, on_delete=models.CASCADE,
                                related_name="attempt_log")
    url = models.CharField(max_length=500)
    method = models.CharField(max_length=4)
    fallback = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    # Null when no HTTP answer came (timeout, refused connection, unsafe URL).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.method} {self.url}"
