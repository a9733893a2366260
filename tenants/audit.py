"""The operator console's audit log: who did what to which tenant, sender, connection or
route, and when (docs/ARCHITECTURE.md#operator-console)."""

from __future__ import annotations

from tenants.models import OperatorAuditEntry, Tenant


def audit_record(*, actor: str, action: str, target: str, tenant: Tenant | None = None,
                 detail: str = "") -> OperatorAuditEntry:
    """Record an operator's action; call inside the transaction that makes the change, so
    a change and its record commit together."""
    return OperatorAuditEntry.objects.create(actor=actor[:254], action=action,
                                             target=target[:200], tenant=tenant,
                                             detail=detail)
