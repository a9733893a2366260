"""allauth on a tenant's host.

Every link allauth emails (password reset, email confirmation) points at the tenant's
primary domain with the scheme and port of ``PUBLIC_BASE_URL``, as invitations do: the
request's ``Host`` header is chosen by the client, and any port on a tenant's host name
reaches the tenant. Mail leaves from a Celery task, so an unreachable mail server neither
fails the page nor shows whether an address has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.db import connection
from django.http import HttpRequest

from accounts.services import email_enqueue
from tenants.models import site_url


@dataclass(frozen=True)
class TenantSite:
    """What allauth's email templates read as ``current_site`` (by default a site made
    from the request's ``Host``)."""

    name: str
    domain: str


def tenant_site() -> TenantSite:
    """Precondition: the connection is set to a tenant's schema (allauth is routed on
    tenant hosts only)."""
    tenant = connection.tenant
    return TenantSite(name=tenant.name, domain=urlsplit(site_url(tenant.primary_host)).netloc)


def on_tenant_host(url: str) -> str:
    """``url``'s path on the tenant's primary domain, with ``PUBLIC_BASE_URL``'s scheme
    and port."""
    return site_url(connection.tenant.primary_host, urlsplit(url).path)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Tenants are created by the public signup; people join a tenant by invitation only.
        return False

    def get_reset_password_from_key_url(self, key: str) -> str:
        return on_tenant_host(super().get_reset_password_from_key_url(key))

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation) -> str:
        return on_tenant_host(super().get_email_confirmation_url(request, emailconfirmation))

    def format_email_subject(self, subject: str) -> str:
        return f"[{connection.tenant.name}] {subject}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        context = {"request": self.request, "email": email, "current_site": tenant_site(),
                   **context}
        email_enqueue(message=self.render_mail(template_prefix, email, context))
