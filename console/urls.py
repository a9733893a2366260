"""The operator console's URLs, mounted at ``/operator/`` on the public host by
``cpaas/urls_public.py``."""

from django.urls import path
from django.views.generic import RedirectView

from console import views

app_name = "console"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:tenants"), name="index"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("tenants/", views.tenants_view, name="tenants"),
    path("tenants/<slug:slug>/", views.tenant_view, name="tenant"),
    path("senders/", views.sender_review_view, name="senders"),
    path("connections/", views.connections_view, name="connections"),
    path("connections/add/", views.connection_edit_view, name="connection_add"),
    path("connections/<int:pk>/", views.connection_edit_view, name="connection"),
    path("connections/<int:pk>/delete/", views.connection_delete_view,
         name="connection_delete"),
    path("routes/", views.routes_view, name="routes"),
    path("routes/add/", views.route_edit_view, name="route_add"),
    path("routes/<slug:name>/", views.route_edit_view, name="route"),
    path("routes/<slug:name>/delete/", views.route_delete_view, name="route_delete"),
    path("audit/", views.audit_view, name="audit"),
]
