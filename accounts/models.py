"""Users. The table exists in every schema: in ``public`` it holds operator staff, in a
tenant's schema that tenant's team. A user of one tenant therefore does not exist on another
tenant's host at all."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    is_active = models.BooleanField(default=True)
    # Operator console access (public schema only).
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_tenant_admin(self) -> bool:
        return self.role in {Role.OWNER, Role.ADMIN}


class MailStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Not sent yet, retrying"
    FAILED = "failed", "Not sent"


class Invitation(models.Model):
    """An invitation to join the tenant's team.

    The link's token is an HMAC of the invitation (see ``accounts.services``) keyed with
    ``SECRET_KEY``; only its random nonce is stored, so neither the database nor the task queue
    ever holds a usable token.
    """

    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=[(Role.ADMIN, "Admin"), (Role.AGENT, "Agent")], default=Role.AGENT
    )
    nonce = models.CharField(max_length=32)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # What became of the email, as the worker saw it: the team page says so, so that an
    # invitation nobody received is not taken for sent (docs/PORTAL.md#senders-team-and-settings).
    mail_status = models.CharField(max_length=10, choices=MailStatus.choices,
                                   default=MailStatus.SENDING)
    mail_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True),
                name="one_pending_invitation_per_email",
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class ApiKey(models.Model):
    """A developer's key for the REST API.

    The key is a long random secret, shown once. Only its prefix (to find the row and to
    recognise it in lists) and an HMAC-SHA256 of the whole key are stored: a password hasher
    would cost a second per request for no gain on a secret this long.
    """

    SCOPES = ("messages:send", "messages:read", "contacts", "settings", "campaigns")

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


API_KEY_PREFIX = "sk_"


def api_key_digest(key: str) -> str:
    # Keyed with API_KEY_HMAC_KEY: a stolen table of digests is useless without it.
    return hmac.new(settings.API_KEY_HMAC_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()


class IdempotentRequest(models.Model):
    """The first answer to a POST sent with an ``Idempotency-Key``, kept 24 hours so that a
    client retrying after a timeout gets it back instead of a second message.

    ``principal`` says whose key it is (one API key, or one signed-in user), so two clients
    choosing the same key never see each other's answers; ``fingerprint`` is a digest of the
    request (path, content type, body) that tells a genuine retry from a reused key.
    """

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"],
                                               name="idempotent_request_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"
