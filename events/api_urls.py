"""The event-webhook API's routes; ``cpaas.urls_api`` mounts them under /api/v1/."""

from django.urls import path

from events import api

urlpatterns = [
    path("webhooks", api.WebhookListCreate.as_view(), name="api_webhooks"),
    path("webhooks/<int:pk>", api.WebhookDetail.as_view(), name="api_webhook"),
    path("webhooks/<int:pk>/deliveries", api.WebhookDeliveryList.as_view(),
         name="api_webhook_deliveries"),
    path("webhooks/<int:pk>/test", api.WebhookTest.as_view(), name="api_webhook_test"),
]
