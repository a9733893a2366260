from __future__ import annotations

import zoneinfo
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import get_public_schema_name

from core.secrets import SecretsJSONField
from tenants.cloning import schema_clone
from tenants.provider_kinds import secret_setting_keys


class Tenant(TenantMixin):
    """An enterprise customer, living in its own PostgreSQL schema.

    Two rows are not customers: the public tenant (operator site, schema ``public``) and the
    template (``is_template``, schema ``TENANT_BASE_SCHEMA``). The template is a tenant row so
    that ``migrate_schemas`` keeps it migrated with every other schema; new tenants are cloned
    from it.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        # Reads and inbound work; sends are refused (docs/ARCHITECTURE.md#tenant-status).
        SUSPENDED = "suspended"
        # No sign-in, no API, senders unrouted.
        CLOSED = "closed"

    slug = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    # Schedules (business hours, rule schedules) and the inbox's times are in this zone.
    timezone = models.CharField(max_length=64, default="UTC")
    is_template = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Shown to the tenant's staff on the sign-in page while suspended or closed.
    status_reason = models.CharField(max_length=500, blank=True)
    # The plan: null is no cap (docs/ARCHITECTURE.md#plans-and-quotas).
    monthly_segment_cap = models.PositiveIntegerField(null=True, blank=True)
    segments_per_second_cap = models.PositiveIntegerField(null=True, blank=True)
    max_senders = models.PositiveIntegerField(null=True, blank=True)

    auto_create_schema = True
    auto_drop_schema = True
    # Copy the template's rows too: its migration history, content types and permissions.
    clone_mode = "DATA"

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """``timezone`` as a zone; UTC should the name no longer be known (tzdata moves
        on), so a page never fails over it."""
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        # A directory's name ("America") is an OSError.
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return zoneinfo.ZoneInfo("UTC")

    @property
    def is_public(self) -> bool:
        return self.schema_name == get_public_schema_name()

    @property
    def primary_host(self) -> str:
        domain = self.get_primary_domain()
        return domain.domain if domain else tenant_host(self.slug)

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1) -> None:
        """Customer tenants are cloned from the template by ``tenants.cloning`` (constant
        time, no migrations to fake: the migration history is copied with the rows); the
        template itself is built by django-tenants, running every migration."""
        if self.is_template or self.is_public:
            super().create_schema(check_if_exists, sync_schema, verbosity)
            return
        schema_clone(source=settings.TENANT_BASE_SCHEMA, target=self.schema_name)


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


def schema_name_for(slug: str) -> str:
    """Slugs allow hyphens, schema names are safer without: ``acme-co`` -> ``t_acme_co``."""
    return "t_" + slug.replace("-", "_")


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def site_url(host: str, path: str = "/") -> str:
    """An absolute URL on ``host`` with the scheme and port of ``PUBLIC_BASE_URL``."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    netloc = f"{host}:{public.port}" if public.port else host
    return urlunsplit((public.scheme, netloc, path, "", ""))


class ProviderConnection(models.Model):
    """How messages leave and arrive: a provider account (or the simulator), operator-level.

    Settings hold credentials: the keys each kind declares secret (``tenants.provider_kinds``)
    are stored encrypted and never shown back in full.
    """

    class Kind(models.TextChoices):
        SIMULATOR = "simulator"
        TWILIO = "twilio"
        VONAGE = "vonage"
        HTTP = "http"
        SMPP = "smpp"

    name = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    settings = SecretsJSONField(default=dict, blank=True, secret_keys=secret_setting_keys)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    SIMULATOR_NAME = "simulator"

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def masked_settings(self) -> dict[str, str]:
        return {
            key: mask_secret(str(value)) if key in secret_setting_keys() else str(value)
            for key, value in sorted(self.settings.items())
        }


class Route(models.Model):
    """Outbound routing with failover (docs/ARCHITECTURE.md#routing): a sender registered on
    a route (``Sender.connection`` = ``route:<name>``) sends each message through the
    connections of the entry whose destination prefix is the longest match, the first
    that is up."""

    # A sender names it as ``route:<name>`` in a 50-character column.
    NAME_MAX = 40

    name = models.SlugField(max_length=NAME_MAX, unique=True)
    # Order the matching entries by their cost per segment rather than by position.
    cheapest_first = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RouteEntry(models.Model):
    """A destination prefix (``+`` and up to 15 digits; ``+`` alone matches every number),
    the connections to try in order, and what a segment costs through them. Several
    entries may share a prefix: they are tried by position, or cheapest first."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="entries")
    position = models.PositiveIntegerField()
    prefix = models.CharField(max_length=16)
    cost_per_segment = models.DecimalField(max_digits=10, decimal_places=5, null=True,
                                           blank=True)
    connections = models.ManyToManyField(ProviderConnection, through="RouteEntryConnection",
                                         related_name="route_entries")

    class Meta:
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(fields=["route", "position"], name="one_entry_per_position"),
        ]

    def __str__(self) -> str:
        return f"{self.route.name} {self.prefix}"


class RouteEntryConnection(models.Model):
    entry = models.ForeignKey(RouteEntry, on_delete=models.CASCADE, related_name="hops")
    # A connection a route sends through cannot be deleted from under it.
    connection = models.ForeignKey(ProviderConnection, on_delete=models.PROTECT,
                                   related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["entry", "position"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "connection"],
                                    name="one_hop_per_entry_connection"),
        ]

    def __str__(self) -> str:
        return f"{self.entry} #{self.position}"


class SenderRoute(models.Model):
    """Public routing table: an approved sender address belongs to exactly one tenant.

    Inbound webhooks arrive on the public host; this row tells which schema the message
    goes to. It exists only while the sender is approved. A sender on a route accepts
    inbound from any connection of its route.
    """

    address = models.CharField(max_length=20, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sender_routes")
    sender_id = models.BigIntegerField()
    connection = models.ForeignKey(ProviderConnection, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="routes")
    route = models.ForeignKey(Route, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="sender_routes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(connection__isnull=False, route__isnull=True)
                | models.Q(connection__isnull=True, route__isnull=False),
                name="sender_route_connection_or_route"),
        ]

    def __str__(self) -> str:
        return f"{self.address} -> {self.tenant.slug}"


def mask_secret(value: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    return "****" + value[-4:] if len(value) > 8 else "****"


class MessageRoute(models.Model):
    """Public index of sent messages: a status callback names only the connection and the
    provider's message id, and this row says which tenant's message that is."""

    connection = models.CharField(max_length=50)
    provider_message_id = models.CharField(max_length=100)
    # The schema rather than a key to Tenant: the sending worker knows only its schema.
    schema_name = models.CharField(max_length=63)
    message_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "provider_message_id"],
                                    name="one_route_per_provider_message")
        ]

    def __str__(self) -> str:
        return f"{self.connection}:{self.provider_message_id}"


class LinkRoute(models.Model):
    """Public index of tracked-link codes: a campaign's short link
    (``{PUBLIC_BASE_URL}/l/<code>``) is opened on the public host, and this row says which
    tenant's link the code is. Codes are unique across tenants."""

    # The key itself: one index to write per link, and the insert returns the codes it took.
    code = models.CharField(max_length=10, primary_key=True)
    # The schema rather than a key to Tenant, as ``MessageRoute``: the campaign's sending
    # knows only its schema.
    schema_name = models.CharField(max_length=63)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.code} -> {self.schema_name}"


class OperatorAuditEntry(models.Model):
    """What an operator did, to what, when: the console's audit log (public schema). The
    actor is kept as an email, so the record outlives the account."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=254)
    action = models.CharField(max_length=50)
    # What was acted on, as ``<kind>:<name>`` (``sender:+14155550100``, ``route:eu``).
    target = models.CharField(max_length=200)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True,
                               related_name="audit_entries")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
class TenantStatusChange(models.Model):
    """The audit of an operator's status and plan changes: who, when, from what to what,
    and why."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="status_changes")
    previous_status = models.CharField(max_length=10)
    status = models.CharField(max_length=10)
    # What else changed (a plan's caps), in words.
    change = models.CharField(max_length=500, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # The operator's user name, or "command" for `tenant_status`.
    actor = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.previous_status} -> {self.status}"


class UsageCounter(models.Model):
    """Metered messages and segments (docs/ARCHITECTURE.md#metering): one row per tenant,
    UTC day, direction, sender, connection and customer number (its country and first
    digits, which the billing export prices). Counted when a message is processed or sent,
    never by scanning messages."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    direction = models.CharField(max_length=10)
    sender = models.CharField(max_length=20)
    connection = models.CharField(max_length=50)
    # The customer's number: the recipient outbound, the sender inbound.
    country = models.CharField(max_length=2, blank=True)
    prefix = models.CharField(max_length=6, blank=True)
    messages = models.BigIntegerField(default=0)
    segments = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "direction", "sender", "connection", "country",
                        "prefix"], name="one_usage_counter_per_key"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.direction} {self.segments}"


class QuotaUsage(models.Model):
    """Segments a tenant's sends have taken of its monthly cap, counted when each is
    accepted, and when its admins were told it reached 80% and 100%. The row is locked
    while a send is admitted, so concurrent sends never exceed the cap."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quota_usage")
    month = models.DateField()  # the first day of the calendar month (UTC)
    segments = models.BigIntegerField(default=0)
    warned_80_at = models.DateTimeField(null=True, blank=True)
    warned_100_at = models.DateTimeField(null=True, blank=True)
    # Set once the owners and admins were emailed about it.
    emailed_80_at = models.DateTimeField(null=True, blank=True)
    emailed_100_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "month"],
                                               name="one_quota_usage_per_month")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.month:%Y-%m}: {self.segments}"


class Price(models.Model):
    """The operator's price per segment for numbers starting with ``prefix`` (digits of
    E.164 without the plus); the longest matching prefix wins."""

    prefix = models.CharField(max_length=6, unique=True)
    price_per_segment = models.DecimalField(max_digits=12, decimal_places=6)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prefix"]

    def __str__(self) -> str:
        return f"{self.prefix}: {self.price_per_segment} {self.currency}"
