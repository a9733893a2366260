"""URLs served on a tenant's host (``<slug>.BASE_DOMAIN`` or its own domain)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import views as account_views
from campaigns import views as campaigns_views
from compat.twilio import pages as twilio_pages
from events import views as events_views
from messaging import dashboard_views, inbox_views, settings_views
from messaging import views as messaging_views
from messaging.api import docs
from optout import views as optout_views

urlpatterns = [
    # The inbox is the home page.
    path("", inbox_views.inbox, name="home"),
    path("inbox/version", inbox_views.inbox_version_view, name="inbox_version"),
    path("inbox/fragments", inbox_views.inbox_fragments, name="inbox_fragments"),
    path("conversations/<int:conversation_id>/reply", inbox_views.reply, name="inbox_reply"),
    path("conversations/<int:conversation_id>/notes", inbox_views.note_add, name="inbox_note"),
    path("conversations/<int:conversation_id>/assign", inbox_views.assign,
         name="inbox_assign"),
    path("conversations/<int:conversation_id>/resolve", inbox_views.resolve,
         name="inbox_resolve"),
    path("conversations/<int:conversation_id>/reopen", inbox_views.reopen,
         name="inbox_reopen"),
    path("contacts/<int:contact_id>/edit", inbox_views.contact_edit, name="inbox_contact"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("team/", account_views.team, name="team"),
    path("settings/", account_views.tenant_settings, name="tenant_settings"),
    path("settings/api-keys/", account_views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:key_id>/revoke/", account_views.api_key_revoke,
         name="api_key_revoke"),
    path("settings/api-keys/twilio/rotate/", twilio_pages.token_rotate,
         name="twilio_token_rotate"),
    path("settings/api-keys/twilio/promote/", twilio_pages.token_promote,
         name="twilio_token_promote"),
    path("settings/api-keys/twilio/keys/", twilio_pages.key_create, name="twilio_key_create"),
    path("settings/api-keys/twilio/keys/<int:twilio_key_id>/revoke/", twilio_pages.key_revoke,
         name="twilio_key_revoke"),
    path("simulator/", messaging_views.simulator, name="simulator"),
    path("optouts/", optout_views.optouts, name="optouts"),
    path("optouts/settings/", optout_views.optout_settings, name="optout_settings"),
    path("optouts/history/", optout_views.optout_history, name="optout_history"),
    path("optouts/remove/", optout_views.optout_remove, name="optout_remove"),
    path("optouts/import/", optout_views.optout_import, name="optout_import"),
    path("optouts/imports/<int:import_id>/", optout_views.optout_import_progress,
         name="optout_import_progress"),
    path("optouts/export.csv", optout_views.optouts_export, name="optouts_export"),
    path("rules/", settings_views.rules, name="rules"),
    path("rules/<int:rule_id>/", settings_views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", settings_views.rule_delete, name="rule_delete"),
    path("canned-responses/", settings_views.canned_responses, name="canned_responses"),
    path("canned-responses/<int:canned_id>/", settings_views.canned_response_edit,
         name="canned_response_edit"),
    path("canned-responses/<int:canned_id>/delete/", settings_views.canned_response_remove,
         name="canned_response_delete"),
    path("senders/", settings_views.senders, name="senders"),
    path("hours/", settings_views.hours, name="hours"),
    path("forwarding/", settings_views.forwarding, name="forwarding"),
    path("forwarding/<int:endpoint_id>/", settings_views.forwarding_attempts,
         name="forwarding_attempts"),
    path("webhooks/", events_views.webhooks, name="webhooks"),
    path("webhooks/<int:subscription_id>/", events_views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:subscription_id>/active/", events_views.webhook_active,
         name="webhook_active"),
    path("webhooks/<int:subscription_id>/test/", events_views.webhook_test,
         name="webhook_test"),
    path("webhooks/<int:subscription_id>/delete/", events_views.webhook_delete,
         name="webhook_delete"),
    path("lists/", campaigns_views.lists, name="lists"),
    path("lists/add-contact/", campaigns_views.list_add_contact, name="list_add_contact"),
    path("lists/<int:list_id>/", campaigns_views.list_detail, name="list_detail"),
    path("lists/<int:list_id>/edit/", campaigns_views.list_edit, name="list_edit"),
    path("lists/<int:list_id>/delete/", campaigns_views.list_remove, name="list_delete"),
    path("lists/<int:list_id>/import/", campaigns_views.list_import, name="list_import"),
    path("lists/<int:list_id>/imports/<int:list_import_id>/",
         campaigns_views.list_import_progress, name="list_import_progress"),
    path("lists/<int:list_id>/export.csv", campaigns_views.list_export, name="list_export"),
    path("lists/<int:list_id>/qr.svg", campaigns_views.list_qr, name="list_qr"),
    path("lists/<int:list_id>/sign/", campaigns_views.list_sign, name="list_sign"),
    path("lists/<int:list_id>/members/<int:member_id>/", campaigns_views.list_member,
         name="list_member"),
    path("lists/<int:list_id>/members/<int:member_id>/remove/",
         campaigns_views.list_member_remove, name="list_member_remove"),
    # Public: the business's customers sign up here, signed in or not.
    path("join/<slug:list_slug>", campaigns_views.join, name="join"),
    path("join/<slug:list_slug>/done", campaigns_views.join_done, name="join_done"),
    path("surveys/", messaging_views.survey_list, name="survey_list"),
    path("surveys/new/", messaging_views.survey_new, name="survey_new"),
    path("surveys/<int:survey_id>/", messaging_views.survey_results, name="survey_results"),
    path("surveys/<int:survey_id>/edit/", messaging_views.survey_edit, name="survey_edit"),
    path("surveys/<int:survey_id>/delete/", messaging_views.survey_remove,
         name="survey_delete"),
    path("surveys/<int:survey_id>/results.csv", messaging_views.survey_results_csv,
         name="survey_results_csv"),
    path(
        "invitations/<int:invitation_id>/<str:token>/",
        account_views.invitation_accept,
        name="invitation_accept",
    ),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("cpaas.urls_api")),
    # CAMARA's ShortMessageService, at the base paths its API files name.
    path("", include("compat.camara.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", docs.SwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/redoc/", docs.RedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("api/redoc/redoc.standalone.js", docs.redoc_bundle, name="api_redoc_bundle"),
]

handler404 = "core.api_errors.not_found"
handler500 = "core.api_errors.server_error"
