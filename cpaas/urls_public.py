"""URLs served on the public host (``BASE_DOMAIN``): signup, the operator console, the
campaigns' tracked links and, for superusers only, Django's admin. (Provider webhooks are
answered earlier, by ``messaging.webhooks.WebhookMiddleware``.)"""

from django.contrib import admin
from django.urls import include, path

from campaigns.reply_urls import link_urlpatterns
from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    path("operator/admin/", admin.site.urls),
    path("operator/", include("console.urls")),
    # Campaigns' tracked links ({PUBLIC_BASE_URL}/l/<code>), whichever tenant sent them.
    *link_urlpatterns,
]
