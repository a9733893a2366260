"""URLs served on the public host (``BASE_DOMAIN``): signup, the operator console, the
campaigns' tracked links and, for superusers only, Django's admin. (Provider webhooks are
answered earlier, by ``messaging.webhooks.WebhookMiddleware``.)"""

from django.contrib import admin
from django.urls import include, path

from campaigns.reply_urls import link_urlpatterns
from console.access import operator_required
from cpaas.metrics import metrics_view
from tenants import usage_views
from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    path("operator/admin/", admin.site.urls),
    # The usage and tenant-status pages live with the data they show (tenants), inside the
    # console's frame and access rule.
    path("operator/usage/", operator_required()(usage_views.usage_view), name="operator_usage"),
    path("operator/usage/export.csv", operator_required()(usage_views.usage_export_view),
         name="operator_usage_export"),
    path("operator/tenants/<slug:slug>/status",
         operator_required("tenants.change_tenant")(usage_views.tenant_status_view),
         name="operator_tenant_status"),
    path("operator/", include("console.urls")),
    path("metrics", metrics_view, name="metrics"),
    # Campaigns' tracked links ({PUBLIC_BASE_URL}/l/<code>), whichever tenant sent them.
    *link_urlpatterns,
]
