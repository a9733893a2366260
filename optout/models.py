"""A tenant's opt-out state (tenant schema): its keyword settings, who is opted out, and the
consent log that proves every change afterwards."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from optout import keywords


def _default_optout_keywords() -> list[str]:
    return list(keywords.DEFAULT_OPTOUT)


def _default_optin_keywords() -> list[str]:
    return list(keywords.DEFAULT_OPTIN)


def _default_help_keywords() -> list[str]:
    return list(keywords.DEFAULT_HELP)


class OptOutSettings(models.Model):
    """One row per tenant (pk 1). A blank confirmation text means the default, which names
    the business as it is called at send time."""

    class Scope(models.TextChoices):
        TENANT = "tenant"  # STOP to any sender stops every sender of the tenant
        SENDER = "sender"  # STOP stops only the sender it was sent to

    optout_keywords = ArrayField(models.CharField(max_length=30),
                                 default=_default_optout_keywords)
    optin_keywords = ArrayField(models.CharField(max_length=30), default=_default_optin_keywords)
    help_keywords = ArrayField(models.CharField(max_length=30), default=_default_help_keywords)
    optout_reply = models.TextField(blank=True)
    optin_reply = models.TextField(blank=True)
    help_reply = models.TextField(blank=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.TENANT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "opt-out settings"

    def __str__(self) -> str:
        return "Opt-out settings"


class OptOut(models.Model):
    """A phone number that must receive nothing (but the one confirmation) — from every
    sender of the tenant when ``sender_address`` is blank, else from that sender only."""

    phone = models.CharField(max_length=20)
    sender_address = models.CharField(max_length=20, blank=True)
    source = models.CharField(max_length=10)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["phone", "sender_address"], name="one_optout_per_scope")
        ]

    def __str__(self) -> str:
        return self.phone


class ConsentEvent(models.Model):
    """One change of a number's consent, kept for good: the proof asked for afterwards."""

    class Action(models.TextChoices):
        OPT_OUT = "opt_out"
        OPT_IN = "opt_in"

    class Source(models.TextChoices):
        KEYWORD = "keyword"
        API = "api"
        ADMIN = "admin"
        IMPORT = "import"

    phone = models.CharField(max_length=20)
    action = models.CharField(max_length=10, choices=Action.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    sender_address = models.CharField(max_length=20, blank=True)
    # The inbound message that carried the keyword, when one did.
    message = models.ForeignKey("messaging.Message", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    # Who acted when no user did: an API key's prefix, "customer" for a keyword.
    actor_label = models.CharField(max_length=100, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["phone", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.phone} {self.action}"


class OptOutImport(models.Model):
    """A CSV of numbers to opt out, processed by a task; its progress and per-row errors
    are what the import page shows."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    file_name = models.CharField(max_length=200, blank=True)
    # The upload itself, kept until processed: a few MB at most (the view caps it).
    content = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    already = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # The first errors, as [{"line", "value", "detail"}].
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else round(100 * self.processed_rows / self.total_rows)
