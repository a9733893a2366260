"""URLs served on the public host (``BASE_DOMAIN``): signup, the operator console and,
for superusers only, Django's admin. (Provider webhooks are answered earlier, by
``messaging.webhooks.WebhookMiddleware``.)"""

from django.contrib import admin
from django.urls import include, path

from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    path("operator/admin/", admin.site.urls),
    path("operator/", include("console.urls")),
]
