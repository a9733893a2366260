"""Tenant status (active, suspended, closed) and plan caps: the operator's services and the
per-process cache the hot paths read (docs/ARCHITECTURE.md#tenant-status).

Sends, the send task and inbound routing ask for the tenant's state on every message, so
it is cached per process for ``TTL`` seconds like the routing caches: a suspension takes
effect within that time everywhere, at once in the process that made it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name

from tenants import error_codes
from tenants.audit import audit_record
from tenants.models import Tenant, TenantStatusChange
from tenants.routing_cache import routes_clear

TTL = 5.0
# Caps beyond these are typing mistakes, not plans: a billion segments a month, ten
# thousand a second, a hundred thousand senders.
MAX_MONTHLY_SEGMENTS = 1_000_000_000
MAX_SEGMENTS_PER_SECOND = 10_000
MAX_SENDERS = 100_000


@dataclass(frozen=True)
class TenantState:
    tenant_id: int
    slug: str
    status: str
    reason: str
    monthly_segment_cap: int | None
    segments_per_second_cap: int | None
    max_senders: int | None


_states: dict[str, tuple[float, TenantState | None]] = {}


def tenant_state(schema: str) -> TenantState | None:
    """The status and caps of the tenant living in ``schema`` (None for the public and
    template schemas, and unknown ones)."""
    now = time.monotonic()
    hit = _states.get(schema)
    if hit is not None and hit[0] > now:
        return hit[1]
    row = (Tenant.objects.filter(schema_name=schema, is_template=False)
           .exclude(schema_name=get_public_schema_name())
           .values_list("pk", "slug", "status", "status_reason", "monthly_segment_cap",
                        "segments_per_second_cap", "max_senders").first())
    state = TenantState(*row) if row is not None else None
    _states[schema] = (now + TTL, state)
    return state


def tenant_states_clear() -> None:
    _states.clear()


@receiver(post_save, sender=Tenant)
def _tenant_saved(**kwargs: Any) -> None:
    tenant_states_clear()


def tenant_customer_get(slug: str) -> Tenant:
    """A customer tenant by slug; the public and template rows are not customers. Raises
    ``ValidationError`` on ``slug``."""
    tenant = (Tenant.objects.filter(slug=slug, is_template=False)
              .exclude(schema_name=get_public_schema_name()).first())
    if tenant is None:
        raise ValidationError({"slug": ValidationError(
            f"No customer tenant {slug!r} (the public and template schemas are not tenants).",
            code=error_codes.UNKNOWN_TENANT)})
    return tenant


def tenant_status_set(*, tenant: Tenant, status: str, reason: str = "",
                      actor: str) -> Tenant:
    """Move a customer tenant to ``status`` and write the audit row, in one transaction
    with the tenant row locked. Closing unroutes its senders (inbound to them is 404
    ``unrouted_recipient``); any other status routes them again. Raises
    ``ValidationError`` keyed by field, changing nothing."""
    if status not in Tenant.Status.values:
        raise ValidationError({"status": ValidationError(
            f"{status!r} is not a status; use {', '.join(Tenant.Status.values)}.",
            code=error_codes.INVALID_STATUS)})
    if tenant.is_template or tenant.is_public:
        raise ValidationError({"slug": ValidationError(
            "The public and template schemas have no status.",
            code=error_codes.UNKNOWN_TENANT)})
    reason = (reason or "").strip()[:500]
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        TenantStatusChange.objects.create(tenant=locked, previous_status=locked.status,
                                          status=status, reason=reason, actor=actor[:150])
        audit_record(actor=actor, action="tenant.status", target=f"tenant:{locked.slug}",
                     tenant=locked, detail=f"{locked.status} -> {status}"
                     + (f": {reason}" if reason else ""))
        Tenant.objects.filter(pk=tenant.pk).update(status=status, status_reason=reason)
        # Now for this process, and again once committed (another thread may have read
        # the old row meanwhile).
        _caches_clear()
        transaction.on_commit(_caches_clear)
    tenant.status, tenant.status_reason = status, reason
    return tenant


def _caches_clear() -> None:
    tenant_states_clear()
    routes_clear()


def plan_validate(*, monthly_segment_cap: int | None, segments_per_second_cap: int | None,
                  max_senders: int | None) -> None:
    """Refuse a negative or absurd cap (``invalid_plan``, keyed by field)."""
    errors: dict[str, ValidationError] = {}
    for field, value, limit in (
            ("monthly_segment_cap", monthly_segment_cap, MAX_MONTHLY_SEGMENTS),
            ("segments_per_second_cap", segments_per_second_cap, MAX_SEGMENTS_PER_SECOND),
            ("max_senders", max_senders, MAX_SENDERS)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
            errors[field] = ValidationError(
                f"Give a whole number from 1 to {limit:,}, or leave it empty for no cap.",
                code=error_codes.INVALID_PLAN)
    if errors:
        raise ValidationError(errors)


def tenant_plan_set(*, tenant: Tenant, monthly_segment_cap: int | None,
                    segments_per_second_cap: int | None, max_senders: int | None,
                    actor: str) -> Tenant:
    """Set a customer tenant's caps (None: no cap) and audit the change. Raises
    ``ValidationError`` keyed by field, changing nothing."""
    plan_validate(monthly_segment_cap=monthly_segment_cap,
                  segments_per_second_cap=segments_per_second_cap, max_senders=max_senders)
    caps = {"monthly_segment_cap": monthly_segment_cap,
            "segments_per_second_cap": segments_per_second_cap, "max_senders": max_senders}
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        change = ", ".join(f"{field} {getattr(locked, field)} -> {value}"
                           for field, value in caps.items() if getattr(locked, field) != value)
        if change:
            TenantStatusChange.objects.create(
                tenant=locked, previous_status=locked.status, status=locked.status,
                change=f"plan: {change}"[:500], actor=actor[:150])
            audit_record(actor=actor, action="tenant.plan", target=f"tenant:{locked.slug}",
                         tenant=locked, detail=change)
            Tenant.objects.filter(pk=tenant.pk).update(**caps)
        tenant_states_clear()
        transaction.on_commit(tenant_states_clear)
    for field, value in caps.items():
        setattr(tenant, field, value)
    return tenant
