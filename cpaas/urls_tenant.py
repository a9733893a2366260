"""URLs served on a tenant's host (``<slug>.BASE_DOMAIN`` or its own domain)."""

from django.urls import include, path

from accounts import views as account_views
from messaging import views as messaging_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("team/", account_views.team, name="team"),
    path("simulator/", messaging_views.simulator, name="simulator"),
    path("surveys/", messaging_views.survey_list, name="survey_list"),
    path("surveys/<int:survey_id>/", messaging_views.survey_results, name="survey_results"),
    path("surveys/<int:survey_id>/results.csv", messaging_views.survey_results_csv,
         name="survey_results_csv"),
    path(
        "invitations/<int:invitation_id>/<str:token>/",
        account_views.invitation_accept,
        name="invitation_accept",
    ),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("messaging.api.urls")),
]
