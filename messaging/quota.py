"""Whether the tenant may send now: its status and its plan's monthly segments
(docs/ARCHITECTURE.md#plans-and-quotas).

Every send path queues through ``messaging.outbound``, which asks here first. The opt-out
and HELP confirmations are exempt: they answer the customer's own request and the law
wants them, whatever the tenant's standing.
"""

from __future__ import annotations

import logging
from datetime import date

from django.core.mail import send_mail
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Role, User
from core.domain_events import event_publish, event_wanted
from core.errors import QUOTA_EXCEEDED, TENANT_CLOSED, TENANT_SUSPENDED, ForbiddenError
from messaging.events import USAGE_THRESHOLD
from tenants.models import QuotaUsage, Tenant
from tenants.status import TenantState, tenant_state

logger = logging.getLogger(__name__)

THRESHOLDS = (80, 100)


def tenant_send_check(*, exempt: bool = False) -> None:
    """Refuse sending for a suspended or closed tenant (403 ``tenant_suspended``,
    ``tenant_closed``); ``exempt`` is for the opt-out and HELP confirmations."""
    if exempt:
        return
    state = tenant_state(db_connection.schema_name)
    refusal = tenant_send_refusal(state)
    if refusal is not None:
        raise refusal


def tenant_send_refusal(state: TenantState | None) -> ForbiddenError | None:
    if state is None or state.status == Tenant.Status.ACTIVE:
        return None
    why = f" ({state.reason})" if state.reason else ""
    if state.status == Tenant.Status.SUSPENDED:
        return ForbiddenError(TENANT_SUSPENDED,
                              f"This account is suspended{why}: it may not send messages.")
    return ForbiddenError(TENANT_CLOSED, f"This account is closed{why}.")


def quota_refusal(cap: int) -> ForbiddenError:
    return ForbiddenError(QUOTA_EXCEEDED,
                          f"This month's {cap:,} segments of your plan are used up; the "
                          "message was not sent.")


def month_start(at: date | None = None) -> date:
    """The first day of the current calendar month, in UTC."""
    return (at or timezone.now().date()).replace(day=1)


def quota_reserve(*, costs: list[int]) -> list[bool]:
    """Take each send's segments (in order) from this month's cap while they fit; return
    which fit. Without a cap, all do and nothing is written.

    Precondition: inside the transaction that queues the messages, so a rolled-back send
    gives its segments back. The tenant's row for the month is locked until that commits:
    concurrent sends queue behind each other and never exceed the cap, and the 80% and
    100% warnings (an email to the owners and admins, a ``usage.threshold`` event) go out
    once a month.
    """
    state = tenant_state(db_connection.schema_name)
    if state is None or state.monthly_segment_cap is None:
        return [True] * len(costs)
    cap = state.monthly_segment_cap
    month = month_start()
    QuotaUsage.objects.bulk_create([QuotaUsage(tenant_id=state.tenant_id, month=month)],
                                   ignore_conflicts=True)
    usage = QuotaUsage.objects.select_for_update().get(tenant_id=state.tenant_id, month=month)
    used = usage.segments
    fits = []
    for cost in costs:
        fits.append(used + cost <= cap)
        used += cost if fits[-1] else 0
    reached = [threshold for threshold in THRESHOLDS
               if _warned(usage, threshold) is None
               and (used * 100 >= cap * threshold or (threshold == 100 and not all(fits)))]
    now = timezone.now()
    for threshold in reached:
        setattr(usage, f"warned_{threshold}_at", now)
    if used != usage.segments or reached:
        usage.segments = used
        usage.save(update_fields=["segments", "warned_80_at", "warned_100_at"])
    for threshold in reached:
        _threshold_announce(state=state, threshold=threshold, month=month, used=used, cap=cap)
    return fits


def _warned(usage: QuotaUsage, threshold: int):
    return getattr(usage, f"warned_{threshold}_at")


def quota_check(*, segments: int) -> int:
    """How many of ``segments`` this month's cap still allows (all of them without a cap);
    a read, for callers that plan a large send (campaigns skip the rest with
    ``quota_exceeded``) before ``quota_reserve`` takes them."""
    state = tenant_state(db_connection.schema_name)
    if state is None or state.monthly_segment_cap is None:
        return segments
    used = (QuotaUsage.objects.filter(tenant_id=state.tenant_id, month=month_start())
            .values_list("segments", flat=True).first() or 0)
    return max(0, min(segments, state.monthly_segment_cap - used))


def _threshold_announce(*, state: TenantState, threshold: int, month: date, used: int,
                        cap: int) -> None:
    """The ``usage.threshold`` event now (it commits with the send that crossed the line),
    the admins' email from a task once committed."""
    if event_wanted(type=USAGE_THRESHOLD):
        event_publish(type=USAGE_THRESHOLD, data={
            "threshold": threshold, "month": f"{month:%Y-%m}", "segments": used, "cap": cap})
    schema = db_connection.schema_name
    transaction.on_commit(lambda: _notify_enqueue(schema=schema, month=month))


def _notify_enqueue(*, schema: str, month: date) -> None:
    from messaging.tasks import usage_threshold_notify

    try:
        usage_threshold_notify.apply_async(kwargs={"month": month.isoformat()},
                                           headers={"_schema_name": schema}, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.error("broker unavailable; usage warning of %s for %s not emailed", schema,
                     month, exc_info=True)


def quota_warnings_sweep(*, schema: str, stale_before) -> int:
    """Enqueue the email of warnings whose task was lost (a broker outage at the commit);
    return how many months. Only a tenant with a cap has any."""
    state = tenant_state(schema)
    if state is None or state.monthly_segment_cap is None:
        return 0
    months = list(QuotaUsage.objects.filter(
        Q(warned_80_at__lt=stale_before, emailed_80_at__isnull=True)
        | Q(warned_100_at__lt=stale_before, emailed_100_at__isnull=True),
        tenant_id=state.tenant_id).values_list("month", flat=True))
    for month in months:
        _notify_enqueue(schema=schema, month=month)
    return len(months)


def usage_threshold_notify(*, month: date) -> int:
    """Email the tenant's owners and admins each threshold of ``month`` reached and not yet
    emailed; return how many emails left. The month's row is locked while sending, so a
    redelivered task sends nothing twice (a worker dying mid-send may, once)."""
    state = tenant_state(db_connection.schema_name)
    if state is None:
        return 0
    sent = 0
    with transaction.atomic():
        usage = (QuotaUsage.objects.select_for_update()
                 .filter(tenant_id=state.tenant_id, month=month).first())
        if usage is None:
            return 0
        recipients = list(User.objects.filter(is_active=True,
                                              role__in=[Role.OWNER, Role.ADMIN])
                          .values_list("email", flat=True))
        tenant = Tenant.objects.only("name").get(pk=state.tenant_id)
        for threshold in THRESHOLDS:
            if (getattr(usage, f"warned_{threshold}_at") is None
                    or getattr(usage, f"emailed_{threshold}_at") is not None):
                continue
            if recipients:
                _threshold_email(tenant_name=tenant.name, threshold=threshold, month=month,
                                 used=usage.segments, cap=state.monthly_segment_cap,
                                 recipients=recipients)
                sent += 1
            setattr(usage, f"emailed_{threshold}_at", timezone.now())
        usage.save(update_fields=["emailed_80_at", "emailed_100_at"])
    return sent


def _threshold_email(*, tenant_name: str, threshold: int, month: date, used: int,
                     cap: int | None, recipients: list[str]) -> None:
    subject = (f"{tenant_name}: {threshold}% of this month's segments used"
               if threshold < 100 else f"{tenant_name}: this month's segments are used up")
    body = render_to_string("tenants/usage/email_threshold.txt", {
        "tenant_name": tenant_name, "threshold": threshold, "month": f"{month:%Y-%m}",
        "segments": used, "cap": cap})
    send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients)
