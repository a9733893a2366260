"""URLs served on the public host (``BASE_DOMAIN``): signup, the operator console and the
providers' webhooks."""

from django.contrib import admin
from django.urls import path

from messaging import webhooks
from tenants import views as tenant_views

admin.site.site_header = "SMS portal: operator console"
admin.site.site_title = "Operator console"

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    path("operator/", admin.site.urls),
    path("webhooks/<slug:connection_name>/inbound", webhooks.inbound_webhook,
         name="webhook_inbound"),
    path("webhooks/<slug:connection_name>/status", webhooks.status_webhook,
         name="webhook_status"),
]
