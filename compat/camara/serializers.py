"""The request bodies of the dialect, as r0.1 writes them (camelCase), and its answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rest_framework import serializers

from compat.camara.models import SUBSCRIBABLE_TYPES, Subscription
from compat.camara.sending import CATEGORIES, MAX_RECIPIENTS

# PostgreSQL's integer: the largest maximum of events a subscription can hold.
MAX_EVENTS_LIMIT = 2_147_483_647
MAX_TOKEN_LENGTH = 4096


# Commonalities' phone number: E.164 with its +, digits only.
PHONE_NUMBER = r"\A\+[1-9][0-9]{4,14}\Z"
# RFC 3339's date-time: seconds and a time zone are required.
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})")


class ShortMessageRequestSerializer(serializers.Serializer):
    to = serializers.ListField(
        child=serializers.RegexField(PHONE_NUMBER, trim_whitespace=False, error_messages={
            "invalid": "Enter a number in E.164, with its + and digits only: +14155550123."}),
        allow_empty=False, max_length=MAX_RECIPIENTS)
    category = serializers.ChoiceField(choices=CATEGORIES, required=False)
    message = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=5000)

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword.
        fields["from"] = serializers.CharField(max_length=20)
        return fields


class RFC3339Field(serializers.DateTimeField):
    """A date-time with its offset, as RFC 3339 and CAMARA require: a time without one
    would be read in a time zone the client never named."""

    def to_internal_value(self, value) -> datetime:
        if not isinstance(value, str) or not RFC3339.fullmatch(value):
            self.fail("invalid", format="RFC 3339 with a time zone (2026-11-23T14:00:00Z)")
        return super().to_internal_value(value)


def _visible_ascii(value: str) -> str:
    if any(not "!" <= character <= "~" for character in value):
        raise serializers.ValidationError(
            "The token goes in an Authorization header: visible ASCII characters only, no "
            "spaces.")
    return value


class SubscriptionDetailSerializer(serializers.Serializer):
    senderId = serializers.CharField(max_length=20)
    type = serializers.ChoiceField(choices=SUBSCRIBABLE_TYPES)


class WebhookSerializer(serializers.Serializer):
    notificationUrl = serializers.CharField(max_length=500, trim_whitespace=False)
    notificationAuthToken = serializers.CharField(
        max_length=MAX_TOKEN_LENGTH, required=False, trim_whitespace=False,
        validators=[_visible_ascii])


class SubscriptionCreateSerializer(serializers.Serializer):
    subscriptionDetail = SubscriptionDetailSerializer()
    subscriptionExpireTime = RFC3339Field(required=False)
    subscriptionMaxEvents = serializers.IntegerField(
        required=False, min_value=-1, max_value=MAX_EVENTS_LIMIT)
    webhook = WebhookSerializer()

    def validate_subscriptionMaxEvents(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Give at least 1, or -1 for no limit.")
        return value


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as CAMARA recommends."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def subscription_info(subscription: Subscription) -> dict:
    """A subscription as r0.1's ``SubscriptionInfo`` shows it. The token is never shown
    back (Commonalities: credentials stay out of answers)."""
    info: dict = {
        "subscriptionId": subscription.public_id,
        "subscriptionDetail": {"senderId": subscription.sender_id, "type": subscription.type},
        "webhook": {"notificationUrl": subscription.notification_url},
        "startsAt": timestamp(subscription.created_at),
        "status": subscription.status,
    }
    if subscription.expire_time is not None:
        info["subscriptionExpireTime"] = timestamp(subscription.expire_time)
    if subscription.max_events is not None:
        info["subscriptionMaxEvents"] = subscription.max_events
    expires_at = subscription.ended_at or subscription.expire_time
    if expires_at is not None:
        info["expiresAt"] = timestamp(expires_at)
    if subscription.termination_reason:
        info["terminationReason"] = subscription.termination_reason
    return info
