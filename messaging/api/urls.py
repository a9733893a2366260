from django.urls import path

from messaging.api import automation_views, views
from optout import api as optout_api

urlpatterns = [
    path("senders", views.SenderListCreate.as_view(), name="api_senders"),
    path("messages", views.MessageListCreate.as_view(), name="api_messages"),
    path("messages/bulk", views.MessageBulkCreate.as_view(), name="api_messages_bulk"),
    path("messages/<int:pk>", views.MessageDetail.as_view(), name="api_message"),
    path("simulator/inbound", views.SimulatorInbound.as_view(), name="api_simulator_inbound"),
    path("optouts", optout_api.OptOutListCreate.as_view(), name="api_optouts"),
    path("optouts/imports", optout_api.OptOutImportCreate.as_view(),
         name="api_optout_imports"),
    path("optouts/imports/<int:pk>", optout_api.OptOutImportDetail.as_view(),
         name="api_optout_import"),
    path("optouts/export", optout_api.OptOutExport.as_view(), name="api_optouts_export"),
    path("optouts/<str:phone>", optout_api.OptOutDelete.as_view(), name="api_optout"),
    path("optout-settings", optout_api.OptOutSettingsView.as_view(),
         name="api_optout_settings"),
    path("keyword-rules", automation_views.KeywordRuleListCreate.as_view(),
         name="api_keyword_rules"),
    path("keyword-rules/<int:pk>", automation_views.KeywordRuleDetail.as_view(),
         name="api_keyword_rule"),
    path("forwarding-endpoints", automation_views.ForwardingEndpointListCreate.as_view(),
         name="api_forwarding_endpoints"),
    path("forwarding-endpoints/<int:pk>", automation_views.ForwardingEndpointDetail.as_view(),
         name="api_forwarding_endpoint"),
    path("forwarding-endpoints/<int:pk>/attempts", automation_views.ForwardAttemptList.as_view(),
         name="api_forward_attempts"),
    path("business-hours", automation_views.BusinessHoursView.as_view(),
         name="api_business_hours"),
]
