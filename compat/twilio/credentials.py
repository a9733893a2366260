"""A tenant's Twilio-style account: its SID and auth tokens (rotated through a secondary
token), its ``SK…`` API keys, and the check of the Basic-auth credentials a request sends.

Accounts and keys live in the public schema (``compat.public``): a request names its
Account SID or key SID before anyone knows the tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import api_key_digest
from compat.public.models import TwilioAccount, TwilioApiKey
from compat.twilio.sids import sid_new
from core.errors import DomainError
from tenants.models import Tenant

NO_SECONDARY_TOKEN = "no_secondary_token"  # noqa: S105 - an error code
INVALID_NAME = "invalid_name"
KEY_SECRET_ALPHABET = string.ascii_letters + string.digits
# What a token or key secret is compared against when there is none to compare: the
# work done for a wrong credential is the work done for a right one.
_FILLER = secrets.token_hex(16)
_COMPARE_KEY = secrets.token_bytes(32)


def _token() -> str:
    """An auth token as Twilio writes them: 32 lowercase hex digits."""
    return secrets.token_hex(16)


def twilio_account_ensure(*, tenant: Tenant) -> TwilioAccount:
    """The tenant's account, created with its SID and first token on first use; the same
    account (and so the same pair) on every later call. Safe to call concurrently."""
    account = TwilioAccount.objects.filter(tenant=tenant).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return TwilioAccount.objects.create(tenant=tenant, sid=sid_new("AC"),
                                                auth_token=_token())
    except IntegrityError:  # created meanwhile by another call
        return TwilioAccount.objects.get(tenant=tenant)


def twilio_account_for_schema(schema: str) -> TwilioAccount | None:
    return (TwilioAccount.objects.select_related("tenant")
            .filter(tenant__schema_name=schema).first())


def twilio_token_rotate(*, account: TwilioAccount) -> str:
    """Make a new secondary token and return it: it opens the account beside the primary
    until promoted. A secondary made before is replaced."""
    account.secondary_token, account.secondary_created_at = _token(), timezone.now()
    account.save(update_fields=["secondary_token", "secondary_created_at", "updated_at"])
    return account.secondary_token


def twilio_token_promote(*, account: TwilioAccount) -> None:
    """The secondary token becomes the primary; the old primary stops working at once,
    and signatures from now on use the new one."""
    with transaction.atomic():
        locked = TwilioAccount.objects.select_for_update().get(pk=account.pk)
        if not locked.secondary_token:
            raise DomainError(NO_SECONDARY_TOKEN,
                              "There is no secondary token to promote; rotate first.")
        locked.auth_token, locked.secondary_token = locked.secondary_token, ""
        locked.secondary_created_at = None
        locked.save(update_fields=["auth_token", "secondary_token", "secondary_created_at",
                                   "updated_at"])
    account.auth_token, account.secondary_token = locked.auth_token, ""
    account.secondary_created_at = None


def twilio_api_key_create(*, account: TwilioAccount, name: str,
                          created_by_label: str = "") -> tuple[TwilioApiKey, str]:
    """A new ``SK…`` key of the account and its secret, shown once (only an HMAC of it is
    kept)."""
    name = name.strip()
    max_length = TwilioApiKey._meta.get_field("name").max_length
    if not name or len(name) > max_length:
        raise DomainError(INVALID_NAME, f"A key needs a name of 1 to {max_length} characters.",
                          "name")
    secret = "".join(secrets.choice(KEY_SECRET_ALPHABET) for _ in range(32))
    key = TwilioApiKey.objects.create(account=account, sid=sid_new("SK"), name=name,
                                      digest=api_key_digest(secret),
                                      created_by_label=created_by_label[:254])
    return key, secret


def twilio_api_key_revoke(*, key: TwilioApiKey) -> None:
    """Revoke at once (keys are looked up on every request); revoking twice keeps the
    first time."""
    TwilioApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now())


def twilio_api_key_list(*, account: TwilioAccount) -> list[TwilioApiKey]:
    return list(account.api_keys.order_by("-created_at", "-id"))


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as: the account, through its token or one of its keys."""

    account: TwilioAccount
    api_key: TwilioApiKey | None

    @property
    def label(self) -> str:
        """The credential's SID, recorded as what sent a message."""
        return self.api_key.sid if self.api_key is not None else self.account.sid


def _equal(given: str, expected: str) -> bool:
    """Constant-time, whatever the lengths: both sides are first made into digests of
    the same size."""
    return hmac.compare_digest(
        hmac.new(_COMPARE_KEY, given.encode(errors="replace"), hashlib.sha256).digest(),
        hmac.new(_COMPARE_KEY, expected.encode(), hashlib.sha256).digest())


def twilio_authenticate(*, username: str, password: str) -> Principal | None:
    """The principal whose Basic-auth credentials these are, or None.

    ``username`` is an Account SID (then ``password`` is its primary or secondary token)
    or an API key SID (then its secret). Every check is made whatever the outcome of the
    others, so a wrong secret costs what a right one does.
    """
    if username.startswith("SK"):
        key = (TwilioApiKey.objects.select_related("account__tenant")
               .filter(sid=username, revoked_at__isnull=True).first())
        matches = hmac.compare_digest(key.digest if key is not None else api_key_digest(_FILLER),
                                      api_key_digest(password))
        if key is None or not matches:
            return None
        if key.last_used_at is None or timezone.now() - key.last_used_at > timedelta(minutes=1):
            TwilioApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return Principal(account=key.account, api_key=key)
    account = TwilioAccount.objects.select_related("tenant").filter(sid=username).first()
    primary = account.auth_token if account is not None else _FILLER
    secondary = (account.secondary_token if account is not None else "") or _FILLER
    # Both compared, always: ``|``, not ``or``.
    matches = _equal(password, primary) | _equal(password, secondary)
    if account is None or not matches:
        return None
    return Principal(account=account, api_key=None)
