"""Twilio-dialect credentials, in the public schema: a request names an Account SID (in
its path, or as its Basic-auth user) before anyone knows the tenant, and these rows say
which tenant that is and what opens it."""

from __future__ import annotations

from django.db import models

from core.secrets import EncryptedTextField
from tenants.models import Tenant


class TwilioAccount(models.Model):
    """A tenant's Twilio-style account: its SID, and the auth tokens that open it.

    Tokens are random secrets the tenant must be able to read again (they sign what we
    send their apps), so they are encrypted at rest, not hashed. A secondary token opens
    the account too until it is promoted, which replaces the primary: a client can move
    to a new token before the old one stops working.
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="twilio_account")
    sid = models.CharField(max_length=34, unique=True)
    auth_token = EncryptedTextField()
    secondary_token = EncryptedTextField(blank=True)
    secondary_created_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sid"]

    def __str__(self) -> str:
        return self.sid


class TwilioApiKey(models.Model):
    """An API key of a Twilio-style account: ``SK…`` as the Basic-auth user and a secret,
    shown once, as the password. Only an HMAC of the secret is stored, as for the portal's
    own API keys. Public, because Twilio's v1 APIs name no account in their paths: the
    key's SID alone must lead to the tenant."""

    account = models.ForeignKey(TwilioAccount, on_delete=models.CASCADE,
                                related_name="api_keys")
    sid = models.CharField(max_length=34, unique=True)
    name = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    # Who created it, as text: users live in the tenant's schema.
    created_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sid})"
