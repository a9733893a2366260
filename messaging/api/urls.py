from django.urls import path

from messaging.api import automation_views, survey_views, views
from optout import api as optout_api

urlpatterns = [
    path("senders", views.SenderListCreate.as_view(), name="api_senders"),
    path("messages", views.MessageListCreate.as_view(), name="api_messages"),
    path("messages/bulk", views.MessageBulkCreate.as_view(), name="api_messages_bulk"),
    path("messages/<int:pk>", views.MessageDetail.as_view(), name="api_message"),
    path("simulator/inbound", views.SimulatorInbound.as_view(), name="api_simulator_inbound"),
    path("optouts", optout_api.OptOutListCreate.as_view(), name="api_optouts"),
    path("optouts/<str:phone>", optout_api.OptOutDelete.as_view(), name="api_optout"),
    path("optout-settings", optout_api.OptOutSettingsView.as_view(),
         name="api_optout_settings"),
    path("keyword-rules", automation_views.KeywordRuleListCreate.as_view(),
         name="api_keyword_rules"),
    path("keyword-rules/<int:pk>", automation_views.KeywordRuleDetail.as_view(),
         name="api_keyword_rule"),
    path("business-hours", automation_views.BusinessHoursView.as_view(),
         name="api_business_hours"),
    path("surveys", survey_views.SurveyListCreate.as_view(), name="api_surveys"),
    path("surveys/<int:pk>", survey_views.SurveyDetail.as_view(), name="api_survey"),
    path("surveys/<int:pk>/start", survey_views.SurveyStart.as_view(), name="api_survey_start"),
    path("surveys/<int:pk>/results", survey_views.SurveyResults.as_view(),
         name="api_survey_results"),
    path("surveys/<int:pk>/results.csv", survey_views.SurveyResultsCsv.as_view(),
         name="api_survey_results_csv"),
]
