from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.utils import get_public_schema_name

from tenants.cloning import schema_clone


class Tenant(TenantMixin):
    """An enterprise customer, living in its own PostgreSQL schema.

    Two rows are not customers: the public tenant (operator site, schema ``public``) and the
    template (``is_template``, schema ``TENANT_BASE_SCHEMA``). The template is a tenant row so
    that ``migrate_schemas`` keeps it migrated with every other schema; new tenants are cloned
    from it.
    """

    slug = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    is_template = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True
    # Copy the template's rows too: its migration history, content types and permissions.
    clone_mode = "DATA"

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.schema_name == get_public_schema_name()

    @property
    def primary_host(self) -> str:
        domain = self.get_primary_domain()
        return domain.domain if domain else tenant_host(self.slug)

    def create_schema(self, check_if_exists=False, sync_schema=True, verbosity=1) -> None:
        """Customer tenants are cloned from the template by ``tenants.cloning`` (constant
        time, no migrations to fake: the migration history is copied with the rows); the
        template itself is built by django-tenants, running every migration."""
        if self.is_template or self.is_public:
            super().create_schema(check_if_exists, sync_schema, verbosity)
            return
        schema_clone(source=settings.TENANT_BASE_SCHEMA, target=self.schema_name)


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


def schema_name_for(slug: str) -> str:
    """Slugs allow hyphens, schema names are safer without: ``acme-co`` -> ``t_acme_co``."""
    return "t_" + slug.replace("-", "_")


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def site_url(host: str, path: str = "/") -> str:
    """An absolute URL on ``host`` with the scheme and port of ``PUBLIC_BASE_URL``."""
    public = urlsplit(settings.PUBLIC_BASE_URL)
    netloc = f"{host}:{public.port}" if public.port else host
    return urlunsplit((public.scheme, netloc, path, "", ""))
