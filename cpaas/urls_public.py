"""URLs served on the public host (``BASE_DOMAIN``): signup, the operator console and the
campaigns' tracked links.
(Provider webhooks are answered earlier, by ``messaging.webhooks.WebhookMiddleware``.)"""

from django.contrib import admin
from django.urls import path

from campaigns.reply_urls import link_urlpatterns
from tenants import admin as tenant_admin
from tenants import views as tenant_views

admin.site.site_header = "SMS portal: operator console"
admin.site.site_title = "Operator console"

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    path("operator/senders/", admin.site.admin_view(tenant_admin.sender_review_view),
         name="sender_review"),
    path("operator/", admin.site.urls),
    # Campaigns' tracked links ({PUBLIC_BASE_URL}/l/<code>), whichever tenant sent them.
    *link_urlpatterns,
]
