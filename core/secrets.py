"""Secrets encrypted at rest: provider credentials, webhook and forwarding signing secrets.

A copy of the database (a backup, a replica, a leaked dump) must not hand over the keys to
the tenants' Twilio accounts or let anyone forge their webhooks. Values are encrypted with
Fernet (AES-128-CBC + HMAC-SHA256) under ``FIELD_ENCRYPTION_KEYS`` from the environment:
the first key encrypts, every key decrypts, so a key is rotated by putting the new one
first and re-saving (``manage.py secrets_reencrypt``). Stored values read ``enc:<token>``;
a value without the prefix (written before encryption) is read as is and encrypted on its
next save.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Collection

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:"


def _fernet_key(key: str) -> bytes:
    """A Fernet key as given, or one derived from any other secret string."""
    try:
        if len(base64.urlsafe_b64decode(key.encode())) == 32:
            return key.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())


@functools.cache
def _fernet() -> MultiFernet:
    keys = [key for key in settings.FIELD_ENCRYPTION_KEYS if key]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def secret_encrypt(value: str) -> str:
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def secret_decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: was the key "
            "changed without keeping the old one in the list?") from exc


class EncryptedTextField(models.TextField):
    """Text stored encrypted; Python code sees the plain value. Not searchable (by design)."""

    def from_db_value(self, value, expression, connection):
        return value if value is None else secret_decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value in (None, "") else secret_encrypt(value)


class SecretsJSONField(models.JSONField):
    """A JSON object of settings whose secret keys (``secret_keys``) are stored encrypted
    and the rest in clear, so an operator can still read which account a connection uses."""

    def __init__(self, *args,
                 secret_keys: tuple[str, ...] | Callable[[], Collection[str]] = (),
                 **kwargs) -> None:
        # A callable is asked at each use: the keys may be declared by apps loaded later.
        self._secret_keys = secret_keys if callable(secret_keys) else tuple(secret_keys)
        super().__init__(*args, **kwargs)

    @property
    def secret_keys(self) -> Collection[str]:
        return self._secret_keys() if callable(self._secret_keys) else self._secret_keys

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["secret_keys"] = self._secret_keys
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        if not isinstance(value, dict):
            return value
        return {key: secret_decrypt(item) if key in self.secret_keys and isinstance(item, str)
                else item for key, item in value.items()}

    def get_prep_value(self, value):
        if isinstance(value, dict):
            value = {key: secret_encrypt(item)
                     if key in self.secret_keys and isinstance(item, str) and item
                     and not item.startswith(PREFIX) else item
                     for key, item in value.items()}
        return super().get_prep_value(value)
