"""URLs served on the public host (``BASE_DOMAIN``): signup and the operator console.
(Provider webhooks are answered earlier, by ``messaging.webhooks.WebhookMiddleware``.)"""

from django.contrib import admin
from django.urls import path

from cpaas.metrics import metrics_view
from tenants import admin as tenant_admin
from tenants import usage_views
from tenants import views as tenant_views

admin.site.site_header = "SMS portal: operator console"
admin.site.site_title = "Operator console"

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    path("operator/senders/", admin.site.admin_view(tenant_admin.sender_review_view),
         name="sender_review"),
    path("operator/usage/", admin.site.admin_view(usage_views.usage_view),
         name="operator_usage"),
    path("operator/usage/export.csv", admin.site.admin_view(usage_views.usage_export_view),
         name="operator_usage_export"),
    path("operator/tenants/<slug:slug>/status",
         admin.site.admin_view(usage_views.tenant_status_view), name="operator_tenant_status"),
    path("metrics", metrics_view, name="metrics"),
    path("operator/", admin.site.urls),
]
