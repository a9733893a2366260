"""Subscription lists (tenant schema): the lists, who is on them and in which state, the
consent log that proves every change, and CSV imports.

Who may be texted with marketing is a matter of record: each membership says how it began
(``source``) and every change is kept as a ``ListConsentEvent`` (with the confirmation
message, the web form's call to action, the import's evidence) that outlives the
membership, the contact and the list.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


def _no_errors() -> list:
    # Not ``default=list``: in ``ListImport``'s body, ``list`` is its foreign key.
    return []


class SubscriberList(models.Model):
    name = models.CharField(max_length=100)
    # The public join form's address (``/join/<slug>``), from the name.
    slug = models.SlugField(max_length=60, unique=True)
    # Normalised as opt-out keywords are (``optout.keywords.keyword_normalize``); blank:
    # no join keyword.
    keyword = models.CharField(max_length=30, blank=True)
    double_opt_in = models.BooleanField(default=True)
    # The sender of confirmations and welcomes for members who did not text in (API, web
    # form); blank: the tenant's first approved sender. Keyword members are answered by
    # the sender they texted.
    sender_address = models.CharField(max_length=20, blank=True)
    confirmation_text = models.TextField()
    # Blank: no welcome message.
    welcome_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["keyword"], condition=~Q(keyword=""),
                                    name="one_list_per_keyword"),
        ]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """One number's membership of one list."""

    class Status(models.TextChoices):
        PENDING = "pending"  # asked to reply YES
        SUBSCRIBED = "subscribed"
        UNSUBSCRIBED = "unsubscribed"

    class Source(models.TextChoices):
        API = "api"
        WEB_FORM = "web_form"
        IMPORT = "import"
        KEYWORD = "keyword"
        STAFF = "staff"

    # Indexed by the unique (list, phone) below.
    list = models.ForeignKey(SubscriberList, on_delete=models.CASCADE,
                             related_name="subscriptions", db_index=False)
    contact = models.ForeignKey("messaging.Contact", on_delete=models.CASCADE,
                                related_name="+")
    # The contact's number (which never changes), so opt-outs and lookups by number need
    # no join.
    phone = models.CharField(max_length=20)
    status = models.CharField(max_length=15, choices=Status.choices)
    # How the membership began (or began again).
    source = models.CharField(max_length=10, choices=Source.choices)
    # The last confirmation asked for: the YES window and the once-an-hour resend count
    # from it.
    confirmation_message = models.ForeignKey("messaging.Message", null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+",
                                             db_index=False)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["list", "phone"], name="one_membership_per_list"),
        ]
        indexes = [
            models.Index(fields=["list", "status", "-id"]),
            models.Index(fields=["phone"]),
            # The sweep drops members who never confirmed.
            models.Index(fields=["confirmation_sent_at"], condition=Q(status="pending"),
                         name="subscription_pending"),
            # Foreign keys most rows leave empty (imports) are indexed where set: enough
            # for the deletes that null them, and nothing to write for the others.
            models.Index(fields=["confirmation_message"],
                         condition=Q(confirmation_message__isnull=False),
                         name="subscription_confirmation"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} on {self.list_id} ({self.status})"


class ListConsentEvent(models.Model):
    """One change of a number's membership of a list, kept for good."""

    class Action(models.TextChoices):
        PENDING = "pending"  # a confirmation was sent
        SUBSCRIBED = "subscribed"
        UNSUBSCRIBED = "unsubscribed"
        EXPIRED = "expired"  # never confirmed: dropped

    # No database constraint: the log outlives the list (the ORM nulls this when a list is
    # deleted), and an import's 100,000 rows would each pay a check at commit.
    list = models.ForeignKey(SubscriberList, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", db_constraint=False)
    # The list's name then: the log outlives the list.
    list_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=20)
    action = models.CharField(max_length=15, choices=Action.choices)
    source = models.CharField(max_length=10, choices=Subscription.Source.choices)
    # What proves it: the web form's call to action, the import's consent source and
    # note, a teammate's note, "Replied YES".
    evidence = models.TextField(blank=True)
    # The customer's text that carried it (the keyword, YES, STOP).
    message = models.ForeignKey("messaging.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+", db_index=False)
    # The confirmation this step sent or answered.
    confirmation_message = models.ForeignKey("messaging.Message", null=True, blank=True,
                                             on_delete=models.SET_NULL, related_name="+",
                                             db_index=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+", db_index=False)
    # Who acted when no user did: an API key's prefix, "customer", "web form from <ip>".
    actor_label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["phone", "-created_at"]),
            # Imports write 100,000 rows with none of these set: indexed where set only.
            *(models.Index(fields=[field], condition=Q(**{f"{field}__isnull": False}),
                           name=name)
              for field, name in (("message", "list_consent_message"),
                                  ("confirmation_message", "list_consent_confirmation"),
                                  ("actor", "list_consent_actor"))),
        ]

    def __str__(self) -> str:
        return f"{self.phone} {self.action} {self.list_name}"


class ListImport(models.Model):
    """A CSV of people who agreed elsewhere, subscribed by a task without any SMS; its
    progress and per-row errors are what the import page shows."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"

    list = models.ForeignKey(SubscriberList, on_delete=models.CASCADE, related_name="imports")
    file_name = models.CharField(max_length=200, blank=True)
    # The upload itself, kept until processed (the upload is capped).
    content = models.TextField()
    # Where and how these people agreed ("paper form at the Main St store"), and where the
    # proof is kept: both go into each member's consent log.
    consent_source = models.CharField(max_length=200)
    evidence = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    already = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # The first errors, as [{"line", "value", "code", "detail"}].
    errors = models.JSONField(default=_no_errors, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"list import {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else round(100 * self.processed_rows / self.total_rows)


def default_quiet_hours() -> dict:
    """Recipient-local hours outside which a campaign's message waits
    (docs/ARCHITECTURE.md#campaigns)."""
    return {"start": "08:00", "end": "21:00"}


def _no_audience() -> dict:
    return {"lists": [], "tags": []}


def _no_skips() -> dict:
    return {"opted_out": 0, "body_too_long": 0, "frequency_cap": 0, "quota_exceeded": 0}


class Campaign(models.Model):
    """One message to an audience, rendered per recipient; its messages carry its id
    (``Message.campaign_id``) and its counts by status are read from them."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"  # started, ``send_at`` still ahead
        SENDING = "sending"
        PAUSED = "paused"
        COMPLETED = "completed"
        CANCELED = "canceled"

    name = models.CharField(max_length=200)
    sender = models.ForeignKey("messaging.Sender", on_delete=models.PROTECT, related_name="+")
    # The reply-template syntax (``messaging.templates``), rendered per recipient.
    body = models.TextField()
    # {"lists": [ids], "tags": [names]}: subscribed members of any list or contacts with
    # any tag, each phone once.
    audience = models.JSONField(default=_no_audience)
    send_at = models.DateTimeField(null=True, blank=True)
    # Messages still waiting then end ``canceled``.
    expires_at = models.DateTimeField(null=True, blank=True)
    # {"start": "HH:MM", "end": "HH:MM"} in the recipient's local time; null: none.
    quiet_hours = models.JSONField(null=True, blank=True, default=default_quiet_hours)
    # Skip anyone the tenant texted in the last N hours; null: no cap.
    frequency_cap_hours = models.PositiveIntegerField(null=True, blank=True)
    track_links = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Messages created at start (the audience after every exclusion).
    recipients = models.PositiveIntegerField(default=0)
    # Contacts left out at start, by reason.
    skipped = models.JSONField(default=_no_skips)
    # The audience is resolved in chunks by contact id (``campaigns.sending``): the last
    # contact id done, committed with its chunk's messages, so a redelivered task resumes
    # there and nobody gets two messages; and when the last chunk was done.
    audience_cursor = models.BigIntegerField(default=0)
    audience_done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The sweep looks at campaigns still running only.
            models.Index(fields=["status"],
                         condition=Q(status__in=["scheduled", "sending", "paused"]),
                         name="campaign_running"),
        ]

    def __str__(self) -> str:
        return self.name


# --- Tracked links and reply actions (campaigns.links, campaigns.replies) -----------------

class TrackedLink(models.Model):
    """One recipient's short link to one URL of a campaign's message: the message carries
    ``{PUBLIC_BASE_URL}/l/<code>`` in place of the URL (``campaigns.links``); the public
    ``tenants.LinkRoute`` leads from the code to this schema."""

    # 10 letters and digits, unique across tenants (the public route holds them all).
    code = models.CharField(max_length=10, unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    phone = models.CharField(max_length=20)
    url = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.code} -> {self.url}"


class LinkClick(models.Model):
    """A person opening a tracked link (link previews and ``HEAD`` are not clicks)."""

    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks")
    # The link's, kept here so a campaign's clicks are counted (and charted over time)
    # from one index, without reading its links.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    at = models.DateTimeField()
    user_agent = models.CharField(max_length=500, blank=True)
    # An HMAC of the client's address: repeated clicks can be told apart from new people
    # without keeping anyone's address.
    ip_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["campaign", "at"])]

    def __str__(self) -> str:
        return f"click on {self.link_id} at {self.at}"


class ReplyAction(models.Model):
    """What a campaign's recipients get when they text ``keyword`` within 72 hours of its
    message (``campaigns.replies``): ``reply``, a reply template that may hand out a code
    of the action's pool (``{{ code }}``), or ``fallback_text`` once the pool is empty."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE,
                                 related_name="reply_actions")
    # Normalised as opt-out keywords are (``optout.keywords.keyword_normalize``).
    keyword = models.CharField(max_length=30)
    reply = models.TextField()
    fallback_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "keyword"],
                                    name="one_reply_action_per_keyword"),
        ]
        indexes = [
            # Every inbound text's first question: does any action answer this word?
            models.Index(fields=["keyword"]),
        ]

    def __str__(self) -> str:
        return f"{self.keyword} on campaign {self.campaign_id}"


class ReplyCode(models.Model):
    """A single-use code of a reply action's pool, given at most once, to one number."""

    # Indexed by the unique (action, code) below.
    action = models.ForeignKey(ReplyAction, on_delete=models.CASCADE, related_name="codes",
                               db_index=False)
    code = models.CharField(max_length=64)
    # Blank until given.
    phone = models.CharField(max_length=20, blank=True)
    given_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["action", "code"], name="one_code_per_pool"),
            # The same number asking again gets its code again, never a second one.
            models.UniqueConstraint(fields=["action", "phone"], condition=~Q(phone=""),
                                    name="one_code_per_number"),
        ]
        indexes = [
            # The next code to give: only those still in the pool.
            models.Index(fields=["action", "id"], condition=Q(phone=""),
                         name="reply_code_available"),
        ]

    def __str__(self) -> str:
        return f"code {self.pk} of action {self.action_id}"
