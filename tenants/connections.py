"""Provider connections: the operator's accounts with providers (public schema)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from core.outbound_http import UnsafeURLError, url_check
from tenants import error_codes
from tenants.models import ProviderConnection
from tenants.provider_kinds import provider_kind, provider_kind_names
from tenants.routing_cache import connection_cached

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def settings_problems(kind: str, settings: dict[str, str]) -> list[tuple[str | None, str]]:
    """What is wrong with a kind's settings, as ``(setting key or None, message)``: unknown
    keys (a typo worth refusing), missing credentials, base URLs this installation may not
    call, values that do not parse. The kind's backend declares all of it."""
    declared = provider_kind(kind)
    allowed = declared.keys
    problems: list[tuple[str | None, str]] = [
        (None, f"{key!r} is not a {kind} setting (use {', '.join(sorted(allowed)) or 'none'}).")
        for key in sorted(set(settings) - allowed)
    ]
    # A blank value (say, `--set auth_token=$TOKEN` with TOKEN unset) is as good as none.
    given = {key for key, value in settings.items() if str(value).strip()}
    problems += [(key, f"{key!r} is required for {kind}.")
                 for key in sorted(declared.required - given)]
    for key in sorted(declared.urls & set(settings)):
        try:
            url_check(settings[key])
        except UnsafeURLError as exc:
            problems.append((key, f"{key}: {exc}"))
    return problems + declared.value_problems(settings)


def connection_add(*, name: str, kind: str, settings: dict[str, str]) -> ProviderConnection:
    """Create a connection after checking its name, kind and settings keys."""
    errors: dict[str, list[ValidationError]] = {}
    if provider_kind(kind) is None:
        errors["kind"] = [ValidationError(
            f"Unknown kind {kind!r}; kinds are {', '.join(provider_kind_names())}.",
            code=error_codes.UNKNOWN_KIND)]
    elif problems := settings_problems(kind, settings):
        errors["settings"] = [ValidationError(message, code=error_codes.INVALID_SETTINGS)
                              for _, message in problems]
    if not NAME_PATTERN.match(name or ""):
        errors["name"] = [ValidationError(
            "Use 1-50 lowercase letters, digits, hyphens and underscores (it appears in the "
            "webhook URLs).", code=error_codes.INVALID_NAME)]
    elif ProviderConnection.objects.filter(name=name).exists():
        errors["name"] = [ValidationError(f"A connection named {name!r} exists.",
                                          code=error_codes.CONNECTION_EXISTS)]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return ProviderConnection.objects.create(name=name, kind=kind, settings=settings)


def connection_get_active(name: str) -> ProviderConnection | None:
    """The active connection called ``name`` (cached per process for a few seconds)."""
    return connection_cached(name)


def connection_names_active() -> list[str]:
    """The names of the active connections: any tenant may register a sender on any of
    them."""
    return list(ProviderConnection.objects.filter(is_active=True).order_by("name")
                .values_list("name", flat=True))
