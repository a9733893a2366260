"""Writes for tenants: the operator site's public tenant, the template, and provisioning."""

from __future__ import annotations

import re
import zoneinfo

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from accounts.models import Role, User
from tenants import error_codes
from tenants.models import Domain, Tenant, schema_name_for, tenant_host

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,28})[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "www", "api", "admin", "public", "operator", "template", "static", "media", "mail",
        "smtp", "webhooks", "status", "help", "support", "docs", "app", "dashboard", "login",
        "signup", "accounts", "root", "system",
    }
)


def public_tenant_ensure() -> Tenant:
    """The operator site's tenant (schema ``public``) with ``BASE_DOMAIN`` as its host."""
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"slug": "public", "name": "Operator"},
    )
    Domain.objects.update_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
    )
    return tenant


def template_tenant_ensure() -> Tenant:
    """The schema new tenants are cloned from; created (by migrating) when missing."""
    tenant = Tenant.objects.filter(is_template=True).first()
    if tenant is None:
        tenant = Tenant(
            schema_name=settings.TENANT_BASE_SCHEMA,
            slug="template",
            name="Template",
            is_template=True,
        )
        tenant.save(verbosity=0)
    return tenant


def tenant_validate(
    *, slug: str, name: str, owner_email: str, owner_password: str, domain: str | None = None
) -> None:
    """Raise ``ValidationError`` keyed by field for anything that would stop provisioning.

    Every check runs before anything is written, so a refused signup leaves no schema behind.
    """
    errors: dict[str, list[ValidationError]] = {}

    def add(field: str, message: str, code: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code))

    if not SLUG_PATTERN.match(slug or ""):
        add(
            "slug",
            "Use 3-30 lowercase letters, digits and hyphens, starting and ending with a letter "
            "or digit.",
            error_codes.INVALID_SLUG,
        )
    elif slug in RESERVED_SLUGS:
        add("slug", f"'{slug}' is reserved; choose another.", error_codes.RESERVED_SLUG)
    elif Tenant.objects.filter(slug=slug).exists() or Tenant.objects.filter(
        schema_name=schema_name_for(slug)
    ).exists():
        add("slug", f"'{slug}' is already taken.", error_codes.SLUG_TAKEN)

    if not (name or "").strip():
        add("name", "Enter the company name.", error_codes.NAME_REQUIRED)

    try:
        validate_email(owner_email or "")
    except ValidationError:
        add("owner_email", "Enter a valid email address.", error_codes.INVALID_EMAIL)

    try:
        password_validation.validate_password(
            owner_password or "", User(email=owner_email or "")
        )
    except ValidationError as exc:
        for error in exc.error_list:
            add("owner_password", " ".join(error.messages), error_codes.WEAK_PASSWORD)

    host = (domain or (tenant_host(slug) if slug else "")).lower()
    if host and Domain.objects.filter(domain=host).exists():
        add("domain", f"The host '{host}' is already in use.", error_codes.DOMAIN_TAKEN)

    if errors:
        raise ValidationError(errors)


def tenant_provision(
    *, slug: str, name: str, owner_email: str, owner_password: str, domain: str | None = None
) -> Tenant:
    """Create a tenant: its schema (cloned from the template), its host and its owner.

    Runs in one transaction: PostgreSQL DDL is transactional, so any failure leaves neither a
    tenant row nor a schema. The owner's email counts as verified.
    """
    tenant_validate(
        slug=slug, name=name, owner_email=owner_email, owner_password=owner_password,
        domain=domain,
    )
    try:
        with transaction.atomic():
            tenant = Tenant(schema_name=schema_name_for(slug), slug=slug, name=name.strip())
            tenant.save(verbosity=0)
            Domain.objects.create(
                domain=(domain or tenant_host(slug)).lower(), tenant=tenant, is_primary=True
            )
            with schema_context(tenant.schema_name):
                owner = User.objects.create_user(owner_email, owner_password, role=Role.OWNER)
                EmailAddress.objects.create(
                    user=owner, email=owner.email, primary=True, verified=True
                )
    except (IntegrityError, ValidationError) as exc:
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            raise
        # A concurrent provisioning took the slug or host after validation; nothing was kept.
        raise ValidationError(
            {"slug": ValidationError(f"'{slug}' is already taken.", code=error_codes.SLUG_TAKEN)}
        ) from None
    return tenant


def tenant_settings_update(*, tenant: Tenant, name: str, timezone: str) -> Tenant:
    """The business's name (in confirmation texts and the portal) and its timezone (business
    hours, rule schedules, the inbox's times). Raises ``ValidationError`` keyed by field."""
    name = (name or "").strip()
    errors: dict[str, ValidationError] = {}
    if not name:
        errors["name"] = ValidationError("Enter the company name.",
                                         code=error_codes.NAME_REQUIRED)
    if timezone not in zoneinfo.available_timezones():
        errors["timezone"] = ValidationError(f"{timezone!r} is not a known timezone.",
                                             code=error_codes.INVALID_TIMEZONE)
    if errors:
        raise ValidationError(errors)
    tenant.name, tenant.timezone = name[:200], timezone
    # Only these columns: the row also holds the schema name and flags nobody edits here.
    Tenant.objects.filter(pk=tenant.pk).update(name=tenant.name, timezone=tenant.timezone)
    return tenant
