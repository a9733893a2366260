"""The opt-out API's routes; ``cpaas.urls_api`` mounts them under /api/v1/."""

from django.urls import path

from optout import api

urlpatterns = [
    path("optouts", api.OptOutListCreate.as_view(), name="api_optouts"),
    path("optouts/imports", api.OptOutImportCreate.as_view(),
         name="api_optout_imports"),
    path("optouts/imports/<int:pk>", api.OptOutImportDetail.as_view(),
         name="api_optout_import"),
    path("optouts/export", api.OptOutExport.as_view(), name="api_optouts_export"),
    path("optouts/<str:phone>/history", api.ConsentHistory.as_view(),
         name="api_consent_history"),
    path("optouts/<str:phone>", api.OptOutDelete.as_view(), name="api_optout"),
    path("optout-settings", api.OptOutSettingsView.as_view(),
         name="api_optout_settings"),
]
