"""The dialects' tenant-schema models (Django finds an app's models here)."""

from compat.twilio.models import (  # noqa: F401
    MessagingService,
    PhoneNumber,
    SmsWebhook,
    SmsWebhookAttempt,
    StatusCallback,
    StickySender,
    TwilioMessage,
)
