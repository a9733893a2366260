"""A tenant's messaging data: senders, contacts, conversations and messages (tenant schema).

Provider connections and the routing table are operator-level and live in the public schema
(``tenants.models``); a sender names its connection rather than pointing at it, so no
foreign key crosses schemas.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q
from django.db.models.functions import Collate, Reverse
from django.utils import timezone

from core.secrets import EncryptedTextField


class Sender(models.Model):
    class Kind(models.TextChoices):
        LONG_CODE = "long_code"
        SHORT_CODE = "short_code"
        TOLL_FREE = "toll_free"
        ALPHANUMERIC = "alphanumeric"

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        SUSPENDED = "suspended"

    # Carriers' usual throughput per kind, in segments per second.
    DEFAULT_RATE = {Kind.LONG_CODE: 1, Kind.TOLL_FREE: 3, Kind.SHORT_CODE: 100,
                    Kind.ALPHANUMERIC: 10}

    address = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    country = models.CharField(max_length=2, blank=True)
    connection = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    review_reason = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Segments per second; null means no cap (the simulator's default).
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class Contact(models.Model):
    phone = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phone"]
        # The contacts page and the "New message" search (``messaging.selectors``,
        # docs/PORTAL.md#contacts): each way of finding a contact has its index, so a
        # search among 100,000 contacts reads the matches, not the table.
        indexes = [
            # A tag: ``tags @> ARRAY[tag]``.
            GinIndex(fields=["tags"], name="contact_tags"),
            # The name's words as prefixes; queries must use this exact expression
            # (``contact_matches``).
            GinIndex(SearchVector("name", config="simple"), name="contact_name_search"),
            # The number typed from its end (0199, or (415) 555-0199 without the country
            # code): LIKE 'prefix%' on the number reversed, in the "C" collation, where LIKE
            # can use a B-tree whatever the database's own. From its start (+1 415...), the
            # ``varchar_pattern_ops`` index Django adds to the unique ``phone`` serves.
            models.Index(Collate(Reverse("phone"), "C"), name="contact_phone_suffix"),
        ]

    def __str__(self) -> str:
        return self.name or self.phone


class Conversation(models.Model):
    """One thread per contact and sender, reopened when the contact writes again."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    sender = models.ForeignKey(Sender, on_delete=models.PROTECT, related_name="conversations")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="conversations")
    unread_count = models.PositiveIntegerField(default=0)
    last_activity_at = models.DateTimeField()
    # The customer's first text since staff last replied, while no reply has come: the
    # next staff reply records the wait (``Message.answered_wait_from``) and clears it.
    waiting_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_activity_at"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "sender"], name="one_conversation_per_pair")
        ]
        indexes = [
            # The inbox lists a folder by activity, ties broken by id: one index walk, no sort.
            models.Index(fields=["status", "-last_activity_at", "-id"]),
            # The folders' unread badges, counted on every inbox page and live refresh.
            models.Index(fields=["status", "assignee"], condition=Q(unread_count__gt=0),
                         name="conversation_unread"),
            # The dashboard counts the waits still open that began in its period.
            models.Index(fields=["waiting_since"], condition=Q(waiting_since__isnull=False),
                         name="conversation_waiting"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} via {self.sender}"


class ConversationNote(models.Model):
    """A private note between teammates on a conversation: never sent as an SMS, never
    counted as activity."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    # Who wrote it when no user did (an API key, as "api key <prefix>"): the note's
    # provenance outlives the key.
    author_label = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["conversation", "-id"])]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.conversation_id}"


class ConversationActivity(models.Model):
    """A change staff or automation made to a conversation, shown in its thread where it
    happened. What other records already tell (opt-outs, surveys, auto-replies) is read
    from them instead."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned"
        UNASSIGNED = "unassigned"
        RESOLVED = "resolved"
        REOPENED = "reopened"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="activities")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    # Who acted, as text: the user's email (kept should the user go) or "api key
    # <prefix>"; empty for automation.
    actor_label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["conversation", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind} on {self.conversation_id}"


# Statuses of an outbound message that has not left (yet, or ever: canceled): the text
# search skips them.
UNSENT = ["scheduled", "queued", "sending", "canceled"]


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        # Accepted, not yet due (a send time, quiet hours, a paused campaign): the sweep
        # moves it to ``queued`` once ``scheduled_for`` has come.
        SCHEDULED = "scheduled"
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        UNDELIVERED = "undelivered"
        FAILED = "failed"
        # Withdrawn before it left (a canceled campaign or scheduled message); terminal.
        CANCELED = "canceled"

    class Origin(models.TextChoices):
        CUSTOMER = "customer"
        USER = "user"
        API = "api"
        RULE = "rule"
        SURVEY = "survey"
        SYSTEM = "system"
        CAMPAIGN = "campaign"

    direction = models.CharField(max_length=10, choices=Direction.choices)
    sender = models.ForeignKey(Sender, on_delete=models.PROTECT, related_name="messages")
    # Inbound messages are stored before the contact and conversation exist (the webhook
    # answers at once); processing attaches them.
    contact = models.ForeignKey(Contact, null=True, on_delete=models.CASCADE,
                                related_name="messages")
    # No index of its own: ``message_conversation`` below serves every lookup by it.
    conversation = models.ForeignKey(Conversation, null=True, on_delete=models.CASCADE,
                                     related_name="messages", db_index=False)
    from_address = models.CharField(max_length=20)
    to_address = models.CharField(max_length=20)
    body = models.TextField()
    encoding = models.CharField(max_length=10)
    segments = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices)
    connection = models.CharField(max_length=50)
    # Null until the provider answers: the partial unique constraint below ignores nulls.
    provider_message_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    origin = models.CharField(max_length=20, choices=Origin.choices)
    # Indexed only where set (``message_author``): most messages have no author.
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="messages",
                               db_index=False)
    # What sent it when no user did: an API key's prefix, a rule's or survey's id.
    origin_ref = models.CharField(max_length=100, blank=True)
    # The campaign (``campaigns.Campaign``) that sent it, or whose message a customer's
    # text answered within 72 hours. A plain id: messaging sits below campaigns
    # (docs/ARCHITECTURE.md#apps-and-layers).
    campaign_id = models.BigIntegerField(null=True, blank=True)
    # On the staff reply that ended a customer's wait: when the wait began. Recorded as the
    # reply is queued, so the dashboard's response times read these replies alone.
    answered_wait_from = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a ``scheduled`` message falls due; null holds it until something sets a time
    # (a paused campaign's messages wait so).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One timestamp per step of the lifecycle.
    received_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A provider retrying a webhook, or a redelivered callback, finds the same row.
            models.UniqueConstraint(
                fields=["connection", "direction", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="one_message_per_provider_id",
            )
        ]
        indexes = [
            # A conversation's thread. A message is given its conversation as it is
            # processed: the webhook's insert writes none of the indexes that skip rows
            # without one, so they cost the ingest nothing
            # (docs/ARCHITECTURE.md#inbound-pipeline).
            models.Index(fields=["conversation", "-id"], condition=Q(conversation__isnull=False),
                         name="message_conversation"),
            # The sweeper's scan: only the few rows still in flight.
            models.Index(fields=["status", "updated_at"],
                         condition=Q(status__in=["received", "queued", "sending"]),
                         name="message_in_flight"),
            # A campaign's counts by status; most messages belong to none and are not
            # written to this index.
            models.Index(fields=["campaign_id", "status"],
                         condition=Q(campaign_id__isnull=False), name="message_campaign"),
            # The sweep's search for scheduled messages now due: only those waiting.
            models.Index(fields=["scheduled_for"], condition=Q(status="scheduled"),
                         name="message_scheduled"),
            # The inbox's search by message text: core full-text search (no extension is available
            # in the embedded PostgreSQL); 'simple' keeps every word, in any language, unstemmed.
            # Queries must use this exact expression and condition (``message_text_matches``):
            # the inbox searches conversations, so a message is indexed once it has one, and
            # an outbound one once it has left. Each status change writes a new row version
            # to every index, and this one's entries (the body's words) cost as much as all
            # the others together: a campaign's message passed through it four times, and
            # cancelling a campaign of 100,000 once more each.
            GinIndex(SearchVector("body", config="simple"), name="message_body_search",
                     condition=Q(conversation__isnull=False) & ~Q(status__in=UNSENT)),
            # The messages of a time range (the API's ``since`` and ``until``): the
            # history outside it is never read. BRIN: rows arrive in time order, and a
            # few block ranges' bounds cost the ingest next to nothing, where a B-tree
            # would be one more index written per message.
            BrinIndex(fields=["created_at"], name="message_created"),
            # A teammate's messages (``author`` is set null when they are deleted).
            models.Index(fields=["author"], condition=Q(author__isnull=False),
                         name="message_author"),
            # The dashboard's median response time: only staff replies that ended a wait.
            models.Index(fields=["answered_wait_from"],
                         condition=Q(answered_wait_from__isnull=False),
                         name="message_answered_wait"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.from_address} -> {self.to_address}"


class TrafficCount(models.Model):
    """The dashboard's traffic rollup: messages per UTC quarter hour of their
    ``created_at``, kept as they are counted (``messaging.traffic``), so the dashboard
    never reads the messages themselves. Quarter hours because every zone's offset is a
    whole number of them (India +05:30, Nepal +05:45): they regroup exactly into any
    tenant's local days and hours."""

    period_start = models.DateTimeField(primary_key=True)
    # Customers' texts once processed, and every message we stored to send.
    inbound = models.IntegerField(default=0)
    outbound = models.IntegerField(default=0)
    # Of those outbound: ended ``delivered``, and ended ``undelivered`` or ``failed``.
    delivered = models.IntegerField(default=0)
    not_delivered = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"traffic from {self.period_start:%Y-%m-%d %H:%M} UTC"


class InboundPart(models.Model):
    """A part of a concatenated inbound SMS, kept until every part has arrived."""

    connection = models.CharField(max_length=50)
    from_address = models.CharField(max_length=20)
    to_address = models.CharField(max_length=20)
    reference = models.CharField(max_length=50)
    total = models.PositiveSmallIntegerField()
    number = models.PositiveSmallIntegerField()
    provider_message_id = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the message is assembled. Completed parts are kept a while so that a
    # provider retrying one is recognised, instead of the retry waiting as the first
    # part of the next message that reuses the (small, recycled) reference.
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "from_address", "reference", "number"],
                name="one_row_per_part",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.number}/{self.total}"


class KeywordRule(models.Model):
    """An automatic answer: the first active rule, in priority order, whose keyword matches
    an inbound message acts on it (``messaging.rules``)."""

    class Match(models.TextChoices):
        EXACT = "exact"
        STARTS_WITH = "starts_with"
        CONTAINS = "contains"
        REGEX = "regex"

    keyword = models.CharField(max_length=200)
    match = models.CharField(max_length=20, choices=Match.choices, default=Match.EXACT)
    # A template: {{ contact.name }}, {{ contact.fields.X }}, {{ sender }} (messaging.templating).
    reply = models.TextField(blank=True)
    # Lower numbers are tried first; ties go to the older rule.
    priority = models.IntegerField(default=100)
    active = models.BooleanField(default=True)
    # Only messages to this sender, when set.
    sender = models.ForeignKey(Sender, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="keyword_rules")
    # When the rule is active, in the tenant's timezone: weekdays 0 (Monday) to 6, empty for
    # every day; a time window, empty for all day (an end before the start spans midnight).
    weekdays = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    active_from = models.TimeField(null=True, blank=True)
    active_until = models.TimeField(null=True, blank=True)
    add_tag = models.CharField(max_length=50, blank=True)
    assign_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    forward_to = models.ForeignKey("ForwardingEndpoint", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="rules")
    # Started after the rule's other actions. A survey in use cannot be deleted: the rule
    # would silently lose its action.
    start_survey = models.ForeignKey("Survey", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="keyword_rules")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.match} {self.keyword!r}"


# A canned response's shortcode: what the composer matches after a "/".
SHORTCODE_PATTERN = r"^[a-z0-9_-]{1,30}$"


class CannedResponse(models.Model):
    """A ready-made reply staff pull into the inbox composer by typing ``/shortcode``.

    The body is a reply template (``messaging.templating``), filled with the conversation's
    contact and sender when it is inserted, as a keyword rule's reply is when it is sent.
    """

    shortcode = models.CharField(max_length=30, unique=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcode"]
        constraints = [
            # The service refuses anything else in words first; this keeps it so.
            models.CheckConstraint(condition=Q(shortcode__regex=SHORTCODE_PATTERN),
                                   name="canned_response_shortcode_chars"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcode}"


def _default_opening_hours() -> dict[str, list[list[str]]]:
    weekday = [["09:00", "17:00"]]
    return {str(day): weekday for day in range(5)}


class BusinessHours(models.Model):
    """One row per tenant (pk 1): opening hours by weekday (0 is Monday) in the tenant's
    timezone, and the out-of-office reply. Off until an admin turns it on."""

    enabled = models.BooleanField(default=False)
    opening_hours = models.JSONField(default=_default_opening_hours)
    # Blank means the default text, which names the business.
    away_reply = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return "Business hours"


class ForwardingEndpoint(models.Model):
    """The business's own system, called when a rule forwards a message (the balance
    inquiry, the order status): a JSON POST signed per Standard Webhooks; an answer
    ``{"reply": "..."}`` goes back to the customer."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    # Standard Webhooks secret (``whsec_`` + base64), shown once when created.
    secret = EncryptedTextField()
    timeout_seconds = models.PositiveSmallIntegerField(default=5)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Forward(models.Model):
    """One inbound message to deliver to one endpoint, retried until it succeeds or gives
    up; its attempts are the log admins read."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="forwards")
    endpoint = models.ForeignKey(ForwardingEndpoint, on_delete=models.CASCADE,
                                 related_name="forwards")
    rule = models.ForeignKey(KeywordRule, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    reply = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "endpoint"], name="one_forward_per_pair")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"],
                                condition=Q(status="pending"), name="forward_pending")]

    def __str__(self) -> str:
        return f"message {self.message_id} -> {self.endpoint}"


class ForwardAttempt(models.Model):
    forward = models.ForeignKey(Forward, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    # Null when no HTTP answer came (timeout, refused connection, unsafe URL).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.forward_id}"


class Survey(models.Model):
    """Questions asked one at a time by SMS; each reply answers the current question
    (``messaging.surveys``)."""

    name = models.CharField(max_length=200)
    # Sent with the first question, when set.
    intro = models.TextField(blank=True)
    # Sent once the last question is answered, when set.
    closing_message = models.TextField(blank=True)
    # Inactive surveys keep their results but cannot be started.
    active = models.BooleanField(default=True)
    # Invalid answers to one question that are asked again before the survey moves on.
    max_reask = models.PositiveSmallIntegerField(default=2)
    # A session with no answer for this long is abandoned: the next message is no answer.
    expire_after_minutes = models.PositiveIntegerField(default=1440)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class SurveyQuestion(models.Model):
    class Kind(models.TextChoices):
        CHOICE = "choice"
        YES_NO = "yes_no"
        NUMBER = "number"
        TEXT = "text"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    # 1, 2, 3 ... in the order asked when no branch says otherwise.
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField()
    # ``choice`` only: the options, answered by number (1 to n) or by text.
    choices = models.JSONField(default=list, blank=True)
    # ``number`` only: inclusive bounds, either optional.
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    # ``choice`` and ``yes_no`` only: answer value -> position of the next question, or
    # "end"; an answer not listed goes on to position + 1.
    branching = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["survey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "position"],
                                    name="one_question_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.survey} #{self.position}"

    def answer_values(self) -> list[str]:
        """What an answer to a choice or yes/no question can mean; empty for number and
        text questions, whose answers are open."""
        if self.kind == self.Kind.CHOICE:
            return list(self.choices)
        if self.kind == self.Kind.YES_NO:
            return ["yes", "no"]
        return []


class SurveySession(models.Model):
    """One contact taking one survey through one sender (that is, in one conversation)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"
        EXPIRED = "expired"
        STOPPED = "stopped"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="sessions")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="survey_sessions")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="survey_sessions")
    # Null once the session is over.
    current_question = models.ForeignKey(SurveyQuestion, null=True, blank=True,
                                         on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Invalid answers to the current question so far.
    reask_count = models.PositiveSmallIntegerField(default=0)
    # When its first question was sent (the thread shows the start just before it).
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A conversation is one contact and one sender: a reply can answer one survey only.
            models.UniqueConstraint(fields=["conversation"], condition=Q(status="active"),
                                    name="one_active_survey_per_conversation")
        ]
        indexes = [
            # The expiry sweep's scan.
            models.Index(fields=["last_activity_at"], condition=Q(status="active"),
                         name="survey_session_active"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} for {self.contact}"


class SurveyAnswer(models.Model):
    session = models.ForeignKey(SurveySession, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(SurveyQuestion, on_delete=models.CASCADE,
                                 related_name="answers")
    # What the customer wrote, and what it means: the choice's text, "yes"/"no", the number
    # in plain notation, or the text trimmed.
    raw_text = models.TextField()
    value = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["question", "value"])]

    def __str__(self) -> str:
        return f"{self.question}: {self.value}"
