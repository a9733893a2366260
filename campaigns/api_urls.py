"""The subscription lists and campaigns API's routes; ``cpaas.urls_api`` mounts them
under /api/v1/."""

from django.urls import path

from campaigns import api, campaign_api

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
    path("campaigns", campaign_api.CampaignListCreate.as_view(), name="api_campaigns"),
    path("campaigns/<int:pk>", campaign_api.CampaignDetail.as_view(), name="api_campaign"),
    path("campaigns/<int:pk>/preview", campaign_api.CampaignPreview.as_view(),
         name="api_campaign_preview"),
    path("campaigns/<int:pk>/start", campaign_api.CampaignStart.as_view(),
         name="api_campaign_start"),
    path("campaigns/<int:pk>/pause", campaign_api.CampaignPause.as_view(),
         name="api_campaign_pause"),
    path("campaigns/<int:pk>/resume", campaign_api.CampaignResume.as_view(),
         name="api_campaign_resume"),
    path("campaigns/<int:pk>/cancel", campaign_api.CampaignCancel.as_view(),
         name="api_campaign_cancel"),
]
