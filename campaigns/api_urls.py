"""The subscription lists API's routes; ``cpaas.urls_api`` mounts them under /api/v1/."""

from django.urls import path

from campaigns import api

urlpatterns = [
    path("lists", api.ListListCreate.as_view(), name="api_lists"),
    path("lists/<int:pk>", api.ListDetail.as_view(), name="api_list"),
    path("lists/<int:pk>/subscribers", api.SubscriberListCreate.as_view(),
         name="api_list_subscribers"),
    path("lists/<int:pk>/subscribers/<str:phone>", api.SubscriberDetail.as_view(),
         name="api_list_subscriber"),
    path("lists/<int:pk>/imports", api.ListImportCreate.as_view(), name="api_list_imports"),
    path("lists/<int:pk>/imports/<int:import_id>", api.ListImportDetail.as_view(),
         name="api_list_import"),
]
