"""The dialect's paths on tenant hosts: CAMARA's base paths, as its API files name them."""

from django.urls import path, re_path

from compat.camara import http, views

SMS = "sms/v0alpha1/"
SUBSCRIPTIONS = "sms-delivery-notification-subscriptions/v0alpha1/"

urlpatterns = [
    path(f"{SMS}short-message", views.ShortMessageSend.as_view(), name="camara_short_message"),
    path(f"{SMS}openapi.json", views.openapi_document, name="camara_openapi"),
    path(f"{SUBSCRIPTIONS}subscriptions", views.SubscriptionListCreate.as_view(),
         name="camara_subscriptions"),
    path(f"{SUBSCRIPTIONS}subscriptions/<str:subscription_uid>",
         views.SubscriptionDetail.as_view(), name="camara_subscription"),
    # Anything else under these paths answers in CAMARA's envelope, not with a page.
    re_path(rf"^(?:{SMS}|{SUBSCRIPTIONS})", http.not_found),
]
